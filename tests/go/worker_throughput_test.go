package gotest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/driver"
	"github.com/pgtq/pgtq/worker"
)

// functionCalls counts the worker's calls of the pgtq functions it uses, from pg_stat_user_functions.
type functionCalls struct {
	completeOne, completeMany, read, nextDue int64
}

// trackedWorkerClient turns on function call statistics for the test's database and returns a Client on
// a pool of its own (application_name appName) for the worker, so that its calls can be counted once the
// pool is closed (a backend reports its statistics when it exits).
func (b *workerBundle) trackedWorkerClient(t *testing.T, appName string) (*driver.Client, *pgxpool.Pool) {
	t.Helper()
	var db string
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT current_database()`).Scan(&db))
	_, err := b.pool.Exec(b.ctx, `ALTER DATABASE `+pgx.Identifier{db}.Sanitize()+` SET track_functions = 'pl'`)
	require.NoError(t, err)
	cfg, err := pgxpool.ParseConfig(b.url)
	require.NoError(t, err)
	cfg.ConnConfig.RuntimeParams["application_name"] = appName
	pool, err := pgxpool.NewWithConfig(b.ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	client, err := driver.New(b.ctx, pool)
	require.NoError(t, err)
	return client, pool
}

// calls closes pool, waits until its backends have exited (and so reported their statistics) and returns
// the call counts of the worker's functions.
func (b *workerBundle) calls(t *testing.T, pool *pgxpool.Pool, appName string) functionCalls {
	t.Helper()
	pool.Close()
	waitUntil(t, 10*time.Second, "worker backends gone", func() bool {
		return b.count(t, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND application_name = $1`, appName) == 0
	})
	var c functionCalls
	require.NoError(t, b.pool.QueryRow(b.ctx, `
		SELECT
			coalesce(sum(s.calls) FILTER (WHERE s.funcname = 'complete' AND a NOT LIKE '%[]%'), 0),
			coalesce(sum(s.calls) FILTER (WHERE s.funcname = 'complete' AND a LIKE '%[]%'), 0),
			coalesce(sum(s.calls) FILTER (WHERE s.funcname = 'read'), 0),
			coalesce(sum(s.calls) FILTER (WHERE s.funcname = 'next_due'), 0)
		FROM pg_stat_user_functions s, pg_get_function_identity_arguments(s.funcid) AS a
		WHERE s.schemaname = 'pgtq'`).Scan(&c.completeOne, &c.completeMany, &c.read, &c.nextDue))
	return c
}

// TestWorkerBatchesClaimsAndCompletions drains a backlog with near no-op handlers and checks from the
// database's own call counts that every completion went through the array form of pgtq.complete, several
// tasks per call, and that claims read several tasks each instead of one per finished task. Each handler
// notes the transaction that claimed its task (its row's xmin): claims that committed finished tasks
// with them (an archive row of the same transaction) show that completions ride along with the claims.
func TestWorkerBatchesClaimsAndCompletions(t *testing.T) {
	t.Parallel()
	const tasks, concurrency = 300, 16
	b := setupWorker(t)
	q := b.newQueue(t, false)
	const app = "pgtq-test-batches"
	client, pool := b.trackedWorkerClient(t, app)
	payloads := make([]any, tasks)
	for i := range payloads {
		payloads[i] = numPayload{N: i}
	}
	_, err := b.client.EnqueueBatch(b.ctx, q, payloads, nil)
	require.NoError(t, err)

	var handled atomic.Int64
	var claimMu sync.Mutex
	claimTx := map[string]bool{} // xmin of a claimed task's row: the claim's transaction
	p := worker.NewProcessor(q, func(ctx context.Context, _ numPayload) error {
		handled.Add(1)
		info, _ := worker.TaskFromContext(ctx)
		var xmin string
		if err := b.pool.QueryRow(ctx, `SELECT xmin::text FROM `+table("q", q)+` WHERE msg_id = $1`,
			info.MsgID).Scan(&xmin); err != nil {
			return err
		}
		claimMu.Lock()
		claimTx[xmin] = true
		claimMu.Unlock()
		return nil
	}, nil)
	w, err := worker.New(client, &worker.Options{Processors: []*worker.Processor{p}, ConcurrencyLimit: concurrency,
		Logger: testLogger(t)})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(b.ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	waitUntil(t, 30*time.Second, "backlog drained", func() bool { return b.archived(t, q, "completed") == tasks })
	cancel()
	require.NoError(t, <-done)
	require.EqualValues(t, tasks, handled.Load(), "every task ran once")

	c := b.calls(t, pool, app)
	t.Logf("%d tasks: %d array completes, %d single completes, %d reads, %d next_due", tasks, c.completeMany,
		c.completeOne, c.read, c.nextDue)
	require.Zero(t, c.completeOne, "a completion bypassed the batch path")
	require.Positive(t, c.completeMany)
	require.LessOrEqual(t, c.completeMany, int64(tasks/4), "completions were not batched")
	require.LessOrEqual(t, c.read, int64(tasks/4), "claims were not batched")

	var completing int
	for xmin := range claimTx {
		if b.count(t, `SELECT count(*) FROM `+table("a", q)+` WHERE xmin::text = $1`, xmin) > 0 {
			completing++
		}
	}
	t.Logf("%d claim transactions, %d of them also completed tasks", len(claimTx), completing)
	require.Positive(t, completing, "no claim committed a completion with it")
}

// TestWorkerBusyLooksUpDueTimesSparingly keeps a worker busy with one long task while single tasks arrive
// one by one (each read comes back short) and a delayed task is enqueued. A busy worker must not look up
// the next due time after every short read, yet must still start the delayed task on time (poll 30 s).
func TestWorkerBusyLooksUpDueTimesSparingly(t *testing.T) {
	t.Parallel()
	const singles, delay = 20, 2 * time.Second
	b := setupWorker(t)
	q := b.newQueue(t, false)
	const app = "pgtq-test-due"
	client, pool := b.trackedWorkerClient(t, app)

	release := make(chan struct{})
	started := make(chan time.Time, singles+2)
	p := worker.NewProcessor(q, func(ctx context.Context, in numPayload) error {
		started <- time.Now()
		if in.N < 0 {
			select { // the long task
			case <-release:
			case <-ctx.Done():
			}
		}
		return nil
	}, nil)
	w, err := worker.New(client, &worker.Options{Processors: []*worker.Processor{p}, ConcurrencyLimit: 4,
		PollInterval: 30 * time.Second, Logger: testLogger(t)})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(b.ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	waitReady(t, w)

	b.enqueue(t, q, numPayload{N: -1}, nil)
	awaitStart(t, started, 5*time.Second)
	for i := range singles {
		b.enqueue(t, q, numPayload{N: i}, nil)
		awaitStart(t, started, 5*time.Second)
	}
	before := time.Now()
	b.enqueue(t, q, numPayload{N: 1000}, &driver.EnqueueOptions{Delay: delay})
	at := awaitStart(t, started, 10*time.Second)
	late := at.Sub(before)
	t.Logf("delayed task started %s after enqueue (delay %s) while the worker was busy", late, delay)
	require.GreaterOrEqual(t, late, delay, "started before its delay")
	require.Less(t, late, delay+time.Second, "a busy worker missed the due time of a delayed task")

	close(release)
	waitUntil(t, 10*time.Second, "all completed", func() bool { return b.archived(t, q, "completed") == singles+2 })
	cancel()
	require.NoError(t, <-done)
	c := b.calls(t, pool, app)
	t.Logf("%d short reads while busy: %d reads, %d next_due lookups", singles, c.read, c.nextDue)
	require.GreaterOrEqual(t, c.read, int64(singles), "each single task was claimed by a read of its own")
	// Nearly every read came back short while the long task ran; the old worker looked up after each.
	require.Less(t, c.nextDue, c.read/2, "next_due looked up after (nearly) every short read")
}

// TestWorkerShutdownFlushesCompletions stops a worker the moment its last handler returns: Run must not
// return before that task's completion (batched by the completer) is committed.
func TestWorkerShutdownFlushesCompletions(t *testing.T) {
	t.Parallel()
	const tasks = 200
	b := setupWorker(t)
	q := b.newQueue(t, false)
	payloads := make([]any, tasks)
	for i := range payloads {
		payloads[i] = numPayload{N: i}
	}
	_, err := b.client.EnqueueBatch(b.ctx, q, payloads, nil)
	require.NoError(t, err)
	var handled atomic.Int64
	last := make(chan struct{})
	p := worker.NewProcessor(q, func(context.Context, numPayload) error {
		if handled.Add(1) == tasks {
			close(last)
		}
		return nil
	}, nil)
	_, stop := b.runWorker(t, &worker.Options{Processors: []*worker.Processor{p}, ConcurrencyLimit: 16})
	select {
	case <-last:
	case <-time.After(30 * time.Second):
		t.Fatalf("only %d of %d tasks ran", handled.Load(), tasks)
	}
	stop()
	// No waiting: everything a handler finished is archived by the time Run returned.
	require.EqualValues(t, tasks, b.archived(t, q, "completed"), "completions lost at shutdown")
	require.EqualValues(t, 0, b.queueRows(t, q))
}
