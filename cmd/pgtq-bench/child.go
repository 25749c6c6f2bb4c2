package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// childArgName is the first argument that turns pgtq-bench into a worker child process. Scenarios run
// their workers as separate processes so that the worker's peak RSS can be measured on its own and so
// that "2 worker processes" really are two processes.
const childArgName = "worker-child"

// childOptions configure one worker child process.
type childOptions struct {
	URL         string
	Queue       string
	Engine      string
	Concurrency int
	Conns       int
	Lease       int
	Grouped     bool
	LIFO        bool
	Limit       int
	CheckGroups bool
	RecordAfter int64
	CPUProfile  string
}

func (o childOptions) args() []string {
	return []string{
		childArgName,
		"-url", o.URL, "-queue", o.Queue, "-engine", o.Engine,
		"-concurrency", fmt.Sprint(o.Concurrency), "-conns", fmt.Sprint(o.Conns),
		"-lease", fmt.Sprint(o.Lease), "-grouped=" + fmt.Sprint(o.Grouped), "-lifo=" + fmt.Sprint(o.LIFO),
		"-limit", fmt.Sprint(o.Limit), "-check-groups=" + fmt.Sprint(o.CheckGroups),
		"-record-after", fmt.Sprint(o.RecordAfter), "-cpuprofile", o.CPUProfile,
	}
}

// childEngines run the worker side of a scenario until ctx ends, calling rec.handle for every task.
var childEngines = map[string]func(ctx context.Context, o childOptions, rec *recorder) error{
	"sql": runSQLEngine,
}

// progressPeriod is how often a worker child reports the tasks it handled.
const progressPeriod = 5 * time.Millisecond

// childMain is the worker child: it works the queue until SIGTERM/SIGINT, writing progress lines to
// stdout every 50 ms and one final report after a clean shutdown.
func childMain(args []string) int {
	var o childOptions
	fs := flag.NewFlagSet(childArgName, flag.ContinueOnError)
	fs.StringVar(&o.URL, "url", "", "database URL")
	fs.StringVar(&o.Queue, "queue", "", "queue name")
	fs.StringVar(&o.Engine, "engine", "sql", "worker engine")
	fs.IntVar(&o.Concurrency, "concurrency", 64, "task slots")
	fs.IntVar(&o.Conns, "conns", 4, "database connections")
	fs.IntVar(&o.Lease, "lease", 60, "lease seconds")
	fs.BoolVar(&o.Grouped, "grouped", false, "grouped reads")
	fs.BoolVar(&o.LIFO, "lifo", false, "LIFO reads")
	fs.IntVar(&o.Limit, "limit", 0, "queue concurrency limit (0 = none)")
	fs.BoolVar(&o.CheckGroups, "check-groups", false, "check group order and overlap")
	fs.Int64Var(&o.RecordAfter, "record-after", 0, "record latency of tasks enqueued after this unix-nano time")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the worker to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	run, ok := childEngines[o.Engine]
	if !ok {
		fmt.Fprintf(os.Stderr, "pgtq-bench worker: unknown engine %q\n", o.Engine)
		return 2
	}
	if o.CPUProfile != "" {
		f, err := os.Create(o.CPUProfile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "pgtq-bench worker: %v\n", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(os.Stderr, "pgtq-bench worker: start cpu profile: %v\n", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	rec := newRecorder(o.CheckGroups, o.LIFO, o.RecordAfter)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	enc := json.NewEncoder(os.Stdout)
	var encMu sync.Mutex
	write := func(r childReport) {
		encMu.Lock()
		defer encMu.Unlock()
		_ = enc.Encode(r)
	}
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		// Often: the continuous producers pace themselves on these lines, so their period bounds how
		// fast a small backlog can be refilled (at 50 ms it capped the scenario near 5k tasks/s).
		tick := time.NewTicker(progressPeriod)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				write(rec.report(false))
			}
		}
	}()
	err := run(ctx, o, rec)
	stop()
	<-progressDone
	final := rec.report(true)
	if err != nil && !errors.Is(err, context.Canceled) {
		final.Error = err.Error()
	}
	write(final)
	if final.Error != "" {
		return 1
	}
	return 0
}

// runSQLEngine is the reference worker: it calls pgtq.read and the array form of pgtq.complete directly
// through pgx, with Conns loops each claiming up to Concurrency/Conns tasks per read. It shows the cost of
// the SQL alone, without the Go worker package.
func runSQLEngine(ctx context.Context, o childOptions, rec *recorder) error {
	cfg, err := pgxpool.ParseConfig(o.URL)
	if err != nil {
		return fmt.Errorf("parse database url: %w", err)
	}
	loops := max(1, min(o.Concurrency, o.Conns))
	cfg.MaxConns = int32(loops)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer pool.Close()
	batch := (o.Concurrency + loops - 1) / loops
	var limit any
	if o.Limit > 0 {
		limit = o.Limit
	}
	errc := make(chan error, loops)
	for range loops {
		go func() {
			errc <- sqlLoop(ctx, pool, o, batch, limit, rec)
		}()
	}
	var first error
	for range loops {
		if err := <-errc; err != nil && first == nil && ctx.Err() == nil {
			first = err
		}
	}
	return first
}

func sqlLoop(ctx context.Context, pool *pgxpool.Pool, o childOptions, batch int, limit any, rec *recorder) error {
	idle := time.Millisecond
	ids := make([]int64, 0, batch)
	attempts := make([]int32, 0, batch)
	for ctx.Err() == nil {
		ids, attempts = ids[:0], attempts[:0]
		rows, err := pool.Query(ctx,
			`SELECT msg_id, attempt, payload::text FROM pgtq.read($1, $2, $3, $4, $5, $6)`,
			o.Queue, batch, o.Lease, o.LIFO, o.Grouped, limit)
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		for rows.Next() {
			var id int64
			var attempt int32
			var payload string
			if err := rows.Scan(&id, &attempt, &payload); err != nil {
				rows.Close()
				return fmt.Errorf("scan task: %w", err)
			}
			if err := rec.handle([]byte(payload)); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
			attempts = append(attempts, attempt)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if len(ids) == 0 {
			// Idle: poll again soon. This engine measures the SQL, so it polls instead of listening.
			select {
			case <-ctx.Done():
			case <-time.After(idle):
			}
			idle = min(2*idle, 5*time.Millisecond)
			continue
		}
		idle = time.Millisecond
		// Completing uses a fresh context so that a shutdown never leaves handled tasks unacknowledged.
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err = pool.Exec(cctx, `SELECT pgtq.complete($1, $2::bigint[], $3::integer[])`, o.Queue, ids, attempts)
		cancel()
		if err != nil {
			return fmt.Errorf("complete %d tasks: %w", len(ids), err)
		}
	}
	return nil
}
