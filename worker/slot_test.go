package worker

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/driver"
)

// slotTestTimeout bounds every wait of the slot tests, so that a hang fails the test, not the run.
const slotTestTimeout = 30 * time.Second

type slotJob struct {
	Block bool `json:"block"`
}

type slotBundle struct {
	ctx    context.Context
	client *driver.Client
	queue  string
}

// setupSlots opens a client on the database that TestMain (pgtqtest.ExamplesMain) created and creates a
// queue named after the test. Without PGTQ_DATABASE_URL there is none, and the test is skipped.
func setupSlots(t *testing.T) *slotBundle {
	t.Helper()
	url := os.Getenv("DATABASE_URL")
	if os.Getenv("PGTQ_DATABASE_URL") == "" || url == "" {
		t.Skip("needs a database: set PGTQ_DATABASE_URL")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*slotTestTimeout)
	t.Cleanup(cancel)
	pool, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	client, err := driver.New(ctx, pool)
	require.NoError(t, err)
	queue := strings.ToLower(strings.TrimPrefix(t.Name(), "Test"))
	require.NoError(t, client.CreateQueue(ctx, queue, nil))
	return &slotBundle{ctx: ctx, client: client, queue: queue}
}

// run runs w until the returned stop is called (or the test ends); stop waits for Run to return.
func (b *slotBundle) run(t *testing.T, w *Worker) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(b.ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(slotTestTimeout):
			t.Fatal("worker did not stop")
		}
	}
	t.Cleanup(stop)
	return stop
}

func (b *slotBundle) enqueue(t *testing.T, job slotJob) int64 {
	t.Helper()
	id, err := b.client.Enqueue(b.ctx, b.queue, job, nil)
	require.NoError(t, err)
	return id
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// A burst of tasks runs on at most ConcurrencyLimit slot goroutines, reused from task to task, and never
// more handlers at once than the limit.
func TestSlotsAreReusedUpToTheLimit(t *testing.T) {
	t.Parallel()
	b := setupSlots(t)
	const limit, tasks = 4, 200
	var running, peak atomic.Int32
	done := make(chan struct{}, tasks)
	p := NewProcessor(b.queue, func(context.Context, slotJob) error {
		n := running.Add(1)
		for old := peak.Load(); n > old && !peak.CompareAndSwap(old, n); old = peak.Load() {
		}
		time.Sleep(time.Millisecond) // simulated work, so that the handlers overlap
		running.Add(-1)
		done <- struct{}{}
		return nil
	}, nil)
	w, err := New(b.client, &Options{Processors: []*Processor{p}, ConcurrencyLimit: limit, Logger: quietLogger()})
	require.NoError(t, err)
	payloads := make([]any, tasks)
	for i := range payloads {
		payloads[i] = slotJob{}
	}
	_, err = b.client.EnqueueBatch(b.ctx, b.queue, payloads, nil)
	require.NoError(t, err)

	stop := b.run(t, w)
	for i := range tasks {
		select {
		case <-done:
		case <-time.After(slotTestTimeout):
			t.Fatalf("%d of %d tasks ran", i, tasks)
		}
		require.LessOrEqual(t, w.SlotsInUse(), limit)
	}
	stop()
	require.LessOrEqual(t, int(peak.Load()), limit)
	w.mu.Lock()
	made, idle := w.slotsMade, len(w.idle)
	w.mu.Unlock()
	require.Positive(t, made)
	require.LessOrEqual(t, made, limit, "slots started")
	require.Zero(t, idle, "Run stops the idle slots")
	require.Zero(t, w.SlotsInUse())
}

// A handler that ignores its timeout is abandoned after the grace period: its failure is recorded once, its
// slot is replaced while it still blocks, and its late return records nothing and ends its goroutine.
func TestAbandonedHandlerRecordsOneOutcome(t *testing.T) {
	t.Parallel()
	b := setupSlots(t)
	unblock, returned := make(chan struct{}), make(chan struct{})
	p := NewProcessor(b.queue, func(_ context.Context, j slotJob) error {
		if j.Block {
			defer close(returned)
			<-unblock // ignores its ctx
		}
		return nil
	}, &ProcessorOptions{Timeout: 100 * time.Millisecond})
	events := make(chan Event, 100)
	w, err := New(b.client, &Options{
		Processors:       []*Processor{p},
		ConcurrencyLimit: 1,
		Logger:           quietLogger(),
		Hooks:            []HookFunc{func(_ context.Context, e Event) { events <- e }},
	})
	require.NoError(t, err)
	expect := func(id int64, kinds ...EventKind) {
		t.Helper()
		for _, k := range kinds {
			select {
			case e := <-events:
				require.Equal(t, id, e.Task.MsgID, "event %s", e.Kind)
				require.Equal(t, k, e.Kind, "msg %d", id)
				if k == EventFailed {
					require.ErrorIs(t, e.Err, ErrTaskTimeout)
				}
			case <-time.After(slotTestTimeout):
				t.Fatalf("no %s event for msg %d", k, id)
			}
		}
	}

	blocked := b.enqueue(t, slotJob{Block: true})
	stop := b.run(t, w)
	expect(blocked, EventClaimed, EventFailed, EventDeadLettered)
	// The only slot was given up with the abandoned handler: a new one runs the next task meanwhile.
	next := b.enqueue(t, slotJob{})
	expect(next, EventClaimed, EventCompleted)

	close(unblock)
	<-returned
	// A completion of the abandoned attempt would reach the completer before this task's.
	after := b.enqueue(t, slotJob{})
	expect(after, EventClaimed, EventCompleted)
	stop()
	require.Empty(t, events)
	w.mu.Lock()
	made := w.slotsMade
	w.mu.Unlock()
	require.Equal(t, 2, made, "the abandoned slot and its replacement, reused for the last task")
	require.Zero(t, w.SlotsInUse())
}
