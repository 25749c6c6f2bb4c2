package gotest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/driver"
)

// deadLetter enqueues a task and fails it for good; it returns the original msg_id and the task.
func (b *driverBundle) deadLetter(t *testing.T, queue string, payload any, opts *driver.EnqueueOptions) (int64, driver.Task) {
	t.Helper()
	id := b.enqueue(t, queue, payload, opts)
	tk := b.readOne(t, queue, nil)
	require.Equal(t, id, tk.MsgID)
	out, err := b.client.Fail(b.ctx, queue, tk.MsgID, tk.Attempt, "fatal", nil)
	require.NoError(t, err)
	require.Equal(t, driver.FailDeadLettered, out)
	return id, tk
}

func TestDriverReschedule(t *testing.T) {
	t.Parallel()
	b := setupDriver(t)
	queue := b.newQueue(t, false)
	origID, orig := b.deadLetter(t, queue, map[string]any{"order": 42},
		&driver.EnqueueOptions{Group: "cust", Headers: map[string]any{"trace": "t-1"}})

	entries, err := b.client.ListDLQ(b.ctx, queue, 10)
	require.NoError(t, err)
	require.Len(t, entries, 1)

	newID, err := b.client.Reschedule(b.ctx, queue, entries[0].MsgID)
	require.NoError(t, err)
	require.NotEqual(t, origID, newID)

	entries, err = b.client.ListDLQ(b.ctx, queue, 10)
	require.NoError(t, err)
	require.Empty(t, entries, "the DLQ entry is archived")

	tk := b.readOne(t, queue, nil)
	require.Equal(t, newID, tk.MsgID)
	require.Equal(t, 1, tk.Attempt, "fresh attempt budget")
	require.Equal(t, orig.TaskID, tk.TaskID, "task id survives reschedule")
	require.Equal(t, "cust", tk.GroupKey)
	require.Equal(t, "t-1", tk.Headers["trace"])
	require.EqualValues(t, origID, tk.Headers["x-pgtq-original"])
	require.JSONEq(t, `{"order": 42}`, string(tk.Payload))

	_, err = b.client.Reschedule(b.ctx, queue, 1<<40) // no such DLQ message
	require.ErrorIs(t, err, driver.ErrMessageNotFound)
}

func TestDriverListDLQLimit(t *testing.T) {
	t.Parallel()
	b := setupDriver(t)
	queue := b.newQueue(t, false)
	var ids []int64
	for i := range 3 {
		id, _ := b.deadLetter(t, queue, map[string]any{"i": i}, nil)
		ids = append(ids, id)
	}
	entries, err := b.client.ListDLQ(b.ctx, queue, 2)
	require.NoError(t, err)
	require.Len(t, entries, 2)
	require.Equal(t, ids[0], entries[0].OriginalMsgID, "oldest first")
	require.Equal(t, ids[1], entries[1].OriginalMsgID)

	_, err = b.client.ListDLQ(b.ctx, "no_such_queue", 2)
	require.ErrorIs(t, err, driver.ErrQueueNotFound)
}

func TestDriverPrune(t *testing.T) {
	t.Parallel()
	b := setupDriver(t)
	queue := b.newQueue(t, false)

	// Two completed tasks and one dead-lettered one: archive rows in the queue and in its DLQ.
	for i := range 2 {
		b.enqueue(t, queue, map[string]any{"i": i}, nil)
		tk := b.readOne(t, queue, nil)
		ok, err := b.client.Complete(b.ctx, queue, tk.MsgID, tk.Attempt)
		require.NoError(t, err)
		require.True(t, ok)
	}
	b.deadLetter(t, queue, map[string]any{"dead": true}, nil)
	entries, err := b.client.ListDLQ(b.ctx, queue, 10)
	require.NoError(t, err)
	_, err = b.client.Reschedule(b.ctx, queue, entries[0].MsgID) // archives the DLQ message
	require.NoError(t, err)
	archived := b.archiveRows(t, queue) + b.archiveRows(t, queue+"_dlq")
	require.EqualValues(t, 4, archived)

	// Nothing is older than an hour.
	n, err := b.client.Prune(b.ctx, queue, time.Hour, 0)
	require.NoError(t, err)
	require.Zero(t, n)

	// Age the rows, then prune in batches of one: all of them go.
	_, err = b.pool.Exec(b.ctx, `UPDATE pgmq.a_`+queue+` SET archived_at = archived_at - interval '2 hours'`)
	require.NoError(t, err)
	_, err = b.pool.Exec(b.ctx, `UPDATE pgmq.a_`+queue+`_dlq SET archived_at = archived_at - interval '2 hours'`)
	require.NoError(t, err)
	n, err = b.client.Prune(b.ctx, queue, time.Hour, 1)
	require.NoError(t, err)
	require.Equal(t, archived, n)
	require.Zero(t, b.archiveRows(t, queue)+b.archiveRows(t, queue+"_dlq"))
	require.EqualValues(t, 1, b.queueRows(t, queue), "live tasks are not pruned")

	_, err = b.client.Prune(b.ctx, queue, -time.Second, 0)
	require.ErrorIs(t, err, driver.ErrInvalidArgument)
}

func TestDriverPruneDue(t *testing.T) {
	t.Parallel()
	b := setupDriver(t)
	queue := b.newQueue(t, false)
	b.enqueue(t, queue, map[string]any{"n": 1}, nil)
	tk := b.readOne(t, queue, nil)
	_, err := b.client.Complete(b.ctx, queue, tk.MsgID, tk.Attempt)
	require.NoError(t, err)
	_, err = b.pool.Exec(b.ctx, `UPDATE pgmq.a_`+queue+` SET archived_at = archived_at - interval '2 hours'`)
	require.NoError(t, err)
	// Below the queue's retention (7 days by default) prune_due deletes nothing, whatever it is asked.
	n, ran, err := b.client.PruneDue(b.ctx, queue, time.Hour, 0, 0)
	require.NoError(t, err)
	require.True(t, ran)
	require.Zero(t, n, "rows younger than the retention stay")
	require.NoError(t, b.client.SetRetention(b.ctx, queue, time.Hour))
	_, err = b.pool.Exec(b.ctx, `UPDATE pgtq.queues SET last_pruned_at = NULL WHERE queue_name = $1`, queue)
	require.NoError(t, err)

	n, ran, err = b.client.PruneDue(b.ctx, queue, time.Hour, 0, time.Hour)
	require.NoError(t, err)
	require.True(t, ran, "first call runs")
	require.EqualValues(t, 1, n)

	n, ran, err = b.client.PruneDue(b.ctx, queue, time.Hour, 0, time.Hour)
	require.NoError(t, err)
	require.False(t, ran, "a second call within the interval is skipped")
	require.Zero(t, n)

	_, _, err = b.client.PruneDue(b.ctx, queue, time.Hour, 0, -time.Second)
	require.ErrorIs(t, err, driver.ErrInvalidArgument)
}

func TestDriverStats(t *testing.T) {
	t.Parallel()
	b := setupDriver(t)
	queue := b.newQueue(t, false)

	s, err := b.client.Stats(b.ctx, queue)
	require.NoError(t, err)
	require.Equal(t, driver.QueueStats{}, *s, "an empty queue")

	due, ok, err := b.client.NextDue(b.ctx, queue)
	require.NoError(t, err)
	require.False(t, ok, "nothing is due later")
	require.Zero(t, due)

	// 3 visible, 1 delayed; claim 2 of the visible ones; fail one of them with a retry delay; dead-letter
	// one more task and complete nothing.
	for i := range 3 {
		b.enqueue(t, queue, map[string]any{"i": i}, nil)
	}
	_, err = b.client.Enqueue(b.ctx, queue, map[string]any{"later": true}, &driver.EnqueueOptions{Delay: time.Hour})
	require.NoError(t, err)
	tasks, err := b.client.Read(b.ctx, queue, 2, time.Minute, nil)
	require.NoError(t, err)
	require.Len(t, tasks, 2)
	out, err := b.client.Fail(b.ctx, queue, tasks[0].MsgID, tasks[0].Attempt, "x",
		&driver.FailOptions{MaxRetries: 1, RetryDelay: time.Hour})
	require.NoError(t, err)
	require.Equal(t, driver.FailRetrying, out)

	s, err = b.client.Stats(b.ctx, queue)
	require.NoError(t, err)
	require.EqualValues(t, 1, s.Queued)
	require.EqualValues(t, 1, s.Delayed)
	require.EqualValues(t, 1, s.Processing)
	require.EqualValues(t, 1, s.Retrying)
	require.Zero(t, s.DLQ)
	require.Zero(t, s.Archived)
	require.Greater(t, s.OldestQueuedAge, time.Duration(0))
	require.Less(t, s.OldestQueuedAge, time.Minute)

	out, err = b.client.Fail(b.ctx, queue, tasks[1].MsgID, tasks[1].Attempt, "y", nil)
	require.NoError(t, err)
	require.Equal(t, driver.FailDeadLettered, out)
	s, err = b.client.Stats(b.ctx, queue)
	require.NoError(t, err)
	require.Zero(t, s.Processing)
	require.EqualValues(t, 1, s.DLQ)
	require.EqualValues(t, 1, s.Archived)
}

func TestDriverCustomDLQName(t *testing.T) {
	t.Parallel()
	b := setupDriver(t)
	queue := "custom_dlq_src"
	q := driver.NewQueue[map[string]any](b.client, queue, &driver.QueueOptions{DLQName: "custom_graveyard"})
	require.Equal(t, "custom_graveyard", q.DLQName())
	require.NoError(t, q.Create(b.ctx))

	origID, _ := b.deadLetter(t, queue, map[string]any{"x": 1}, nil)
	var inCustom int
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT count(*) FROM pgmq.q_custom_graveyard`).Scan(&inCustom))
	require.Equal(t, 1, inCustom, "the dead letter lands in the named DLQ")
	var defaultExists bool
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT to_regclass('pgmq.q_custom_dlq_src_dlq') IS NOT NULL`).Scan(&defaultExists))
	require.False(t, defaultExists, "no <name>_dlq is created beside a named DLQ")

	entries, err := b.client.ListDLQ(b.ctx, queue, 10)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	require.Equal(t, origID, entries[0].OriginalMsgID)

	_, err = b.client.Reschedule(b.ctx, queue, entries[0].MsgID)
	require.NoError(t, err)
}
