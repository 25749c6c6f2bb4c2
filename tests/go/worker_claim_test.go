package gotest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/worker"
)

// TestWorkerClaimsWhileReadBlocked checks that a worker's slots freed during one read are claimed by a
// second read instead of waiting for the first to return. The first read is held inside the database: it
// is a read of a queue with a concurrency limit whose per-queue claim lock the test holds. Meanwhile
// tasks of another queue finish and new ones arrive; they must start while that read still waits (with
// one read at a time they could not start before the lock is released).
func TestWorkerClaimsWhileReadBlocked(t *testing.T) {
	t.Parallel()
	b := setupWorker(t)
	fast := b.newQueue(t, false)
	slow := b.newQueue(t, false)

	// The first four fast tasks block until gate is closed; every fast task reports its start.
	gate := make(chan struct{})
	fastStarted := make(chan int, 16)
	pFast := worker.NewProcessor(fast, func(ctx context.Context, p numPayload) error {
		fastStarted <- p.N
		if p.N < 4 {
			select {
			case <-gate:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}, nil)
	slowStarted := make(chan time.Time, 1)
	pSlow := worker.NewProcessor(slow, func(context.Context, numPayload) error {
		slowStarted <- time.Now()
		return nil
	}, &worker.ProcessorOptions{ConcurrencyLimit: 5})

	for i := range 4 {
		b.enqueue(t, fast, numPayload{N: i}, nil)
	}
	w, _ := b.runWorker(t, &worker.Options{
		Processors: []*worker.Processor{pFast, pSlow}, ConcurrencyLimit: 8, PollInterval: 30 * time.Second,
	})
	waitReady(t, w)
	for range 4 {
		select {
		case <-fastStarted:
		case <-time.After(10 * time.Second):
			t.Fatal("the first fast tasks did not start")
		}
	}

	// Hold slow's claim lock (the key pgtq.read takes for a queue with a concurrency limit) and give the
	// worker a slow task: its read takes the 4 free slots and waits for the lock.
	lockConn, err := b.pool.Acquire(b.ctx)
	require.NoError(t, err)
	defer lockConn.Release()
	_, err = lockConn.Exec(b.ctx, `SELECT pg_advisory_lock(hashtext('pgtq.limit'), hashtext($1))`, slow)
	require.NoError(t, err)
	b.enqueue(t, slow, numPayload{N: 100}, nil)
	waitUntil(t, 10*time.Second, "the worker's read of the limited queue waiting for its lock", func() bool {
		return b.count(t, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND wait_event_type = 'Lock' AND wait_event = 'advisory' AND query LIKE '%pgtq.read%'`) == 1
	})

	// The four running fast tasks finish (freeing their slots) and four more arrive.
	close(gate)
	for i := 4; i < 8; i++ {
		b.enqueue(t, fast, numPayload{N: i}, nil)
	}
	got := map[int]bool{}
	for len(got) < 4 {
		select {
		case n := <-fastStarted:
			got[n] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("only fast tasks %v started while the other read waited", got)
		}
	}
	require.Equal(t, map[int]bool{4: true, 5: true, 6: true, 7: true}, got)
	select {
	case <-slowStarted:
		t.Fatal("the slow task started while its queue's claim lock was held")
	default:
	}

	_, err = lockConn.Exec(b.ctx, `SELECT pg_advisory_unlock(hashtext('pgtq.limit'), hashtext($1))`, slow)
	require.NoError(t, err)
	select {
	case <-slowStarted:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow task did not start after the lock was released")
	}
	waitUntil(t, 10*time.Second, "all tasks archived", func() bool {
		return b.archived(t, fast, "completed") == 8 && b.archived(t, slow, "completed") == 1
	})
}
