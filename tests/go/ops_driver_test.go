package gotest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/driver"
)

// TestOpsListQueues: every registered queue's counts and pause state in one call; QueueInfo for one queue.
func TestOpsListQueues(t *testing.T) {
	t.Parallel()
	b := setupDriver(t)
	q1, q2 := b.newQueue(t, false), b.newQueue(t, true)
	b.enqueue(t, q1, numPayload{N: 1}, nil)
	b.enqueue(t, q1, numPayload{N: 2}, &driver.EnqueueOptions{Delay: time.Hour})
	_, err := b.client.Pause(b.ctx, q2)
	require.NoError(t, err)

	qs, err := b.client.ListQueues(b.ctx)
	require.NoError(t, err)
	require.Len(t, qs, 2, "DLQs are not listed")
	byName := map[string]driver.QueueInfo{qs[0].Queue: qs[0], qs[1].Queue: qs[1]}
	require.EqualValues(t, 1, byName[q1].Queued)
	require.EqualValues(t, 1, byName[q1].Delayed)
	require.NotNil(t, byName[q1].OldestQueuedAgeSeconds)
	require.False(t, byName[q1].Paused)
	require.True(t, byName[q2].Paused)

	info, err := b.client.QueueInfo(b.ctx, q2)
	require.NoError(t, err)
	require.True(t, info.Paused)
	require.Nil(t, info.OldestQueuedAgeSeconds)
	_, err = b.client.QueueInfo(b.ctx, "ops_nope")
	require.ErrorIs(t, err, driver.ErrQueueNotFound)
}

// TestOpsListTasks: keyset pages cover every task once; status and group filters; the hard limit.
func TestOpsListTasks(t *testing.T) {
	t.Parallel()
	b := setupDriver(t)
	q := b.newQueue(t, false)
	want := map[int64]bool{}
	for i := range 23 {
		var opts *driver.EnqueueOptions
		if i%3 == 0 {
			opts = &driver.EnqueueOptions{Group: "g"}
		}
		want[b.enqueue(t, q, numPayload{N: i}, opts)] = true
	}
	seen := map[int64]int{}
	var after int64
	pages := 0
	for {
		page, err := b.client.ListTasks(b.ctx, q, &driver.ListTasksOptions{After: after, Limit: 5})
		require.NoError(t, err)
		for _, tv := range page {
			seen[tv.MsgID]++
			require.Equal(t, driver.PlaceQueue, tv.Place)
			require.Equal(t, driver.StatusQueued, tv.Status)
			require.NotEmpty(t, tv.TaskID)
			require.True(t, tv.MsgID > after, "ascending after the cursor")
		}
		pages++
		if len(page) < 5 {
			break
		}
		after = page[len(page)-1].MsgID
	}
	require.Equal(t, 5, pages)
	require.Len(t, seen, len(want))
	for id, n := range seen {
		require.True(t, want[id])
		require.Equal(t, 1, n, "msg %d listed once", id)
	}

	grouped, err := b.client.ListTasks(b.ctx, q, &driver.ListTasksOptions{Group: "g"})
	require.NoError(t, err)
	require.Len(t, grouped, 8)
	for _, tv := range grouped {
		require.Equal(t, "g", tv.GroupKey)
	}

	tasks, err := b.client.Read(b.ctx, q, 2, time.Minute, nil)
	require.NoError(t, err)
	processing, err := b.client.ListTasks(b.ctx, q, &driver.ListTasksOptions{Status: driver.StatusProcessing})
	require.NoError(t, err)
	require.Len(t, processing, 2)
	require.Equal(t, tasks[0].MsgID, processing[0].MsgID)
	require.Equal(t, 1, processing[0].ReadCount)

	_, err = b.client.ListTasks(b.ctx, q, &driver.ListTasksOptions{Limit: driver.ListLimitMax + 1})
	require.ErrorIs(t, err, driver.ErrInvalidArgument)
	_, err = b.client.ListTasks(b.ctx, q, &driver.ListTasksOptions{Status: "done"})
	require.ErrorIs(t, err, driver.ErrInvalidArgument)
	_, err = b.client.ListTasks(b.ctx, "ops_nope", nil)
	require.ErrorIs(t, err, driver.ErrQueueNotFound)
}

// TestOpsGetTask: the history of a task dead-lettered, rescheduled and dead-lettered again, by any msg_id and by
// task id, and ListArchive paging newest first.
func TestOpsGetTask(t *testing.T) {
	t.Parallel()
	b := setupDriver(t)
	q := b.newQueue(t, false)
	first := b.enqueue(t, q, numPayload{N: 7}, &driver.EnqueueOptions{Group: "g"})
	deadLetter := func(id int64) int64 {
		tasks, err := b.client.Read(b.ctx, q, 1, time.Minute, nil)
		require.NoError(t, err)
		require.Equal(t, id, tasks[0].MsgID)
		out, err := b.client.Fail(b.ctx, q, id, tasks[0].Attempt, "bad", &driver.FailOptions{NonRetryable: true})
		require.NoError(t, err)
		require.Equal(t, driver.FailDeadLettered, out)
		entries, err := b.client.ListDLQ(b.ctx, q, 10)
		require.NoError(t, err)
		return entries[len(entries)-1].MsgID
	}
	dlq1 := deadLetter(first)
	second, err := b.client.Reschedule(b.ctx, q, dlq1)
	require.NoError(t, err)
	dlq2 := deadLetter(second)

	type step struct {
		place  string
		id     int64
		status string
	}
	wantSteps := []step{{driver.PlaceArchive, first, "dead_lettered"}, {driver.PlaceDLQArchive, dlq1, "rescheduled"},
		{driver.PlaceArchive, second, "dead_lettered"}, {driver.PlaceDLQ, dlq2, "dead_lettered"}}
	steps := func(h []driver.TaskView) []step {
		var s []step
		for _, tv := range h {
			s = append(s, step{tv.Place, tv.MsgID, tv.Status})
		}
		return s
	}
	for _, id := range []int64{first, second} {
		h, err := b.client.GetTask(b.ctx, q, id)
		require.NoError(t, err)
		require.Equal(t, wantSteps, steps(h), "history from msg %d", id)
		require.Equal(t, h[0].TaskID, h[3].TaskID, "one task id throughout")
		require.Equal(t, "g", h[2].GroupKey)
		require.NotNil(t, h[0].ArchivedAt)
		var p numPayload
		require.NoError(t, json.Unmarshal(h[0].Message, &p))
		require.Equal(t, 7, p.N)
	}
	h, err := b.client.GetTask(b.ctx, q, first)
	require.NoError(t, err)
	byID, err := b.client.GetTaskByID(b.ctx, q, h[0].TaskID)
	require.NoError(t, err)
	require.Equal(t, wantSteps, steps(byID))

	_, err = b.client.GetTask(b.ctx, q, 999)
	require.ErrorIs(t, err, driver.ErrMessageNotFound)
	_, err = b.client.GetTaskByID(b.ctx, q, "no-such-id")
	require.ErrorIs(t, err, driver.ErrMessageNotFound)

	arch, err := b.client.ListArchive(b.ctx, q, 0, 1)
	require.NoError(t, err)
	require.Equal(t, second, arch[0].MsgID, "newest first")
	arch, err = b.client.ListArchive(b.ctx, q, arch[0].MsgID, 10)
	require.NoError(t, err)
	require.Len(t, arch, 1)
	require.Equal(t, first, arch[0].MsgID, "the page before the cursor")
}

// TestOpsCancelAndRetryNow: a cancelled lease acknowledges nothing; cancel reports what the task was or that it
// already left; retry_now makes a retrying task due with its attempts kept.
func TestOpsCancelAndRetryNow(t *testing.T) {
	t.Parallel()
	b := setupDriver(t)
	q := b.newQueue(t, false)
	id := b.enqueue(t, q, numPayload{N: 1}, nil)
	tasks, err := b.client.Read(b.ctx, q, 1, time.Minute, nil)
	require.NoError(t, err)
	ok, status, err := b.client.Cancel(b.ctx, q, id)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, driver.StatusProcessing, status)
	done, err := b.client.Complete(b.ctx, q, id, tasks[0].Attempt)
	require.NoError(t, err)
	require.False(t, done, "the cancelled lease no longer completes")
	extended, err := b.client.ExtendLease(b.ctx, q, id, tasks[0].Attempt, time.Minute)
	require.NoError(t, err)
	require.False(t, extended, "nor extends (the worker's heartbeat reports the lease lost)")
	ok, status, err = b.client.Cancel(b.ctx, q, id)
	require.NoError(t, err)
	require.False(t, ok)
	require.Equal(t, driver.StatusCancelled, status)
	_, _, err = b.client.Cancel(b.ctx, q, 12345)
	require.ErrorIs(t, err, driver.ErrMessageNotFound)

	id2 := b.enqueue(t, q, numPayload{N: 2}, nil)
	tasks, err = b.client.Read(b.ctx, q, 1, time.Minute, nil)
	require.NoError(t, err)
	out, err := b.client.Fail(b.ctx, q, id2, tasks[0].Attempt, "later", &driver.FailOptions{MaxRetries: 2, RetryDelay: time.Hour})
	require.NoError(t, err)
	require.Equal(t, driver.FailRetrying, out)
	due, status, err := b.client.RetryNow(b.ctx, q, id2)
	require.NoError(t, err)
	require.True(t, due)
	require.Equal(t, driver.StatusRetrying, status)
	tasks, err = b.client.Read(b.ctx, q, 1, time.Minute, nil)
	require.NoError(t, err)
	require.Len(t, tasks, 1)
	require.Equal(t, 2, tasks[0].Attempt, "due now, attempts kept")
	due, status, err = b.client.RetryNow(b.ctx, q, id2)
	require.NoError(t, err)
	require.False(t, due)
	require.Equal(t, driver.StatusProcessing, status)
}

// TestOpsPauseRescheduleAllPurge: a paused queue yields nothing to Read until resumed; bulk reschedule with a
// filter; DLQ purge by age.
func TestOpsPauseRescheduleAllPurge(t *testing.T) {
	t.Parallel()
	b := setupDriver(t)
	q := b.newQueue(t, false)
	for i := range 4 {
		b.enqueue(t, q, numPayload{N: i}, &driver.EnqueueOptions{Group: []string{"a", "b"}[i%2]})
	}
	changed, err := b.client.Pause(b.ctx, q)
	require.NoError(t, err)
	require.True(t, changed)
	tasks, err := b.client.Read(b.ctx, q, 10, time.Minute, nil)
	require.NoError(t, err)
	require.Empty(t, tasks, "paused: nothing claimed")
	changed, err = b.client.Resume(b.ctx, q)
	require.NoError(t, err)
	require.True(t, changed)
	tasks, err = b.client.Read(b.ctx, q, 10, time.Minute, nil)
	require.NoError(t, err)
	require.Len(t, tasks, 4)
	for _, tk := range tasks {
		_, err := b.client.Fail(b.ctx, q, tk.MsgID, tk.Attempt, "err-"+tk.GroupKey, &driver.FailOptions{NonRetryable: true})
		require.NoError(t, err)
	}
	n, err := b.client.RescheduleAll(b.ctx, q, &driver.RescheduleFilter{Group: "a", ErrorContains: "err-a"})
	require.NoError(t, err)
	require.EqualValues(t, 2, n)
	n, err = b.client.PurgeDLQ(b.ctx, q, time.Hour)
	require.NoError(t, err)
	require.EqualValues(t, 0, n, "nothing an hour old")
	n, err = b.client.PurgeDLQ(b.ctx, q, 0)
	require.NoError(t, err)
	require.EqualValues(t, 2, n)
	info, err := b.client.QueueInfo(b.ctx, q)
	require.NoError(t, err)
	require.EqualValues(t, 0, info.DLQ)
	require.EqualValues(t, 2, info.Queued)
	_, err = b.client.RescheduleAll(b.ctx, b.newQueue(t, true), nil)
	require.ErrorIs(t, err, driver.ErrInvalidArgument, "no DLQ")
	_, err = b.client.Pause(b.ctx, "ops_nope")
	require.ErrorIs(t, err, driver.ErrQueueNotFound)
}
