// Command testworker is a worker binary built by the worker process and fault tests
// (tests/go/worker_process_test.go, worker_faults_test.go): they start it, signal it and kill it, let it kill
// itself, and start it on queues that do not exist. It serves the queues named in PGTQ_TEST_QUEUES (comma-separated,
// default "proc") through worker.Main, so it takes Main's flags. Each handler call records its start and
// its end in table worker_runs (created by the test) through its own pool on DATABASE_URL.
//
// PGTQ_TEST_MODE selects what a handler does after recording its start:
//   - "work" (default): waits PGTQ_TEST_WORK_MS milliseconds (default 0), records "done", returns nil;
//   - "block": waits until its ctx ends, then returns the ctx's error without recording "done";
//   - "suicide": kills its own process with SIGKILL, so that the attempt ends with no recorded outcome.
//
// PGTQ_TEST_TIMEOUT_MS sets the processors' Timeout (default: the worker default), and so their lease;
// PGTQ_TEST_MAX_RETRIES their MaxRetries (default 5; the fault tests use the worker default, 0). With PGTQ_TEST_MIGRATE=1
// it first migrates the database with its own embedded SQL (migrate.Up), as an application would at start-up;
// the tests use it so that the binary and the database agree even while the SQL files are being edited.
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
		fmt.Fprintln(os.Stderr, "testworker:", err)
		os.Exit(1)
	}
	if os.Getenv("PGTQ_TEST_MIGRATE") == "1" {
		if err := migrate.Up(context.Background(), pool); err != nil {
			fmt.Fprintln(os.Stderr, "testworker: migrate:", err)
			os.Exit(1)
		}
	}
	mode := os.Getenv("PGTQ_TEST_MODE")
	work, _ := strconv.Atoi(os.Getenv("PGTQ_TEST_WORK_MS"))
	timeout, _ := strconv.Atoi(os.Getenv("PGTQ_TEST_TIMEOUT_MS"))
	maxRetries := 5
	if s := os.Getenv("PGTQ_TEST_MAX_RETRIES"); s != "" {
		maxRetries, _ = strconv.Atoi(s)
	}
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
		switch mode {
		case "block":
			<-ctx.Done()
			return ctx.Err()
		case "suicide":
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
			Timeout:    time.Duration(timeout) * time.Millisecond,
			MaxRetries: maxRetries,
		}))
	}
	worker.Main(procs...)
}
