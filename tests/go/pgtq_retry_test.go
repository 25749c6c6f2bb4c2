package gotest

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// TestPgtqRetryToDeadLetterAndReschedule drives one task through every failure path from Go: max_retries 2 gives
// attempts 1, 2, 3 on one msg_id and then the DLQ; the DLQ entry and the archived original have the documented
// shape; reschedule brings it back with the same task_id and a fresh attempt budget.
func TestPgtqRetryToDeadLetterAndReschedule(t *testing.T) {
	t.Parallel()
	ctx, f := tqNewFixture(t)
	const queue = "retry"
	tqCreateQueue(ctx, t, f.pool, queue, true)
	var id int64
	require.NoError(t, f.pool.QueryRow(ctx,
		`SELECT pgtq.enqueue(queue_name => $1, payload => '{"to": "x@y"}', group_key => 'mail',
		    headers => '{"trace": "t1"}')`, queue).Scan(&id))

	var taskID string
	for attempt := int32(1); attempt <= 3; attempt++ {
		// retry_delay 0: the retry is visible at once (a delay of decades would make this read come back empty).
		got := tqMustRead(ctx, t, f.pool, queue, 1, 60, tqReadOpts{grouped: true})
		require.Len(t, got, 1, "attempt %d", attempt)
		require.Equal(t, id, got[0].MsgID, "a retry keeps its msg_id")
		require.Equal(t, attempt, got[0].Attempt)
		if taskID == "" {
			taskID = got[0].TaskID
		}
		require.Equal(t, taskID, got[0].TaskID)
		outcome, err := tqFail(ctx, f.pool, queue, id, attempt, "smtp down", true, 2, 0)
		require.NoError(t, err)
		if attempt < 3 {
			require.Equal(t, "retrying", outcome, "attempt %d of 3", attempt)
		} else {
			require.Equal(t, "dead_lettered", outcome, "attempt 3 of 3")
		}
	}
	require.Zero(t, tqCount(ctx, t, f.pool, `SELECT count(*) FROM pgmq.q_retry`))

	// The archived original points at its DLQ entry.
	var archived map[string]any
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT headers FROM pgmq.a_retry WHERE msg_id = $1`, id).Scan(&archived))
	require.Equal(t, "dead_lettered", archived["x-pgtq-status"])
	dlqRef, isNumber := archived["x-pgtq-dlq"].(float64)
	require.True(t, isNumber, "x-pgtq-dlq is the DLQ msg_id (a number), got %v", archived["x-pgtq-dlq"])
	dlqID := int64(dlqRef)
	require.Len(t, archived["x-pgtq-errors"], 3)

	// The DLQ entry: body {msg_id, queue_name, message, errors}, headers = original's + x-pgtq-original.
	var body struct {
		MsgID     int64           `json:"msg_id"`
		QueueName string          `json:"queue_name"`
		Message   json.RawMessage `json:"message"`
		Errors    []string        `json:"errors"` // the seed's format: error strings
	}
	var dlqHeaders map[string]any
	require.Equal(t, int64(1), tqCount(ctx, t, f.pool, `SELECT count(*) FROM pgmq.q_retry_dlq`), "one DLQ entry")
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT message, headers FROM pgmq.q_retry_dlq WHERE msg_id = $1`, dlqID).
		Scan(&body, &dlqHeaders))
	require.Equal(t, id, body.MsgID)
	require.Equal(t, queue, body.QueueName)
	require.JSONEq(t, `{"to": "x@y"}`, string(body.Message))
	require.Equal(t, []string{"smtp down", "smtp down", "smtp down"}, body.Errors)
	var errorLog []struct {
		Attempt int32  `json:"attempt"`
		Error   string `json:"error"`
		At      string `json:"at"`
		Kind    string `json:"kind"`
	}
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT headers->'x-pgtq-error-log' FROM pgmq.q_retry_dlq WHERE msg_id = $1`, dlqID).
		Scan(&errorLog))
	require.Len(t, errorLog, 3)
	for i, e := range errorLog {
		require.Equal(t, int32(i+1), e.Attempt)
		require.Equal(t, "failure", e.Kind)
		require.Equal(t, "smtp down", e.Error)
		var at time.Time
		require.NoError(t, f.pool.QueryRow(ctx, `SELECT $1::timestamptz`, e.At).Scan(&at), "errors[%d].at", i)
		require.WithinDuration(t, time.Now(), at, time.Minute)
	}
	require.Equal(t, float64(id), dlqHeaders["x-pgtq-original"])
	require.Equal(t, taskID, dlqHeaders["x-pgtq-task-id"])
	require.Equal(t, "mail", dlqHeaders["x-pgmq-group"])
	require.Equal(t, "t1", dlqHeaders["trace"])

	// Reschedule: a new task with the same payload, group, task_id and headers, and a fresh attempt budget.
	var newID int64
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT pgtq.reschedule(queue_name => $1, dlq_msg_id => $2)`, queue, dlqID).
		Scan(&newID))
	require.NotEqual(t, id, newID)
	var dlqArchived map[string]any
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT headers FROM pgmq.a_retry_dlq WHERE msg_id = $1`, dlqID).
		Scan(&dlqArchived))
	require.Equal(t, "rescheduled", dlqArchived["x-pgtq-status"])
	require.Equal(t, float64(newID), dlqArchived["x-pgtq-retry"])
	require.Zero(t, tqCount(ctx, t, f.pool, `SELECT count(*) FROM pgmq.q_retry_dlq`))

	got := tqMustRead(ctx, t, f.pool, queue, 1, 60, tqReadOpts{grouped: true})
	require.Len(t, got, 1)
	require.Equal(t, newID, got[0].MsgID)
	require.Equal(t, int32(1), got[0].Attempt, "fresh attempt budget")
	require.Equal(t, taskID, got[0].TaskID, "task_id survives reschedule")
	require.Equal(t, "mail", got[0].group())
	require.JSONEq(t, `{"to": "x@y"}`, string(got[0].Payload))
	require.Equal(t, "t1", got[0].Headers["trace"])
	require.Equal(t, float64(id), got[0].Headers["x-pgtq-original"])
	ok, err := tqComplete(ctx, f.pool, queue, newID, 1)
	require.NoError(t, err)
	require.True(t, ok)
}

// TestPgtqRetryDelayAndNonRetryable checks that retry_delay is seconds from now (not an epoch), that a
// non-retryable failure dead-letters at once, and that without a DLQ the final failure is archived as failed.
func TestPgtqRetryDelayAndNonRetryable(t *testing.T) {
	t.Parallel()
	ctx, f := tqNewFixture(t)
	tqCreateQueue(ctx, t, f.pool, "delayq", true)
	tqCreateQueue(ctx, t, f.pool, "nodlq", false)

	id := tqMustEnqueue(ctx, t, f.pool, "delayq", map[string]any{"n": 1}, nil)
	got := tqMustRead(ctx, t, f.pool, "delayq", 1, 60, tqReadOpts{})
	require.Len(t, got, 1)
	before := time.Now()
	outcome, err := tqFail(ctx, f.pool, "delayq", id, 1, "later", true, 5, 30)
	require.NoError(t, err)
	require.Equal(t, "retrying", outcome)
	var vt time.Time
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT vt FROM pgmq.q_delayq WHERE msg_id = $1`, id).Scan(&vt))
	require.WithinDuration(t, before.Add(30*time.Second), vt, 5*time.Second, "retry waits retry_delay seconds from now")
	require.Empty(t, tqMustRead(ctx, t, f.pool, "delayq", 1, 60, tqReadOpts{}))

	id2 := tqMustEnqueue(ctx, t, f.pool, "delayq", map[string]any{"n": 2}, nil)
	got = tqMustRead(ctx, t, f.pool, "delayq", 1, 60, tqReadOpts{})
	require.Len(t, got, 1)
	require.Equal(t, id2, got[0].MsgID)
	outcome, err = tqFail(ctx, f.pool, "delayq", id2, 1, "bad input", false, 5, 0)
	require.NoError(t, err)
	require.Equal(t, "dead_lettered", outcome, "non-retryable goes to the DLQ at once")
	require.Equal(t, int64(1), tqCount(ctx, t, f.pool, `SELECT count(*) FROM pgmq.q_delayq_dlq`))

	id3 := tqMustEnqueue(ctx, t, f.pool, "nodlq", map[string]any{"n": 3}, nil)
	got = tqMustRead(ctx, t, f.pool, "nodlq", 1, 60, tqReadOpts{})
	require.Len(t, got, 1)
	outcome, err = tqFail(ctx, f.pool, "nodlq", id3, 1, "final", true, 0, 0)
	require.NoError(t, err)
	require.Equal(t, "failed", outcome, "max_retries 0 without a DLQ")
	require.Equal(t, int64(1), tqCount(ctx, t, f.pool,
		`SELECT count(*) FROM pgmq.a_nodlq WHERE msg_id = $1 AND headers->>'x-pgtq-status' = 'failed'`, id3))
}

// TestPgtqReadMaxAttemptsDeadLetters lets leases expire until max_attempts is reached: the next read
// dead-letters the task instead of delivering it.
func TestPgtqReadMaxAttemptsDeadLetters(t *testing.T) {
	t.Parallel()
	ctx, f := tqNewFixture(t)
	const queue = "maxatt"
	tqCreateQueue(ctx, t, f.pool, queue, true)
	id := tqMustEnqueue(ctx, t, f.pool, queue, map[string]any{"n": 1}, nil)
	opts := tqReadOpts{maxAttempts: tqPtr(int32(2))}
	for attempt := int32(1); attempt <= 2; attempt++ {
		var got []tqTask
		waitUntil(t, 10*time.Second, "the retry to fall due", func() bool {
			got = tqMustRead(ctx, t, f.pool, queue, 1, 1, opts)
			return len(got) > 0
		})
		require.Equal(t, id, got[0].MsgID)
		require.Equal(t, attempt, got[0].Attempt)
	}
	// The third lease would exceed max_attempts: once visible, the task is dead-lettered, not delivered.
	waitUntil(t, 10*time.Second, "the task past max_attempts to leave the queue", func() bool {
		require.Empty(t, tqMustRead(ctx, t, f.pool, queue, 1, 1, opts))
		return tqCount(ctx, t, f.pool, `SELECT count(*) FROM pgmq.q_maxatt`) == 0
	})
	require.Equal(t, int64(1), tqCount(ctx, t, f.pool, `SELECT count(*) FROM pgmq.q_maxatt_dlq`))
	require.Equal(t, "dead_lettered", func() string {
		var s string
		require.NoError(t, f.pool.QueryRow(ctx, `SELECT headers->>'x-pgtq-status' FROM pgmq.a_maxatt WHERE msg_id = $1`, id).Scan(&s))
		return s
	}())
}

// TestPgtqMaxAttemptsRacingReaders lets 8 readers race over tasks whose leases keep expiring: with max_attempts
// 2 each task is delivered as attempt 1 and 2 only, then dead-lettered exactly once (one DLQ entry per task).
func TestPgtqMaxAttemptsRacingReaders(t *testing.T) {
	t.Parallel()
	ctx, f := tqNewFixture(t)
	const queue, tasks = "expiring", 24
	tqQueueWithTasks(ctx, t, f.pool, queue, tasks)

	conns := f.connectN(ctx, t, tqRacers)
	gate := tqNewGate(tqRacers)
	var (
		mu         sync.Mutex
		deliveries = map[int64][]int32{}
		errs       tqErrCollector
		wg         sync.WaitGroup
	)
	for _, conn := range conns {
		wg.Add(1)
		go func(conn *pgx.Conn) {
			defer wg.Done()
			gate.arrive()
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for {
				// Never completes: every lease (1 s) runs out.
				got, err := tqReadTasks(ctx, conn, queue, 5, 1, tqReadOpts{maxAttempts: tqPtr(int32(2))})
				if err != nil {
					errs.add(err)
					return
				}
				mu.Lock()
				for _, tk := range got {
					deliveries[tk.MsgID] = append(deliveries[tk.MsgID], tk.Attempt)
				}
				mu.Unlock()
				if len(got) > 0 {
					continue
				}
				var left int64
				if err := conn.QueryRow(ctx, `SELECT count(*) FROM pgmq.q_expiring`).Scan(&left); err != nil {
					errs.add(err)
					return
				}
				if left == 0 {
					return
				}
				// Poll until a lease has run out.
				select {
				case <-tick.C:
				case <-ctx.Done():
					errs.add(ctx.Err())
					return
				}
			}
		}(conn)
	}
	wg.Wait()
	errs.requireNone(t)

	require.Len(t, deliveries, tasks)
	for id, attempts := range deliveries {
		require.Equal(t, []int32{1, 2}, attempts, "msg_id %d: delivered as attempts 1 and 2 only", id)
	}
	require.Equal(t, int64(tasks), tqCount(ctx, t, f.pool, `SELECT count(*) FROM pgmq.q_expiring_dlq`))
	require.Equal(t, int64(tasks), tqCount(ctx, t, f.pool,
		`SELECT count(DISTINCT (message->>'msg_id')::bigint) FROM pgmq.q_expiring_dlq`), "one DLQ entry per task")
	require.Equal(t, int64(tasks), tqCount(ctx, t, f.pool,
		`SELECT count(*) FROM pgmq.a_expiring WHERE headers->>'x-pgtq-status' = 'dead_lettered'`))
}
