package gotest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// tqFillArchives completes done tasks and dead-letters then reschedules dead ones of queue, so that both the
// queue's archive and its DLQ's archive hold rows, and returns how many rows the two archives gained.
func tqFillArchives(ctx context.Context, t *testing.T, q tqQuerier, queue string, done, dead int) int64 {
	t.Helper()
	for i := range done + dead {
		tqMustEnqueue(ctx, t, q, queue, map[string]any{"i": i}, nil)
	}
	for i, tk := range tqMustRead(ctx, t, q, queue, int32(done+dead), 60, tqReadOpts{}) {
		if i < dead {
			outcome, err := tqFail(ctx, q, queue, tk.MsgID, tk.Attempt, "fatal", false, 0, 0)
			require.NoError(t, err)
			require.Equal(t, "dead_lettered", outcome)
			continue
		}
		ok, err := tqComplete(ctx, q, queue, tk.MsgID, tk.Attempt)
		require.NoError(t, err)
		require.True(t, ok)
	}
	// Rescheduling archives the DLQ entries (DLQ archive); completing the new tasks adds to the queue archive.
	rows, err := q.Query(ctx, fmt.Sprintf(`SELECT msg_id FROM pgmq.%s`, pgx.Identifier{"q_" + queue + "_dlq"}.Sanitize()))
	require.NoError(t, err)
	dlqIDs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	require.NoError(t, err)
	require.Len(t, dlqIDs, dead)
	for _, id := range dlqIDs {
		_, err := q.Exec(ctx, `SELECT pgtq.reschedule(queue_name => $1, dlq_msg_id => $2)`, queue, id)
		require.NoError(t, err)
	}
	again := tqMustRead(ctx, t, q, queue, int32(dead)+1, 60, tqReadOpts{})
	require.Len(t, again, dead, "the rescheduled tasks")
	for _, tk := range again {
		ok, err := tqComplete(ctx, q, queue, tk.MsgID, tk.Attempt)
		require.NoError(t, err)
		require.True(t, ok)
	}
	// done + dead rows in the queue archive, dead in the DLQ archive, dead more in the queue archive.
	return int64(done + 3*dead)
}

// TestPgtqPruneDueRunsOncePerInterval races 4 connections on the fleet-coordinated pgtq.prune_due: exactly one
// of them prunes (every old row of both archives, in batches, each once), the others return NULL, and one run
// is recorded in pgtq.queues.last_pruned_at.
func TestPgtqPruneDueRunsOncePerInterval(t *testing.T) {
	t.Parallel()
	ctx, f := tqNewFixture(t)
	const queue, callers = "pruned", 4
	tqCreateQueue(ctx, t, f.pool, queue, true)
	// prune_due never prunes below the queue's retention: allow a day.
	_, err := f.pool.Exec(ctx, `SELECT pgtq.set_retention($1, interval '1 day')`, queue)
	require.NoError(t, err)
	old := tqFillArchives(ctx, t, f.pool, queue, 60, 8)
	_, err = f.pool.Exec(ctx, `
		UPDATE pgmq.a_pruned SET archived_at = archived_at - interval '2 days';
		UPDATE pgmq.a_pruned_dlq SET archived_at = archived_at - interval '2 days';`)
	require.NoError(t, err)
	fresh := tqFillArchives(ctx, t, f.pool, queue, 5, 1)
	require.Equal(t, old+fresh, tqCount(ctx, t, f.pool,
		`SELECT (SELECT count(*) FROM pgmq.a_pruned) + (SELECT count(*) FROM pgmq.a_pruned_dlq)`))

	results := tqRacePrune(ctx, t, f, callers,
		`SELECT pgtq.prune_due(queue_name => $1, older_than => interval '1 day', batch_size => 7, every => interval '1 hour')`,
		queue)
	var ran int
	for _, r := range results {
		if r != nil {
			ran++
			require.Equal(t, old, *r, "the run deletes every old row once")
		}
	}
	require.Equal(t, 1, ran, "exactly one caller runs the prune: %v", results)
	require.Zero(t, tqCount(ctx, t, f.pool, `SELECT count(*) FROM pgmq.a_pruned WHERE archived_at < now() - interval '1 day'`))
	require.Zero(t, tqCount(ctx, t, f.pool, `SELECT count(*) FROM pgmq.a_pruned_dlq WHERE archived_at < now() - interval '1 day'`))
	require.Equal(t, fresh, tqCount(ctx, t, f.pool,
		`SELECT (SELECT count(*) FROM pgmq.a_pruned) + (SELECT count(*) FROM pgmq.a_pruned_dlq)`), "young rows kept")
	var lastPruned time.Time
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT last_pruned_at FROM pgtq.queues WHERE queue_name = $1`, queue).
		Scan(&lastPruned))
	require.WithinDuration(t, time.Now(), lastPruned, time.Minute, "the run is recorded")

	// Within the interval nobody runs again.
	var again *int64
	require.NoError(t, f.pool.QueryRow(ctx,
		`SELECT pgtq.prune_due(queue_name => $1, older_than => interval '0', batch_size => 7, every => interval '1 hour')`,
		queue).Scan(&again))
	require.Nil(t, again)
}

// TestPgtqPruneConcurrentCallsDeleteEachRowOnce races 4 plain pgtq.prune calls with a small batch: together they
// delete every old row exactly once (the counts they return add up to the rows that were there).
func TestPgtqPruneConcurrentCallsDeleteEachRowOnce(t *testing.T) {
	t.Parallel()
	ctx, f := tqNewFixture(t)
	const queue, callers = "pruned", 4
	tqCreateQueue(ctx, t, f.pool, queue, true)
	total := tqFillArchives(ctx, t, f.pool, queue, 120, 8)

	results := tqRacePrune(ctx, t, f, callers,
		`SELECT pgtq.prune(queue_name => $1, older_than => interval '0', batch_size => 5)`, queue)
	var sum int64
	for _, r := range results {
		require.NotNil(t, r)
		sum += *r
	}
	require.Equal(t, total, sum, "returned counts add up to the rows deleted: %v", results)
	require.Zero(t, tqCount(ctx, t, f.pool,
		`SELECT (SELECT count(*) FROM pgmq.a_pruned) + (SELECT count(*) FROM pgmq.a_pruned_dlq)`))
}

// tqRacePrune runs sql (one bigint result, NULL allowed) on n dedicated connections released together.
func tqRacePrune(ctx context.Context, t *testing.T, f tqFixture, n int, sql string, args ...any) []*int64 {
	t.Helper()
	conns := f.connectN(ctx, t, n)
	g := tqNewGate(n)
	results := make([]*int64, n)
	var errs tqErrCollector
	var wg sync.WaitGroup
	for i, conn := range conns {
		wg.Add(1)
		go func(i int, conn *pgx.Conn) {
			defer wg.Done()
			g.arrive()
			errs.add(conn.QueryRow(ctx, sql, args...).Scan(&results[i]))
		}(i, conn)
	}
	wg.Wait()
	errs.requireNone(t)
	return results
}
