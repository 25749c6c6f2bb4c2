// Command faultworker is a worker binary built by the fault tests (tests/go/worker_faults_test.go): they
// kill it, let it kill itself, and start it on queues that do not exist. It serves the queues named in
// PGTQ_TEST_QUEUES (comma-separated, default "proc") through worker.Main with the default retry options
// (MaxRetries 0, the default lost-lease budget), so it takes Main's flags. Each handler call records its
// start and its return in table worker_runs (created by the test) through its own pool on DATABASE_URL.
//
// PGTQ_TEST_MODE selects what a handler does after recording its start:
//   - "work" (default): waits PGTQ_TEST_WORK_MS milliseconds (default 0), records "done", returns nil;
//   - "suicide": kills its own process with SIGKILL, so that the attempt ends with no recorded outcome.
//
// PGTQ_TEST_TIMEOUT_MS sets the processors' Timeout (default: the worker default), and so their lease.
// With PGTQ_TEST_MIGRATE=1 it first migrates the database with its own embedded SQL (migrate.Up).
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgtq/pgtq/migrate"
	"github.com/pgtq/pgtq/worker"
)

type payload struct {
	N int `json:"n"`
}

func main() {
	pool, err := pgxpool.New(context.Background(), os.Getenv("DATABASE_URL"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "faultworker:", err)
		os.Exit(1)
	}
	if os.Getenv("PGTQ_TEST_MIGRATE") == "1" {
		if err := migrate.Up(context.Background(), pool); err != nil {
			fmt.Fprintln(os.Stderr, "faultworker: migrate:", err)
			os.Exit(1)
		}
	}
	mode := os.Getenv("PGTQ_TEST_MODE")
	work, _ := strconv.Atoi(os.Getenv("PGTQ_TEST_WORK_MS"))
	timeout, _ := strconv.Atoi(os.Getenv("PGTQ_TEST_TIMEOUT_MS"))
	queues := strings.Split(os.Getenv("PGTQ_TEST_QUEUES"), ",")
	if os.Getenv("PGTQ_TEST_QUEUES") == "" {
		queues = []string{"proc"}
	}

	record := func(ctx context.Context, event string) error {
		info, _ := worker.TaskFromContext(ctx)
		_, err := pool.Exec(context.WithoutCancel(ctx), `
			INSERT INTO worker_runs (queue, msg_id, task_id, attempt, pid, event)
			VALUES ($1, $2, $3, $4, $5, $6)`,
			info.Queue, info.MsgID, info.TaskID, info.Attempt, os.Getpid(), event)
		return err
	}
	handler := func(ctx context.Context, _ payload) error {
		if err := record(ctx, "start"); err != nil {
			return err
		}
		if mode == "suicide" {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal ends the process
		}
		select {
		case <-time.After(time.Duration(work) * time.Millisecond): // simulated work
		case <-ctx.Done():
			return ctx.Err()
		}
		return record(ctx, "done")
	}
	var procs []*worker.Processor
	for _, q := range queues {
		procs = append(procs, worker.NewProcessor(q, handler, &worker.ProcessorOptions{
			Timeout: time.Duration(timeout) * time.Millisecond,
		}))
	}
	worker.Main(procs...)
}
