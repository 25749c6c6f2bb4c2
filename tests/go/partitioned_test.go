package gotest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/driver"
	"github.com/pgtq/pgtq/worker"
)

// setupPartman is setupWorker on a database that also has pg_partman (in schema partman); the test skips
// where the server has no pg_partman (scripts/deps.sh installs postgresql-15-partman).
func setupPartman(t *testing.T) *workerBundle {
	t.Helper()
	b := setupWorker(t)
	var available bool
	require.NoError(t, b.pool.QueryRow(b.ctx,
		`SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_available_extensions WHERE name = 'pg_partman')`).Scan(&available))
	if !available {
		t.Skip("pg_partman is not available on this server (install postgresql-15-partman)")
	}
	_, err := b.pool.Exec(b.ctx, `CREATE SCHEMA partman; CREATE EXTENSION pg_partman SCHEMA partman`)
	require.NoError(t, err)
	return b
}

// TestPartitionedQueuesUnderAWorker: queues made with pgmq.create_partitioned (by msg_id and by time) are
// registered by driver.CreateQueue and worked by a worker: grouped FIFO, LIFO, retries, the DLQ and a
// reschedule, with every task done once.
func TestPartitionedQueuesUnderAWorker(t *testing.T) {
	t.Parallel()
	b := setupPartman(t)
	_, err := b.pool.Exec(b.ctx, `SELECT pgmq.create_partitioned('part_id', '50', '100000'),
		pgmq.create_partitioned('part_time', '1 day', '30 days')`)
	require.NoError(t, err)

	type job struct {
		N    int  `json:"n"`
		Fail bool `json:"fail"`
	}
	var (
		mu   sync.Mutex
		runs = map[string]map[int]int{}
		busy = map[string]int{} // queue/group -> tasks running now
	)
	var processors []*worker.Processor
	for _, q := range []string{"part_id", "part_time"} {
		require.NoError(t, b.client.CreateQueue(b.ctx, q, nil))
		runs[q] = map[int]int{}
		processors = append(processors, worker.NewProcessor(q, func(ctx context.Context, j job) error {
			info, _ := worker.TaskFromContext(ctx)
			key := q + "/" + info.GroupKey
			mu.Lock()
			runs[q][j.N]++
			busy[key]++
			twice := busy[key] > 1
			mu.Unlock()
			time.Sleep(time.Millisecond) // widen the window in which a second task of the group could start
			mu.Lock()
			busy[key]--
			mu.Unlock()
			if twice {
				return worker.NonRetryable(fmt.Errorf("two tasks of group %s at once", key))
			}
			if j.Fail {
				return errors.New("boom")
			}
			return nil
		}, &worker.ProcessorOptions{MaxRetries: 1, Grouped: true, LIFO: q == "part_time"}))
	}
	_, stop := b.runWorker(t, &worker.Options{Processors: processors, ConcurrencyLimit: 8, PollInterval: 50 * time.Millisecond})

	const n = 120 // more than two partitions of part_id
	for _, q := range []string{"part_id", "part_time"} {
		for i := 1; i <= n; i++ {
			b.enqueue(t, q, job{N: i, Fail: i%40 == 0}, &driver.EnqueueOptions{Group: fmt.Sprintf("g%d", i%20)})
		}
	}
	waitUntil(t, 30*time.Second, "all tasks done", func() bool {
		return b.archived(t, "part_id", "completed")+b.archived(t, "part_id", "dead_lettered") == n &&
			b.archived(t, "part_time", "completed")+b.archived(t, "part_time", "dead_lettered") == n
	})
	for _, q := range []string{"part_id", "part_time"} {
		require.EqualValues(t, n-3, b.archived(t, q, "completed"), q)
		require.EqualValues(t, 3, b.archived(t, q, "dead_lettered"), q)
		mu.Lock()
		for i := 1; i <= n; i++ {
			want := 1
			if i%40 == 0 {
				want = 2
			}
			require.Equal(t, want, runs[q][i], "%s task %d", q, i)
		}
		mu.Unlock()
	}
	require.Greater(t, b.count(t, `SELECT count(*) FROM pg_catalog.pg_partition_tree('pgmq.a_part_id') WHERE isleaf`), int64(3))

	// The DLQ entries go back into the partitioned queue, run with a fresh budget (and fail again: same payload)
	// and come back to the DLQ.
	entries, err := b.client.ListDLQ(b.ctx, "part_id", 10)
	require.NoError(t, err)
	require.Len(t, entries, 3)
	for _, e := range entries {
		require.Equal(t, []driver.TaskError{{Attempt: 1, Error: "boom", Kind: "failure"}, {Attempt: 2, Error: "boom", Kind: "failure"}},
			stripAt(e.Errors))
		_, err := b.client.Reschedule(b.ctx, "part_id", e.MsgID)
		require.NoError(t, err)
	}
	waitUntil(t, 20*time.Second, "rescheduled tasks dead-lettered again", func() bool {
		return b.archived(t, "part_id", "dead_lettered") == 6
	})
	stop()
	mu.Lock()
	require.Equal(t, []int{4, 4, 4}, []int{runs["part_id"][40], runs["part_id"][80], runs["part_id"][120]})
	mu.Unlock()
	info, err := b.client.QueueInfo(b.ctx, "part_id")
	require.NoError(t, err)
	require.EqualValues(t, 3, info.DLQ)
}

func stripAt(errs []driver.TaskError) []driver.TaskError {
	out := make([]driver.TaskError, len(errs))
	for i, e := range errs {
		e.At = time.Time{}
		out[i] = e
	}
	return out
}

// TestPartitionedDedupe: a dedupe key on a partitioned queue (no unique index possible there) is enforced by
// pgtq._insert_task's advisory lock: 8 connections racing with one key create one task; outside READ
// COMMITTED it is refused with PQ003.
func TestPartitionedDedupe(t *testing.T) {
	t.Parallel()
	b := setupPartman(t)
	_, err := b.pool.Exec(b.ctx, `SELECT pgmq.create_partitioned('part_dd', '1 day'), pgtq.create_queue('part_dd')`)
	require.NoError(t, err)

	conns := connectN(b.ctx, t, b.url, 8)
	for round := 0; round < 5; round++ {
		key := fmt.Sprintf("key-%d", round)
		gate := tqNewGate(len(conns))
		ids := make([]int64, len(conns))
		var errs tqErrCollector
		var wg sync.WaitGroup
		for i, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				gate.arrive()
				id, err := tqEnqueue(b.ctx, c, "part_dd", map[string]int{"i": i}, nil, &key)
				errs.add(err)
				ids[i] = id
			}()
		}
		wg.Wait()
		errs.requireNone(t)
		for _, id := range ids {
			require.Equal(t, ids[0], id, "round %d: every enqueue returns the one task", round)
		}
		require.EqualValues(t, 1, b.count(t, `SELECT count(*) FROM pgmq.q_part_dd WHERE headers->>'x-pgtq-dedupe-key' = $1`, key))
	}

	tx, err := b.pool.BeginTx(b.ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	require.NoError(t, err)
	defer tx.Rollback(b.ctx)
	_, err = b.client.EnqueueTx(b.ctx, tx, "part_dd", map[string]int{"rr": 1}, &driver.EnqueueOptions{DedupeKey: "rr"})
	require.ErrorIs(t, err, driver.ErrInvalidArgument)
	require.ErrorContains(t, err, "READ COMMITTED")
}

// TestPartitionedPrune: driver.Prune on a time-partitioned archive drops whole partitions older than the age
// and deletes the rows of the partition that straddles it; the count covers both.
func TestPartitionedPrune(t *testing.T) {
	t.Parallel()
	b := setupPartman(t)
	_, err := b.pool.Exec(b.ctx, `SELECT pgmq.create_partitioned('part_pr', '1 day', '30 days', 4), pgtq.create_queue('part_pr')`)
	require.NoError(t, err)
	_, err = b.pool.Exec(b.ctx, `
		INSERT INTO pgmq.a_part_pr (msg_id, vt, archived_at, message)
		SELECT i, now(), now() - interval '4 days' + (i + 30) * interval '1 s', '{}' FROM generate_series(0, 3 * 86400, 60) i`)
	require.NoError(t, err)
	total := b.count(t, `SELECT count(*) FROM pgmq.a_part_pr`)
	older := b.count(t, `SELECT count(*) FROM pgmq.a_part_pr WHERE archived_at < now() - interval '36 hours'`)
	leaves := b.count(t, `SELECT count(*) FROM pg_catalog.pg_partition_tree('pgmq.a_part_pr') WHERE isleaf`)

	deleted, err := b.client.Prune(b.ctx, "part_pr", 36*time.Hour, 100)
	require.NoError(t, err)
	require.Equal(t, older, deleted)
	require.Equal(t, total-older, b.count(t, `SELECT count(*) FROM pgmq.a_part_pr`))
	require.Zero(t, b.count(t, `SELECT count(*) FROM pgmq.a_part_pr WHERE archived_at < now() - interval '36 hours'`))
	require.Less(t, b.count(t, `SELECT count(*) FROM pg_catalog.pg_partition_tree('pgmq.a_part_pr') WHERE isleaf`), leaves,
		"whole partitions were dropped")
}

// TestPartitionedPruneWhileTheArchiveIsBusy: when the archive's lock is not granted within 2 s (a long reader
// holds it), prune deletes the old partitions' rows instead of dropping them, and counts the same.
func TestPartitionedPruneWhileTheArchiveIsBusy(t *testing.T) {
	t.Parallel()
	b := setupPartman(t)
	_, err := b.pool.Exec(b.ctx, `SELECT pgmq.create_partitioned('part_busy', '1 day', '30 days', 4), pgtq.create_queue('part_busy')`)
	require.NoError(t, err)
	_, err = b.pool.Exec(b.ctx, `
		INSERT INTO pgmq.a_part_busy (msg_id, vt, archived_at, message)
		SELECT i, now(), now() - interval '4 days' + (i + 30) * interval '1 s', '{}' FROM generate_series(0, 3 * 86400, 600) i`)
	require.NoError(t, err)
	older := b.count(t, `SELECT count(*) FROM pgmq.a_part_busy WHERE archived_at < now() - interval '36 hours'`)
	leaves := b.count(t, `SELECT count(*) FROM pg_catalog.pg_partition_tree('pgmq.a_part_busy') WHERE isleaf`)

	reader, err := b.pool.Begin(b.ctx)
	require.NoError(t, err)
	defer reader.Rollback(b.ctx)
	_, err = reader.Exec(b.ctx, `SELECT count(*) FROM pgmq.a_part_busy`)
	require.NoError(t, err)

	start := time.Now()
	deleted, err := b.client.Prune(b.ctx, "part_busy", 36*time.Hour, 100)
	require.NoError(t, err)
	require.GreaterOrEqual(t, time.Since(start), 2*time.Second, "prune waited for the lock")
	require.Equal(t, older, deleted)
	require.Zero(t, b.count(t, `SELECT count(*) FROM pgmq.a_part_busy WHERE archived_at < now() - interval '36 hours'`))
	require.Equal(t, leaves, b.count(t, `SELECT count(*) FROM pg_catalog.pg_partition_tree('pgmq.a_part_busy') WHERE isleaf`),
		"no partition was dropped")
	require.NoError(t, reader.Rollback(b.ctx))
}
