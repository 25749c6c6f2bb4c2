package gotest

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/driver"
	"github.com/pgtq/pgtq/internal/pgcluster"
	"github.com/pgtq/pgtq/migrate"
	"github.com/pgtq/pgtq/worker"
)

// handlerLog records, per task, how often its handler started and when it last returned nil.
type handlerLog struct {
	mu       sync.Mutex
	starts   map[int64]int
	returned map[int64]time.Time
}

func newHandlerLog() *handlerLog {
	return &handlerLog{starts: map[int64]int{}, returned: map[int64]time.Time{}}
}

func (h *handlerLog) start(ctx context.Context) {
	info, _ := worker.TaskFromContext(ctx)
	h.mu.Lock()
	h.starts[info.MsgID]++
	h.mu.Unlock()
}

func (h *handlerLog) done(ctx context.Context) {
	info, _ := worker.TaskFromContext(ctx)
	h.mu.Lock()
	h.returned[info.MsgID] = time.Now()
	h.mu.Unlock()
}

func (h *handlerLog) numReturned() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.returned)
}

// returnedBefore returns the tasks whose handler returned before t.
func (h *handlerLog) returnedBefore(t time.Time) []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	var ids []int64
	for id, at := range h.returned {
		if at.Before(t) {
			ids = append(ids, id)
		}
	}
	return ids
}

func (h *handlerLog) startsOf(id int64) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.starts[id]
}

// TestWorkerCompleteSurvivesBackendKill terminates (pg_terminate_backend) the connection that carries a
// completion batch while the batch runs: the worker retries it, so every task completes once, well before
// its lease ends, and no handler runs twice. (The old worker dropped the batch: its tasks ran again after
// their lease.)
func TestWorkerCompleteSurvivesBackendKill(t *testing.T) {
	t.Parallel()
	b := setupWorker(t)
	q := b.newQueue(t, false)
	const n = 20
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = b.enqueue(t, q, numPayload{N: i}, nil)
	}
	hl := newHandlerLog()
	proceed := make(chan struct{})
	p := worker.NewProcessor(q, func(ctx context.Context, _ numPayload) error {
		hl.start(ctx)
		<-proceed
		hl.done(ctx)
		return nil
	}, &worker.ProcessorOptions{Timeout: 2 * time.Second}) // leases of 7 s
	logs := newLogRecorder(t)
	_, stop := b.runWorker(t, &worker.Options{Processors: []*worker.Processor{p}, ConcurrencyLimit: n,
		Logger: logs.logger()})
	waitUntil(t, 10*time.Second, "all tasks running", func() bool {
		return b.count(t, `SELECT count(*) FROM `+table("q", q)+` WHERE read_ct = 1`) == n
	})

	// Lock one task's row so that the completion batch that carries it waits while the test finds it.
	tx, err := b.pool.Begin(b.ctx)
	require.NoError(t, err)
	defer tx.Rollback(b.ctx) //nolint:errcheck // ended below
	_, err = tx.Exec(b.ctx, `SELECT 1 FROM `+table("q", q)+` WHERE msg_id = $1 FOR UPDATE`, ids[n-1])
	require.NoError(t, err)
	close(proceed)
	var pid int32
	waitUntil(t, 10*time.Second, "a completion batch waiting on the lock", func() bool {
		err := b.pool.QueryRow(b.ctx, `
			SELECT pid FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'
			  AND wait_event_type = 'Lock' AND query LIKE 'SELECT id FROM pgtq.complete(%'`).Scan(&pid)
		return err == nil
	})
	faultAt := time.Now()
	var killed bool
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT pg_terminate_backend($1)`, pid).Scan(&killed))
	require.True(t, killed)
	require.NoError(t, tx.Rollback(b.ctx))

	// Well within the 7 s leases: only a retried completion can archive the tasks of the killed batch.
	waitUntil(t, 4*time.Second, "every task completed", func() bool { return b.archived(t, q, "completed") == n })
	stop()
	require.Len(t, hl.returnedBefore(faultAt), n)
	for _, id := range ids {
		require.Equal(t, 1, hl.startsOf(id), "msg %d", id)
	}
	require.EqualValues(t, n, b.count(t, `SELECT count(DISTINCT msg_id) FROM `+table("a", q)))
	require.Equal(t, 1, logs.count(slog.LevelWarn, "pgtq: complete failed; retrying"))
	require.Zero(t, logs.count(slog.LevelWarn, "pgtq: lease lost"))
}

// TestWorkerSurvivesServerRestart crashes the server (pg_ctl restart -m immediate) while a completion batch
// runs: after the restart the worker retries it, so no task whose handler had returned before the crash runs
// again, and every task completes once. The test runs its own server, since it crashes it.
func TestWorkerSurvivesServerRestart(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	settings := maps.Clone(pgcluster.TestSettings)
	// A commit must survive the crash (the OS stays up, so fsync can stay off).
	settings["synchronous_commit"] = "on"
	cluster, err := pgcluster.Start(ctx, &pgcluster.Options{Settings: settings})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cluster.Stop() })
	pool, err := pgxpool.New(ctx, cluster.URL("postgres"))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	require.NoError(t, migrate.Up(ctx, pool))
	client, err := driver.New(ctx, pool)
	require.NoError(t, err)
	const q, n = "restart_q", 20
	require.NoError(t, client.CreateQueue(ctx, q, nil))
	payloads := make([]any, n)
	for i := range payloads {
		payloads[i] = numPayload{N: i}
	}
	ids, err := client.EnqueueBatch(ctx, q, payloads, nil)
	require.NoError(t, err)

	hl := newHandlerLog()
	proceed := make(chan struct{})
	p := worker.NewProcessor(q, func(ctx context.Context, _ numPayload) error {
		hl.start(ctx)
		<-proceed
		hl.done(ctx)
		return nil
	}, &worker.ProcessorOptions{Timeout: 2 * time.Second}) // leases of 7 s
	w, err := worker.New(client, &worker.Options{Processors: []*worker.Processor{p}, ConcurrencyLimit: n,
		PollInterval: 200 * time.Millisecond, PollExceptionInterval: 100 * time.Millisecond, Logger: testLogger(t)})
	require.NoError(t, err)
	runCtx, cancelRun := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	var runErr error
	stop := sync.OnceFunc(func() {
		cancelRun()
		runErr = <-done
	})
	t.Cleanup(stop)
	count := func(sql string) int64 {
		var c int64
		if err := pool.QueryRow(ctx, sql).Scan(&c); err != nil {
			return -1 // the pool reconnects after the crash
		}
		return c
	}
	waitUntil(t, 10*time.Second, "all tasks running", func() bool {
		return count(`SELECT count(*) FROM pgmq.q_restart_q WHERE read_ct = 1`) == n
	})

	// Lock one task's row so that the completion batch that carries it is running when the server crashes.
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck // the crash ends it
	_, err = tx.Exec(ctx, `SELECT 1 FROM pgmq.q_restart_q WHERE msg_id = $1 FOR UPDATE`, ids[n-1])
	require.NoError(t, err)
	close(proceed)
	waitUntil(t, 10*time.Second, "a completion batch waiting on the lock", func() bool {
		return count(`SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND wait_event_type = 'Lock'
			AND query LIKE 'SELECT id FROM pgtq.complete(%'`) == 1
	})
	faultAt := time.Now()
	pgCtl(t, cluster, "-m", "immediate", "-w", "-t", "60", "-l", filepath.Join(cluster.Dir(), "server.log"), "restart")
	require.Len(t, hl.returnedBefore(faultAt), n)

	// Within the 7 s leases (the crash and the restart took part of them): only a retried completion can
	// archive the tasks of the crashed batch before their lease ends.
	waitUntil(t, 30*time.Second, "every task completed", func() bool {
		return count(`SELECT count(*) FROM pgmq.a_restart_q WHERE headers->>'x-pgtq-status' = 'completed'`) == n
	})
	for _, id := range ids {
		require.Equal(t, 1, hl.startsOf(id), "msg %d returned before the crash and ran again", id)
	}
	require.EqualValues(t, n, count(`SELECT count(DISTINCT msg_id) FROM pgmq.a_restart_q`))
	stop()
	require.NoError(t, runErr)
}

// pgCtl runs the cluster's pg_ctl with args on its data directory, as the server's OS user.
func pgCtl(t *testing.T, c *pgcluster.Cluster, args ...string) {
	t.Helper()
	bin := os.Getenv(pgcluster.BinDirEnv)
	if bin == "" {
		dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
		sort.Slice(dirs, func(i, j int) bool {
			vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
			vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
			return vi > vj
		})
		for _, d := range dirs {
			if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
				bin = d
				break
			}
		}
	}
	if bin == "" {
		t.Skip("no pg_ctl found; set " + pgcluster.BinDirEnv)
	}
	cmd := exec.Command(filepath.Join(bin, "pg_ctl"), append([]string{"-D", filepath.Join(c.Dir(), "data")}, args...)...)
	cmd.Dir = c.Dir()
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		require.NoError(t, err)
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	cmd.WaitDelay = 5 * time.Second // pg_ctl's server keeps inherited descriptors; do not wait for them
	out, err := cmd.CombinedOutput()
	if errors.Is(err, exec.ErrWaitDelay) {
		err = nil
	}
	require.NoError(t, err, "pg_ctl %v: %s", args, out)
}

// TestWorkerCompleteTxRecognised lets the handler complete its own task with CompleteTx inside its
// transaction: the worker sends no completion of its own and logs no "lease lost".
func TestWorkerCompleteTxRecognised(t *testing.T) {
	t.Parallel()
	b := setupWorker(t)
	q := b.newQueue(t, false)
	_, err := b.pool.Exec(b.ctx, `CREATE TABLE side_effects (msg_id bigint PRIMARY KEY)`)
	require.NoError(t, err)
	const n = 5
	p := worker.NewProcessor(q, func(ctx context.Context, _ numPayload) error {
		info, _ := worker.TaskFromContext(ctx)
		tx, err := b.pool.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx) //nolint:errcheck // after Commit it does nothing
		if _, err := tx.Exec(ctx, `INSERT INTO side_effects VALUES ($1)`, info.MsgID); err != nil {
			return err
		}
		ok, err := b.client.CompleteTx(ctx, tx, info.Queue, info.MsgID, info.Attempt)
		if err != nil || !ok {
			return errors.Join(err, errors.New("CompleteTx: lease lost"))
		}
		return tx.Commit(ctx)
	}, nil)
	logs := newLogRecorder(t)
	_, stop := b.runWorker(t, &worker.Options{Processors: []*worker.Processor{p}, ConcurrencyLimit: 2,
		Logger: logs.logger()})
	for i := range n {
		b.enqueue(t, q, numPayload{N: i}, nil)
	}
	waitUntil(t, 10*time.Second, "tasks completed", func() bool { return b.archived(t, q, "completed") == n })
	stop()
	require.Empty(t, logs.atLeast(slog.LevelWarn), "no warning (the old worker warned \"lease lost\")")
	require.EqualValues(t, n, b.count(t, `SELECT count(*) FROM side_effects`))
	require.EqualValues(t, n, b.archiveRows(t, q), "archived once each")
	require.EqualValues(t, 0, b.queueRows(t, q))
}

// TestWorkerMissingQueue starts a worker for queues that do not exist: Run fails before Ready with
// driver.ErrQueueNotFound naming each; with CreateMissingQueues it creates them and serves them.
func TestWorkerMissingQueue(t *testing.T) {
	t.Parallel()
	b := setupWorker(t)
	existing := b.newQueue(t, false)
	noop := func(context.Context, numPayload) error { return nil }
	procs := []*worker.Processor{
		worker.NewProcessor(existing, noop, nil),
		worker.NewProcessor("wrk_missing_one", noop, nil),
		worker.NewProcessor("wrk_missing_two", noop, nil),
	}
	w, err := worker.New(b.client, &worker.Options{Processors: procs, Logger: testLogger(t)})
	require.NoError(t, err)
	err = w.Run(b.ctx)
	require.ErrorIs(t, err, driver.ErrQueueNotFound)
	require.ErrorContains(t, err, `"wrk_missing_one", "wrk_missing_two"`)
	require.NotContains(t, err.Error(), existing)
	select {
	case <-w.Ready():
		t.Fatal("Ready closed although Run failed")
	default:
	}

	w, _ = b.runWorker(t, &worker.Options{Processors: []*worker.Processor{worker.NewProcessor("wrk_missing_one", noop, nil)},
		CreateMissingQueues: true})
	waitReady(t, w)
	b.enqueue(t, "wrk_missing_one", numPayload{}, nil)
	waitUntil(t, 10*time.Second, "task completed", func() bool { return b.archived(t, "wrk_missing_one", "completed") == 1 })
	require.EqualValues(t, 0, b.queueRows(t, "wrk_missing_one_dlq"), "created with its DLQ")
}

// TestWorkerTaskInfoBudgets checks TaskInfo's split of the attempts: one recorded failure and one lost
// lease before the third attempt.
func TestWorkerTaskInfoBudgets(t *testing.T) {
	t.Parallel()
	b := setupWorker(t)
	q := b.newQueue(t, false)
	id := b.enqueue(t, q, numPayload{}, nil)
	tk := b.readOne(t, q, nil)
	out, err := b.client.Fail(b.ctx, q, id, tk.Attempt, "boom", &driver.FailOptions{MaxRetries: 5})
	require.NoError(t, err)
	require.Equal(t, driver.FailRetrying, out)
	b.readOne(t, q, nil)
	b.makeVisible(t, q, id) // the second attempt's lease expires with no outcome

	infos := make(chan worker.TaskInfo, 1)
	p := worker.NewProcessor(q, func(ctx context.Context, _ numPayload) error {
		info, _ := worker.TaskFromContext(ctx)
		infos <- info
		return nil
	}, nil)
	b.runWorker(t, &worker.Options{Processors: []*worker.Processor{p}})
	select {
	case info := <-infos:
		require.Equal(t, 3, info.Attempt)
		require.Equal(t, 1, info.Failures)
		require.Equal(t, 1, info.LostLeases)
	case <-time.After(10 * time.Second):
		t.Fatal("task did not run")
	}
}

// TestWorkerFailSurvivesBackendKill terminates the connection that records a failure (pgtq.fail) while it
// runs: the worker records it again, so the task is dead-lettered once, with one failure, well before its
// lease ends. (The old worker dropped the failure: the task ran again after its lease.)
func TestWorkerFailSurvivesBackendKill(t *testing.T) {
	t.Parallel()
	b := setupWorker(t)
	q := b.newQueue(t, false)
	id := b.enqueue(t, q, numPayload{}, nil)
	hl := newHandlerLog()
	proceed := make(chan struct{})
	p := worker.NewProcessor(q, func(ctx context.Context, _ numPayload) error {
		hl.start(ctx)
		<-proceed
		return errors.New("boom")
	}, &worker.ProcessorOptions{Timeout: 2 * time.Second}) // lease of 7 s, no retry
	logs := newLogRecorder(t)
	_, stop := b.runWorker(t, &worker.Options{Processors: []*worker.Processor{p}, Logger: logs.logger()})
	waitUntil(t, 10*time.Second, "task running", func() bool { return hl.startsOf(id) == 1 })

	tx, err := b.pool.Begin(b.ctx)
	require.NoError(t, err)
	defer tx.Rollback(b.ctx) //nolint:errcheck // ended below
	_, err = tx.Exec(b.ctx, `SELECT 1 FROM `+table("q", q)+` WHERE msg_id = $1 FOR UPDATE`, id)
	require.NoError(t, err)
	close(proceed)
	var pid int32
	waitUntil(t, 10*time.Second, "pgtq.fail waiting on the lock", func() bool {
		err := b.pool.QueryRow(b.ctx, `
			SELECT pid FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'
			  AND wait_event_type = 'Lock' AND query LIKE '%pgtq.fail(%'`).Scan(&pid)
		return err == nil
	})
	var killed bool
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT pg_terminate_backend($1)`, pid).Scan(&killed))
	require.True(t, killed)
	require.NoError(t, tx.Rollback(b.ctx))

	waitUntil(t, 4*time.Second, "task dead-lettered", func() bool { return b.archived(t, q, "dead_lettered") == 1 })
	stop()
	require.Equal(t, 1, hl.startsOf(id))
	var errs int
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT jsonb_array_length(headers->'x-pgtq-errors') FROM `+
		table("q", q+"_dlq")).Scan(&errs))
	require.Equal(t, 1, errs, "one failure recorded")
	require.Equal(t, 1, logs.count(slog.LevelWarn, "pgtq: recording failure failed; retrying"))
}
