package gotest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/driver"
	"github.com/pgtq/pgtq/worker"
)

// TestOpsPauseHoldsBackWorker: a running worker claims nothing from a paused queue (through many fallback
// polls and a NOTIFY per enqueue), the task it was running when the pause came finishes and is completed, and
// resume releases the waiting tasks at once.
func TestOpsPauseHoldsBackWorker(t *testing.T) {
	t.Parallel()
	b := setupWorker(t)
	q := b.newQueue(t, false)
	started := make(chan int, 16)
	release := make(chan struct{})
	var done atomic.Int64
	p := worker.NewProcessor(q, func(ctx context.Context, n numPayload) error {
		started <- n.N
		if n.N == 0 {
			<-release // the task that runs across the pause
		}
		done.Add(1)
		return nil
	}, nil)
	w, _ := b.runWorker(t, &worker.Options{Processors: []*worker.Processor{p}, ConcurrencyLimit: 4,
		PollInterval: 20 * time.Millisecond})
	waitReady(t, w)

	b.enqueue(t, q, numPayload{N: 0}, nil)
	require.Equal(t, 0, <-started)
	changed, err := b.client.Pause(b.ctx, q)
	require.NoError(t, err)
	require.True(t, changed)
	for i := 1; i <= 5; i++ {
		b.enqueue(t, q, numPayload{N: i}, nil)
	}
	close(release)
	waitUntil(t, 10*time.Second, "the running task completed", func() bool { return b.archived(t, q, "completed") == 1 })
	// A negative condition needs a window: ~25 fallback polls plus the enqueues' NOTIFYs.
	require.Never(t, func() bool { return len(started) > 0 }, 500*time.Millisecond, 10*time.Millisecond,
		"a paused queue's tasks are not started")
	info, err := b.client.QueueInfo(b.ctx, q)
	require.NoError(t, err)
	require.True(t, info.Paused)
	require.EqualValues(t, 5, info.Queued)
	require.EqualValues(t, 0, info.Processing)

	changed, err = b.client.Resume(b.ctx, q)
	require.NoError(t, err)
	require.True(t, changed)
	waitUntil(t, 10*time.Second, "the held-back tasks completed", func() bool { return b.archived(t, q, "completed") == 6 })
	require.EqualValues(t, 6, done.Load())
}

// TestOpsCancelRunningTask: cancelling a task while its handler runs takes it out of the queue at once; the
// handler's next Heartbeat reports worker.ErrLeaseLost, and the worker's completion afterwards changes nothing
// (the task stays archived as cancelled, once).
func TestOpsCancelRunningTask(t *testing.T) {
	t.Parallel()
	b := setupWorker(t)
	q := b.newQueue(t, false)
	running := make(chan int64, 1)
	cancelled := make(chan struct{})
	heartbeat := make(chan error, 1)
	p := worker.NewProcessor(q, func(ctx context.Context, _ numPayload) error {
		info, _ := worker.TaskFromContext(ctx)
		running <- info.MsgID
		<-cancelled
		heartbeat <- worker.Heartbeat(ctx)
		return nil
	}, nil)
	w, stop := b.runWorker(t, &worker.Options{Processors: []*worker.Processor{p}})
	waitReady(t, w)
	id := b.enqueue(t, q, numPayload{N: 1}, nil)
	require.Equal(t, id, <-running)

	ok, status, err := b.client.Cancel(b.ctx, q, id)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, driver.StatusProcessing, status)
	close(cancelled)
	require.ErrorIs(t, <-heartbeat, worker.ErrLeaseLost)
	stop() // returns after the worker flushed its acknowledgements, the handler's completion included
	require.EqualValues(t, 0, b.queueRows(t, q))
	require.EqualValues(t, 1, b.archived(t, q, driver.StatusCancelled))
	require.EqualValues(t, 0, b.archived(t, q, "completed"), "the handler's success completes nothing")
}
