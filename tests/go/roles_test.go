package gotest

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/driver"
	"github.com/pgtq/pgtq/internal/pgtest"
	"github.com/pgtq/pgtq/worker"
)

// roleBundle is a migrated database with one login role per pgtq group role, each with its own Client; the
// superuser pool checks what happened.
type roleBundle struct {
	ctx                     context.Context
	super                   *pgxpool.Pool
	producer, worker, admin *driver.Client
	producerURL, workerURL  string
}

// setupRoles makes the database and the three login roles (members of pgtq_producer, pgtq_worker and
// pgtq_admin only) and opens a Client as each: driver.New must work for all of them.
func setupRoles(t *testing.T) *roleBundle {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), workerTestTimeout)
	t.Cleanup(cancel)
	url := pgtest.NewDBURL(t)
	b := &roleBundle{ctx: ctx}
	b.super = openPool(t, ctx, url)
	client := func(group string) (*driver.Client, string) {
		roleURL := pgtest.NewRoleURL(t, url, group)
		c, err := driver.New(ctx, openPool(t, ctx, roleURL))
		require.NoError(t, err, "driver.New as a member of %s", group)
		return c, roleURL
	}
	b.producer, b.producerURL = client("pgtq_producer")
	b.worker, b.workerURL = client("pgtq_worker")
	b.admin, _ = client("pgtq_admin")
	return b
}

// openPool opens a pool on url that is closed when the test ends (before the role behind url is dropped).
func openPool(t *testing.T, ctx context.Context, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// requireDenied asserts that err is PostgreSQL's permission error (42501).
func requireDenied(t *testing.T, err error, what string) {
	t.Helper()
	var pgErr *pgconn.PgError
	require.True(t, errors.As(err, &pgErr), "%s: want a permission error, got %v", what, err)
	require.Equal(t, "42501", pgErr.Code, "%s: %v", what, err)
}

func (b *roleBundle) count(t *testing.T, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	require.NoError(t, b.super.QueryRow(b.ctx, sql, args...).Scan(&n))
	return n
}

// TestRolesEndToEnd runs the paths users take as login roles that are only members of the pgtq roles: the
// admin creates queues and steers retention, the producer enqueues (and nothing else), a worker pool runs as
// the worker role, and each role is refused what is not its job.
func TestRolesEndToEnd(t *testing.T) {
	t.Parallel()
	b := setupRoles(t)
	ctx := b.ctx

	// Admin: queue management.
	require.NoError(t, b.admin.CreateQueue(ctx, "jobs", nil))

	// Producer: enqueue into a registered queue; nothing else.
	for i := 0; i < 20; i++ {
		_, err := b.producer.Enqueue(ctx, "jobs", map[string]any{"n": i}, nil)
		require.NoError(t, err)
	}
	_, err := b.producer.Read(ctx, "jobs", 1, time.Minute, nil)
	requireDenied(t, err, "producer read")
	requireDenied(t, b.producer.CreateQueue(ctx, "mine", nil), "producer create_queue")
	_, err = b.producer.Stats(ctx, "jobs")
	requireDenied(t, err, "producer stats")

	// A producer cannot make pgtq register a plain pgmq queue (and build indexes and a trigger on it).
	_, err = b.super.Exec(ctx, `SELECT pgmq.create('plain')`)
	require.NoError(t, err)
	_, err = b.producer.Enqueue(ctx, "plain", map[string]any{"p": 1}, nil)
	require.ErrorIs(t, err, driver.ErrQueueNotFound)
	require.Equal(t, int64(2), b.count(t, `SELECT count(*) FROM pg_index WHERE indrelid = 'pgmq.q_plain'::regclass`),
		"only pgmq's own indexes on the plain queue")
	require.Equal(t, int64(0), b.count(t, `SELECT count(*) FROM pgtq.queues WHERE queue_name = 'plain'`))

	// Worker: a worker pool as the worker role processes every task.
	p := worker.NewProcessor("jobs", func(context.Context, map[string]any) error { return nil }, nil)
	// No pruner: this test calls prune_due itself below, and a pruner cancelled at shutdown leaves its statement
	// (and its lock on the queue's row) running on the server until it ends, so that call could find the run taken.
	w, err := worker.New(b.worker, &worker.Options{Processors: []*worker.Processor{p}, Logger: testLogger(t),
		PruneInterval: worker.PruneDisabled})
	require.NoError(t, err)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	waitUntil(t, 30*time.Second, "20 tasks completed by the worker role", func() bool {
		return b.count(t, `SELECT count(*) FROM pgmq.a_jobs WHERE headers->>'x-pgtq-status' = 'completed'`) == 20
	})
	stop()
	require.NoError(t, <-done)

	// The worker may not administer.
	_, err = b.worker.DropQueue(ctx, "jobs")
	requireDenied(t, err, "worker drop_queue")
	_, err = b.worker.Prune(ctx, "jobs", 0, 0)
	requireDenied(t, err, "worker prune")
	requireDenied(t, b.worker.SetRetention(ctx, "jobs", 0), "worker set_retention")

	// Worker pruning cannot go below the queue's retention (7 days by default) ...
	deleted, ran, err := b.worker.PruneDue(ctx, "jobs", 0, 0, 0)
	require.NoError(t, err)
	require.True(t, ran)
	require.Zero(t, deleted, "prune_due with older_than 0 must not delete archived rows younger than the retention")
	require.Equal(t, int64(20), b.count(t, `SELECT count(*) FROM pgmq.a_jobs`))
	// ... which only an admin lowers.
	require.NoError(t, b.admin.SetRetention(ctx, "jobs", 0))
	deleted, ran, err = b.worker.PruneDue(ctx, "jobs", 0, 0, 0)
	require.NoError(t, err)
	require.True(t, ran)
	require.Equal(t, int64(20), deleted)

	// Admin: stats, and the DLQ of a live queue cannot be dropped on its own.
	st, err := b.admin.Stats(ctx, "jobs")
	require.NoError(t, err)
	require.Zero(t, st.Queued)
	_, err = b.admin.DropQueue(ctx, "jobs_dlq")
	require.ErrorIs(t, err, driver.ErrInvalidArgument)
	require.ErrorContains(t, err, `dead-letter queue of task queue 'jobs'`)
	dropped, err := b.admin.DropQueue(ctx, "jobs")
	require.NoError(t, err)
	require.True(t, dropped)
	require.Equal(t, int64(0), b.count(t, `SELECT count(*) FROM pgmq.meta WHERE queue_name IN ('jobs', 'jobs_dlq')`))
}

// TestRolesWorkerRegistersSeedQueue: a plain pgmq queue (the seed's way) is registered by the worker role's
// first read, after which producers may enqueue into it.
func TestRolesWorkerRegistersSeedQueue(t *testing.T) {
	t.Parallel()
	b := setupRoles(t)
	ctx := b.ctx
	_, err := b.super.Exec(ctx, `SELECT pgmq.create('seed'), pgmq.create('seed_dlq'), pgmq.send('seed', '{"s":1}')`)
	require.NoError(t, err)
	tasks, err := b.worker.Read(ctx, "seed", 5, time.Minute, nil)
	require.NoError(t, err)
	require.Len(t, tasks, 1)
	_, err = b.producer.Enqueue(ctx, "seed", map[string]any{"s": 2}, nil)
	require.NoError(t, err)
	require.Equal(t, int64(1), b.count(t, `SELECT count(*) FROM pgtq.queues WHERE queue_name = 'seed' AND dlq_name = 'seed_dlq'`))
}

// TestRolesWorkerMain runs a worker binary (worker.Main through metrics.Main) connected as a login role that
// is only a member of pgtq_worker: it starts, processes what a producer role enqueued, and stops cleanly.
func TestRolesWorkerMain(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "metricsworker")
	out, err := exec.Command("go", "build", "-o", bin, "./internal/metricsworker").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	t.Parallel()
	b := setupRoles(t)
	require.NoError(t, b.admin.CreateQueue(b.ctx, "mainq", nil))
	p := startTestWorker(t, bin, b.workerURL, map[string]string{"PGTQ_TEST_QUEUE": "mainq"}, "--poll-interval-seconds", "30s")
	for i := 0; i < 5; i++ {
		_, err := b.producer.Enqueue(b.ctx, "mainq", map[string]any{"n": i}, nil)
		require.NoError(t, err)
	}
	p.waitUntil(t, 30*time.Second, "5 tasks completed by worker.Main as the worker role", func() bool {
		return b.count(t, `SELECT count(*) FROM pgmq.a_mainq WHERE headers->>'x-pgtq-status' = 'completed'`) == 5
	})
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, 0, p.wait(t, 20*time.Second), "stderr: %s", p.stderr.String())
}
