package worker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/driver"
)

// TestPendingCompletionsDue checks when the completer sends a queue's completions itself: at once when no
// handler runs and no read is coming, completeLinger after the first while handlers run, completeHold after
// it while the queue has a backlog (its next read takes them along), and all at once when completeBatchMax
// are pending; and that a read takes only its own queue's.
func TestPendingCompletionsDue(t *testing.T) {
	idle, busy, backlog := &procState{}, &procState{}, &procState{}
	backlog.backlog.Store(true)
	var pc pendingCompletions
	add := func(ps *procState, n int) {
		for i := range n {
			pc.add(completion{ps: ps, ref: driver.TaskRef{MsgID: int64(i + 1), Attempt: 1}})
		}
	}
	add(idle, 2)
	batch, wait := pc.takeDue(time.Now(), false)
	require.Len(t, batch, 2, "nothing runs and no read comes: due at once")
	require.Zero(t, wait)

	add(busy, 3)
	now := time.Now()
	batch, wait = pc.takeDue(now, true)
	require.Empty(t, batch, "handlers run: more completions may join")
	require.Greater(t, wait, time.Duration(0))
	require.LessOrEqual(t, wait, completeLinger)
	batch, _ = pc.takeDue(now.Add(completeLinger), true)
	require.Len(t, batch, 3, "due after the linger")

	add(backlog, 4)
	now = time.Now()
	batch, wait = pc.takeDue(now, false)
	require.Empty(t, batch, "a queue with a backlog waits for its next read, even when nothing runs")
	require.Greater(t, wait, completeLinger)
	require.LessOrEqual(t, wait, completeHold)
	add(busy, 1)
	require.Len(t, pc.take(backlog, completeBatchMax), 4, "a read takes its queue's completions")
	require.Equal(t, 1, pc.n, "and leaves the others")
	batch, _ = pc.takeDue(time.Now().Add(completeLinger), true)
	require.Len(t, batch, 1)

	add(backlog, 2)
	pc.dueNow(backlog)
	batch, _ = pc.takeDue(time.Now(), true)
	require.Len(t, batch, 2, "given back by a failed read: due at once, backlog or not")

	add(backlog, completeBatchMax)
	batch, wait = pc.takeDue(time.Now(), true)
	require.Len(t, batch, completeBatchMax, "a full batch is due at once")
	require.Zero(t, wait)
	require.Zero(t, pc.n)
}
