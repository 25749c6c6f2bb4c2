package gotest

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/driver"
)

func TestDriverReadOrderAndOptions(t *testing.T) {
	t.Parallel()
	b := setupDriver(t)
	queue := b.newQueue(t, false)

	var ids []int64
	for i := range 4 {
		id := b.enqueue(t, queue, map[string]any{"i": i}, nil)
		ids = append(ids, id)
	}

	// FIFO by default, LIFO on request.
	require.Equal(t, ids[0], b.readOne(t, queue, nil).MsgID)
	require.Equal(t, ids[3], b.readOne(t, queue, &driver.ReadOptions{LIFO: true}).MsgID)

	// Concurrency limit: two are processing, the limit is 3, so one more may start.
	tasks, err := b.client.Read(b.ctx, queue, 10, time.Minute, &driver.ReadOptions{ConcurrencyLimit: 3})
	require.NoError(t, err)
	require.Len(t, tasks, 1)
	tasks, err = b.client.Read(b.ctx, queue, 10, time.Minute, &driver.ReadOptions{ConcurrencyLimit: 3})
	require.NoError(t, err)
	require.Empty(t, tasks, "the limit is reached")

	// Grouped: one task per group per read, and none while the group has one in flight.
	gq := b.newQueue(t, false)
	for _, g := range []string{"a", "a", "b"} {
		b.enqueue(t, gq, map[string]any{"g": g}, &driver.EnqueueOptions{Group: g})
	}
	tasks, err = b.client.Read(b.ctx, gq, 10, time.Minute, &driver.ReadOptions{Grouped: true})
	require.NoError(t, err)
	require.Len(t, tasks, 2)
	require.ElementsMatch(t, []string{"a", "b"}, []string{tasks[0].GroupKey, tasks[1].GroupKey})
	tasks, err = b.client.Read(b.ctx, gq, 10, time.Minute, &driver.ReadOptions{Grouped: true})
	require.NoError(t, err)
	require.Empty(t, tasks, "group a's second task waits for the first")

	// Lease below one second is refused, naming the argument.
	_, err = b.client.Read(b.ctx, queue, 1, 500*time.Millisecond, nil)
	require.ErrorIs(t, err, driver.ErrInvalidArgument)
	require.Contains(t, err.Error(), "lease")
}

func TestDriverReadMaxAttempts(t *testing.T) {
	t.Parallel()
	b := setupDriver(t)
	queue := b.newQueue(t, false)
	id := b.enqueue(t, queue, map[string]any{"n": 1}, nil)

	// Two deliveries whose leases "expire", then the third read dead-letters instead of delivering.
	for attempt := 1; attempt <= 2; attempt++ {
		tk := b.readOne(t, queue, &driver.ReadOptions{MaxAttempts: 2})
		require.Equal(t, attempt, tk.Attempt)
		b.makeVisible(t, queue, id)
	}
	tasks, err := b.client.Read(b.ctx, queue, 1, time.Minute, &driver.ReadOptions{MaxAttempts: 2})
	require.NoError(t, err)
	require.Empty(t, tasks)
	entries, err := b.client.ListDLQ(b.ctx, queue, 10)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	require.Equal(t, id, entries[0].OriginalMsgID)
}

func TestDriverReadRacingReaders(t *testing.T) {
	t.Parallel()
	b := setupDriver(t)
	queue := b.newQueue(t, false)
	const tasks = 40
	payloads := make([]any, tasks)
	for i := range payloads {
		payloads[i] = map[string]any{"i": i}
	}
	_, err := b.client.EnqueueBatch(b.ctx, queue, payloads, nil)
	require.NoError(t, err)

	const readers = 6
	var (
		wg     sync.WaitGroup
		start  = tqNewGate(readers)
		mu     sync.Mutex
		claims = map[int64]int{}
		errs   = make(chan error, readers)
	)
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start.arrive()
			for {
				got, err := b.client.Read(b.ctx, queue, 3, time.Minute, nil)
				if err != nil {
					errs <- err
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, tk := range got {
					claims[tk.MsgID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, claims, tasks, "every task claimed")
	for id, n := range claims {
		require.Equal(t, 1, n, "msg %d claimed %d times within its lease", id, n)
	}
}

func TestDriverComplete(t *testing.T) {
	t.Parallel()
	b := setupDriver(t)
	queue := b.newQueue(t, false)
	id := b.enqueue(t, queue, map[string]any{"n": 1}, nil)

	// A stale attempt cannot complete: the first lease "expired" and a second reader took the task.
	first := b.readOne(t, queue, nil)
	b.makeVisible(t, queue, id)
	second := b.readOne(t, queue, nil)
	require.Equal(t, first.Attempt+1, second.Attempt)
	require.Equal(t, first.TaskID, second.TaskID, "task id is stable across deliveries")
	ok, err := b.client.Complete(b.ctx, queue, id, first.Attempt)
	require.NoError(t, err)
	require.False(t, ok, "stale attempt")
	require.EqualValues(t, 1, b.queueRows(t, queue))

	ok, err = b.client.Complete(b.ctx, queue, id, second.Attempt)
	require.NoError(t, err)
	require.True(t, ok)
	require.Zero(t, b.queueRows(t, queue))
	require.EqualValues(t, 1, b.count(t, `SELECT count(*) FROM pgmq.a_`+queue+
		` WHERE msg_id = $1 AND headers->>'x-pgtq-status' = 'completed'`, id))

	ok, err = b.client.Complete(b.ctx, queue, id, second.Attempt)
	require.NoError(t, err)
	require.False(t, ok, "completing twice reports false")
}

func TestDriverCompleteMany(t *testing.T) {
	t.Parallel()
	b := setupDriver(t)
	queue := b.newQueue(t, false)
	_, err := b.client.EnqueueBatch(b.ctx, queue, []any{map[string]any{"a": 1}, map[string]any{"a": 2}, map[string]any{"a": 3}}, nil)
	require.NoError(t, err)
	tasks, err := b.client.Read(b.ctx, queue, 3, time.Minute, nil)
	require.NoError(t, err)
	require.Len(t, tasks, 3)

	refs := []driver.TaskRef{
		{MsgID: tasks[0].MsgID, Attempt: tasks[0].Attempt},
		{MsgID: tasks[1].MsgID, Attempt: tasks[1].Attempt + 7}, // stale token: left alone
		{MsgID: tasks[2].MsgID, Attempt: tasks[2].Attempt},
	}
	done, err := b.client.CompleteMany(b.ctx, queue, refs)
	require.NoError(t, err)
	require.ElementsMatch(t, []int64{tasks[0].MsgID, tasks[2].MsgID}, done)
	require.EqualValues(t, 1, b.queueRows(t, queue))

	done, err = b.client.CompleteMany(b.ctx, queue, nil)
	require.NoError(t, err)
	require.Empty(t, done)
}

// TestDriverCompleteAndRead checks that CompleteAndRead completes and claims in one transaction (the archive
// row of the completed task and the claimed task's row carry the same xmin), that the claim sees what the
// completion freed (a strict group's next task comes back in the same call), that stale tokens are left out
// while the claim still happens, and that an error leaves nothing completed and nothing claimed.
func TestDriverCompleteAndRead(t *testing.T) {
	t.Parallel()
	b := setupDriver(t)

	t.Run("OneTransaction", func(t *testing.T) {
		queue := b.newQueue(t, false)
		_, err := b.client.EnqueueBatch(b.ctx, queue, []any{map[string]any{"a": 1}, map[string]any{"a": 2},
			map[string]any{"a": 3}}, nil)
		require.NoError(t, err)
		first, err := b.client.Read(b.ctx, queue, 2, time.Minute, nil)
		require.NoError(t, err)
		require.Len(t, first, 2)

		refs := []driver.TaskRef{
			{MsgID: first[0].MsgID, Attempt: first[0].Attempt},
			{MsgID: first[1].MsgID, Attempt: first[1].Attempt + 1}, // stale token: left alone
		}
		done, next, err := b.client.CompleteAndRead(b.ctx, queue, refs, 5, time.Minute, nil)
		require.NoError(t, err)
		require.Equal(t, []int64{first[0].MsgID}, done)
		require.Len(t, next, 1, "the one task left claimed, the stale one still leased")
		var archived, claimed string
		require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT xmin::text FROM pgmq.a_`+queue+` WHERE msg_id = $1`,
			first[0].MsgID).Scan(&archived))
		require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT xmin::text FROM pgmq.q_`+queue+` WHERE msg_id = $1`,
			next[0].MsgID).Scan(&claimed))
		require.Equal(t, archived, claimed, "completion and claim committed as one transaction")

		// No refs: a plain read.
		done, next, err = b.client.CompleteAndRead(b.ctx, queue, nil, 5, time.Minute, nil)
		require.NoError(t, err)
		require.Empty(t, done)
		require.Empty(t, next)
	})

	t.Run("ClaimSeesFreedGroup", func(t *testing.T) {
		queue := b.newQueue(t, false)
		g := &driver.EnqueueOptions{Group: "g"}
		a := b.enqueue(t, queue, map[string]any{"n": 1}, g)
		c := b.enqueue(t, queue, map[string]any{"n": 2}, g)
		grouped := &driver.ReadOptions{Grouped: true}
		tasks, err := b.client.Read(b.ctx, queue, 5, time.Minute, grouped)
		require.NoError(t, err)
		require.Len(t, tasks, 1)
		require.Equal(t, a, tasks[0].MsgID)
		tasks, err = b.client.Read(b.ctx, queue, 5, time.Minute, grouped)
		require.NoError(t, err)
		require.Empty(t, tasks, "the group is busy")

		done, next, err := b.client.CompleteAndRead(b.ctx, queue, []driver.TaskRef{{MsgID: a, Attempt: 1}}, 5,
			time.Minute, grouped)
		require.NoError(t, err)
		require.Equal(t, []int64{a}, done)
		require.Len(t, next, 1, "the group's next task, freed by the completion in the same call")
		require.Equal(t, c, next[0].MsgID)
	})

	t.Run("ErrorsChangeNothing", func(t *testing.T) {
		queue := b.newQueue(t, false)
		id := b.enqueue(t, queue, map[string]any{"n": 1}, nil)
		b.enqueue(t, queue, map[string]any{"n": 2}, nil)
		tk := b.readOne(t, queue, nil)
		require.Equal(t, id, tk.MsgID)
		ref := []driver.TaskRef{{MsgID: tk.MsgID, Attempt: tk.Attempt}}

		_, _, err := b.client.CompleteAndRead(b.ctx, queue, []driver.TaskRef{{MsgID: id, Attempt: 0}}, 1, time.Minute, nil)
		require.ErrorIs(t, err, driver.ErrInvalidArgument)
		require.ErrorContains(t, err, "attempt")
		_, _, err = b.client.CompleteAndRead(b.ctx, queue, ref, 0, time.Minute, nil)
		require.ErrorIs(t, err, driver.ErrInvalidArgument)
		require.ErrorContains(t, err, "qty")
		_, _, err = b.client.CompleteAndRead(b.ctx, "no_such_queue", ref, 1, time.Minute, nil)
		require.ErrorIs(t, err, driver.ErrQueueNotFound)
		// The read fails on the server after the completion ran (pgtq.read takes at most 10,000): both roll back.
		_, _, err = b.client.CompleteAndRead(b.ctx, queue, ref, 10001, time.Minute, nil)
		require.ErrorIs(t, err, driver.ErrInvalidArgument)
		require.ErrorContains(t, err, "qty must be between 1 and 10000")
		require.EqualValues(t, 2, b.queueRows(t, queue), "nothing completed")
		require.EqualValues(t, 1, b.count(t, `SELECT count(*) FROM pgmq.q_`+queue+` WHERE read_ct > 0`), "nothing claimed")
	})
}

func TestDriverFail(t *testing.T) {
	t.Parallel()
	b := setupDriver(t)

	t.Run("RetryThenDeadLetter", func(t *testing.T) {
		queue := b.newQueue(t, false)
		id := b.enqueue(t, queue, map[string]any{"job": "x"}, &driver.EnqueueOptions{Group: "g1"})
		opts := &driver.FailOptions{MaxRetries: 1}

		tk := b.readOne(t, queue, nil)
		out, err := b.client.Fail(b.ctx, queue, tk.MsgID, tk.Attempt, "boom 1", opts)
		require.NoError(t, err)
		require.Equal(t, driver.FailRetrying, out)

		tk = b.readOne(t, queue, nil)
		require.Equal(t, id, tk.MsgID, "a retry keeps the msg_id")
		require.Equal(t, 2, tk.Attempt)
		out, err = b.client.Fail(b.ctx, queue, tk.MsgID, tk.Attempt, "boom 2", opts)
		require.NoError(t, err)
		require.Equal(t, driver.FailDeadLettered, out, "max_retries=1 means two attempts")
		require.Zero(t, b.queueRows(t, queue))

		entries, err := b.client.ListDLQ(b.ctx, queue, 10)
		require.NoError(t, err)
		require.Len(t, entries, 1)
		e := entries[0]
		require.Equal(t, id, e.OriginalMsgID)
		require.Equal(t, queue, e.Queue)
		require.Equal(t, tk.TaskID, e.TaskID)
		require.Equal(t, "g1", e.GroupKey)
		require.JSONEq(t, `{"job": "x"}`, string(e.Payload))
		require.Len(t, e.Errors, 2)
		require.Equal(t, 1, e.Errors[0].Attempt)
		require.Equal(t, "boom 1", e.Errors[0].Error)
		require.Equal(t, "boom 2", e.Errors[1].Error)
		require.WithinDuration(t, time.Now(), e.Errors[1].At, time.Minute)
		require.EqualValues(t, id, e.Headers["x-pgtq-original"])
		require.WithinDuration(t, time.Now(), e.DeadLetteredAt, time.Minute)
	})

	t.Run("NonRetryableGoesToDLQAtOnce", func(t *testing.T) {
		queue := b.newQueue(t, false)
		b.enqueue(t, queue, map[string]any{"n": 1}, nil)
		tk := b.readOne(t, queue, nil)
		out, err := b.client.Fail(b.ctx, queue, tk.MsgID, tk.Attempt, "bad input",
			&driver.FailOptions{NonRetryable: true, MaxRetries: 5})
		require.NoError(t, err)
		require.Equal(t, driver.FailDeadLettered, out)
		entries, err := b.client.ListDLQ(b.ctx, queue, 10)
		require.NoError(t, err)
		require.Len(t, entries, 1)
	})

	t.Run("NoDLQArchivesAsFailed", func(t *testing.T) {
		queue := b.newQueue(t, true)
		id := b.enqueue(t, queue, map[string]any{"n": 1}, nil)
		tk := b.readOne(t, queue, nil)
		out, err := b.client.Fail(b.ctx, queue, tk.MsgID, tk.Attempt, "boom", nil)
		require.NoError(t, err)
		require.Equal(t, driver.FailFailed, out)
		require.EqualValues(t, 1, b.count(t, `SELECT count(*) FROM pgmq.a_`+queue+
			` WHERE msg_id = $1 AND headers->>'x-pgtq-status' = 'failed'`, id))
		entries, err := b.client.ListDLQ(b.ctx, queue, 10)
		require.NoError(t, err)
		require.Empty(t, entries, "a queue without DLQ lists nothing")
		_, err = b.client.Reschedule(b.ctx, queue, 1)
		require.ErrorIs(t, err, driver.ErrInvalidArgument, "no DLQ to reschedule from")
	})

	t.Run("StaleAttemptIsLeaseLost", func(t *testing.T) {
		queue := b.newQueue(t, false)
		id := b.enqueue(t, queue, map[string]any{"n": 1}, nil)
		first := b.readOne(t, queue, nil)
		b.makeVisible(t, queue, id)
		b.readOne(t, queue, nil)
		out, err := b.client.Fail(b.ctx, queue, id, first.Attempt, "late", nil)
		require.NoError(t, err)
		require.Equal(t, driver.FailLeaseLost, out)
		require.EqualValues(t, 1, b.queueRows(t, queue))
	})

	t.Run("RetryDelay", func(t *testing.T) {
		queue := b.newQueue(t, false)
		b.enqueue(t, queue, map[string]any{"n": 1}, nil)
		tk := b.readOne(t, queue, nil)
		out, err := b.client.Fail(b.ctx, queue, tk.MsgID, tk.Attempt, "later",
			&driver.FailOptions{MaxRetries: 3, RetryDelay: 30 * time.Minute})
		require.NoError(t, err)
		require.Equal(t, driver.FailRetrying, out)
		tasks, err := b.client.Read(b.ctx, queue, 1, time.Minute, nil)
		require.NoError(t, err)
		require.Empty(t, tasks, "no retry before its delay")
		due, ok, err := b.client.NextDue(b.ctx, queue)
		require.NoError(t, err)
		require.True(t, ok)
		require.WithinDuration(t, time.Now().Add(30*time.Minute), due, 10*time.Second)
	})
}

func TestDriverExtendLeaseAndRelease(t *testing.T) {
	t.Parallel()
	b := setupDriver(t)
	queue := b.newQueue(t, false)
	id := b.enqueue(t, queue, map[string]any{"n": 1}, nil)

	tk := b.readOne(t, queue, nil)
	ok, err := b.client.ExtendLease(b.ctx, queue, tk.MsgID, tk.Attempt, 2*time.Hour)
	require.NoError(t, err)
	require.True(t, ok)
	var vt time.Time
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT vt FROM pgmq.q_`+queue+` WHERE msg_id = $1`, id).Scan(&vt))
	require.WithinDuration(t, time.Now().Add(2*time.Hour), vt, 10*time.Second)

	ok, err = b.client.ExtendLease(b.ctx, queue, tk.MsgID, tk.Attempt+1, time.Hour)
	require.NoError(t, err)
	require.False(t, ok, "a stale token cannot extend")
	_, err = b.client.ExtendLease(b.ctx, queue, tk.MsgID, tk.Attempt, 0)
	require.ErrorIs(t, err, driver.ErrInvalidArgument)

	// Release: visible at once and the attempt is not burned.
	ok, err = b.client.Release(b.ctx, queue, tk.MsgID, tk.Attempt)
	require.NoError(t, err)
	require.True(t, ok)
	again := b.readOne(t, queue, nil)
	require.Equal(t, id, again.MsgID)
	require.Equal(t, tk.Attempt, again.Attempt, "a released attempt does not count")

	ok, err = b.client.Release(b.ctx, queue, tk.MsgID, again.Attempt+1)
	require.NoError(t, err)
	require.False(t, ok, "a stale token cannot release")
}

func TestDriverCompleteTx(t *testing.T) {
	t.Parallel()
	b := setupDriver(t)
	queue := b.newQueue(t, false)
	id := b.enqueue(t, queue, map[string]any{"n": 1}, nil)
	tk := b.readOne(t, queue, nil)

	// Rolled back with the caller's work: the task is still leased to us.
	tx, err := b.pool.Begin(b.ctx)
	require.NoError(t, err)
	ok, err := b.client.CompleteTx(b.ctx, tx, queue, tk.MsgID, tk.Attempt)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, tx.Rollback(b.ctx))
	require.EqualValues(t, 1, b.queueRows(t, queue))

	// Committed: archived.
	tx, err = b.pool.Begin(b.ctx)
	require.NoError(t, err)
	ok, err = b.client.CompleteTx(b.ctx, tx, queue, tk.MsgID, tk.Attempt)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, tx.Commit(b.ctx))
	require.Zero(t, b.queueRows(t, queue))
	require.EqualValues(t, 1, b.count(t, `SELECT count(*) FROM pgmq.a_`+queue+` WHERE msg_id = $1`, id))
}
