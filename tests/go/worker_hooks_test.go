package gotest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/worker"
)

// attemptKey names one attempt of one task.
type attemptKey struct {
	msgID   int64
	attempt int
}

// hookLog records lifecycle events and middleware calls per attempt, in order. (The order is promised within
// an attempt: a retry due at once can be claimed, on another goroutine, before the failed attempt's events
// ran, since they run after the failure is recorded.)
type hookLog struct {
	mu     sync.Mutex
	events map[attemptKey][]string
}

func (l *hookLog) add(t worker.TaskInfo, what string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := attemptKey{t.MsgID, t.Attempt}
	l.events[k] = append(l.events[k], what)
}

func (l *hookLog) get(k attemptKey) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.events[k]...)
}

// TestWorkerHooksAndMiddleware runs a completed, a panicking (dead-lettered), a retried and an operator-
// cancelled task through a worker with hooks and middleware on the worker and on the processor: every event
// fires once, in order, worker hooks before processor hooks; middleware nests worker outside processor; and
// the cancelled task's Heartbeat reports the lost lease and cancels its handler's context.
func TestWorkerHooksAndMiddleware(t *testing.T) {
	t.Parallel()
	b := setupWorker(t)
	q := b.newQueue(t, false)
	log := &hookLog{events: map[attemptKey][]string{}}
	hook := func(prefix string) worker.HookFunc {
		return func(_ context.Context, e worker.Event) {
			what := prefix + e.Kind.String()
			if e.Outcome != "" {
				what += "(" + e.Outcome + ")"
			}
			log.add(e.Task, what)
		}
	}
	mw := func(name string) worker.Middleware {
		return func(ctx context.Context, task worker.TaskInfo, next func(context.Context) error) error {
			log.add(task, name+">")
			err := next(ctx)
			log.add(task, "<"+name)
			return err
		}
	}
	cancelled := make(chan struct{})
	causes := make(chan error, 1)
	p := worker.NewProcessor(q, func(ctx context.Context, in numPayload) error {
		info, _ := worker.TaskFromContext(ctx)
		log.add(info, "handler")
		switch in.N {
		case 2:
			panic("boom")
		case 3:
			if info.Attempt == 1 {
				return errors.New("once")
			}
		case 4:
			close(cancelled)
			// Wait for the operator's cancel: the next heartbeat reports it and cancels ctx.
			for {
				if err := worker.Heartbeat(ctx); errors.Is(err, worker.ErrLeaseLost) {
					causes <- context.Cause(ctx)
					return nil
				} else if err != nil {
					return fmt.Errorf("heartbeat: %w", err)
				}
				select {
				case <-time.After(20 * time.Millisecond): // heartbeat period
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		return nil
	}, &worker.ProcessorOptions{MaxRetries: 1, Hooks: []worker.HookFunc{hook("p:")},
		Middleware: []worker.Middleware{mw("p1"), mw("p2")}})
	_, _ = b.runWorker(t, &worker.Options{Processors: []*worker.Processor{p}, ConcurrencyLimit: 4,
		Hooks: []worker.HookFunc{hook("w:")}, Middleware: []worker.Middleware{mw("w")}})

	ids := make([]int64, 5)
	for n := 1; n <= 4; n++ {
		ids[n] = b.enqueue(t, q, numPayload{N: n}, nil)
	}
	select {
	case <-cancelled:
	case <-time.After(20 * time.Second):
		t.Fatal("task 4 did not start")
	}
	done, status, err := b.client.Cancel(b.ctx, q, ids[4])
	require.NoError(t, err)
	require.True(t, done, "cancelled while processing (status %s)", status)
	select {
	case cause := <-causes:
		require.ErrorIs(t, cause, worker.ErrLeaseLost, "the handler's context is cancelled with the lost lease")
	case <-time.After(20 * time.Second):
		t.Fatal("the cancelled task's heartbeat never reported the lost lease")
	}
	call := []string{"w>", "p1>", "p2>", "handler", "<p2", "<p1", "<w"}
	// A panic unwinds through the middleware (the worker recovers it outside the chain): no way out recorded.
	panicked := []string{"w>", "p1>", "p2>", "handler"}
	seq := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	claimed := []string{"w:claimed", "p:claimed"}
	want := map[attemptKey][]string{
		{ids[1], 1}: seq(claimed, call, []string{"w:completed", "p:completed"}),
		{ids[2], 1}: seq(claimed, panicked, []string{"w:failed(retrying)", "p:failed(retrying)"}),
		{ids[2], 2}: seq(claimed, panicked, []string{"w:failed(dead_lettered)", "p:failed(dead_lettered)",
			"w:dead_lettered(dead_lettered)", "p:dead_lettered(dead_lettered)"}),
		{ids[3], 1}: seq(claimed, call, []string{"w:failed(retrying)", "p:failed(retrying)"}),
		{ids[3], 2}: seq(claimed, call, []string{"w:completed", "p:completed"}),
		{ids[4], 1}: seq(claimed, call, []string{"w:lease_lost", "p:lease_lost"}),
	}
	waitUntil(t, 20*time.Second, "every attempt's events", func() bool {
		for k, w := range want {
			if len(log.get(k)) < len(w) {
				return false
			}
		}
		return true
	})
	for k, w := range want {
		require.Equal(t, w, log.get(k), "task %d attempt %d", k.msgID, k.attempt)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	require.Len(t, log.events, len(want), "no other attempt ran")
}
