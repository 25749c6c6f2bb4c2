package gotest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/worker"
)

type numPayload struct {
	N   int    `json:"n"`
	Key string `json:"key,omitempty"`
}

// errorTexts returns the x-pgtq-errors texts (the seed's list of strings) of the archived (or DLQ'd) original
// msgID.
func (b *workerBundle) errorTexts(t *testing.T, queue string, msgID int64) []string {
	t.Helper()
	rows, err := b.pool.Query(b.ctx, `
		SELECT e FROM `+table("a", queue)+` a,
		       jsonb_array_elements_text(COALESCE(a.headers->'x-pgtq-errors', '[]')) e
		WHERE a.msg_id = $1`, msgID)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(t, rows.Err())
	return out
}

func TestWorkerRetryDelay(t *testing.T) {
	t.Parallel()
	b := setupWorker(t)
	q := b.newQueue(t, false)
	var runs spans
	p := worker.NewProcessor(q, func(ctx context.Context, _ numPayload) error {
		info, _ := worker.TaskFromContext(ctx)
		runs.add(span{msgID: info.MsgID, attempt: info.Attempt, start: time.Now()})
		return fmt.Errorf("boom %d", info.Attempt)
	}, &worker.ProcessorOptions{MaxRetries: 2, RetryDelay: worker.FixedDelay(time.Second)})
	// A 30 s poll interval: only the worker's due-time timer can start the retries on time.
	_, _ = b.runWorker(t, &worker.Options{Processors: []*worker.Processor{p}, PollInterval: 30 * time.Second})
	id := b.enqueue(t, q, numPayload{N: 1}, nil)

	waitUntil(t, 15*time.Second, "task dead-lettered", func() bool { return b.archived(t, q, "dead_lettered") == 1 })
	got := runs.snapshot()
	require.Len(t, got, 3, "max_retries=2 means 3 attempts")
	for i, r := range got {
		require.Equal(t, id, r.msgID)
		require.Equal(t, i+1, r.attempt)
		if i > 0 {
			gap := r.start.Sub(got[i-1].start)
			require.GreaterOrEqual(t, gap, time.Second, "retry %d started before its delay", i)
			require.Less(t, gap, 2500*time.Millisecond, "retry %d started late: the due timer did not fire", i)
		}
	}
	require.Equal(t, []string{"boom 1", "boom 2", "boom 3"}, b.errorTexts(t, q, id))
	require.EqualValues(t, 1, b.queueRows(t, q+"_dlq"))
}

func TestWorkerRetryDelayPolicies(t *testing.T) {
	t.Parallel()
	require.Equal(t, 3*time.Second, worker.FixedDelay(3*time.Second).Delay(7))
	lin := worker.LinearDelay(2*time.Second, 5*time.Second)
	require.Equal(t, []time.Duration{2 * time.Second, 4 * time.Second, 5 * time.Second},
		[]time.Duration{lin.Delay(1), lin.Delay(2), lin.Delay(3)})
	exp := worker.ExponentialDelay(time.Second, 10*time.Second, 0)
	require.Equal(t, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second},
		[]time.Duration{exp.Delay(1), exp.Delay(2), exp.Delay(3), exp.Delay(4), exp.Delay(5)})
	jit := worker.ExponentialDelay(time.Second, time.Minute, 0.5)
	for range 100 {
		d := jit.Delay(3) // 4 s minus up to half
		require.True(t, d > 2*time.Second-time.Millisecond && d <= 4*time.Second, "jittered delay %s", d)
	}
	custom := worker.RetryDelayFunc(func(a int) time.Duration { return time.Duration(a*a) * time.Second })
	require.Equal(t, 9*time.Second, custom.Delay(3))
}

type codedError struct{ code int }

func (e *codedError) Error() string { return fmt.Sprintf("code %d", e.code) }

var errTransient = errors.New("transient")

func TestWorkerRetryOn(t *testing.T) {
	t.Parallel()
	b := setupWorker(t)
	q := b.newQueue(t, false)
	var mu sync.Mutex
	attempts := map[int]int{}
	p := worker.NewProcessor(q, func(ctx context.Context, in numPayload) error {
		mu.Lock()
		attempts[in.N]++
		mu.Unlock()
		switch in.N {
		case 1:
			return fmt.Errorf("wrapped: %w", errTransient) // errors.Is match
		case 2:
			return &codedError{code: 7} // errors.As match
		case 3:
			return errors.New("retry me please") // predicate match
		default:
			return errors.New("permanent") // no match: straight to the DLQ
		}
	}, &worker.ProcessorOptions{
		MaxRetries: 2,
		RetryOn: []worker.RetryMatcher{
			worker.RetryOnError(errTransient),
			worker.RetryOnType[*codedError](),
			func(err error) bool { return strings.Contains(err.Error(), "retry me") },
		},
	})
	_, _ = b.runWorker(t, &worker.Options{Processors: []*worker.Processor{p}, ConcurrencyLimit: 4})
	for n := 1; n <= 4; n++ {
		b.enqueue(t, q, numPayload{N: n}, nil)
	}
	waitUntil(t, 15*time.Second, "all four dead-lettered", func() bool { return b.archived(t, q, "dead_lettered") == 4 })
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, map[int]int{1: 3, 2: 3, 3: 3, 4: 1}, attempts)
}

func TestWorkerTimeout(t *testing.T) {
	t.Parallel()
	b := setupWorker(t)
	q := b.newQueue(t, false)
	causes := make(chan error, 1)
	p := worker.NewProcessor(q, func(ctx context.Context, _ numPayload) error {
		<-ctx.Done()
		causes <- context.Cause(ctx)
		return ctx.Err()
	}, &worker.ProcessorOptions{Timeout: time.Second})
	_, _ = b.runWorker(t, &worker.Options{Processors: []*worker.Processor{p}})
	start := time.Now()
	id := b.enqueue(t, q, numPayload{}, nil)
	select {
	case cause := <-causes:
		require.ErrorIs(t, cause, worker.ErrTaskTimeout)
	case <-time.After(10 * time.Second):
		t.Fatal("handler ctx was not cancelled by the timeout")
	}
	waitUntil(t, 10*time.Second, "timeout recorded", func() bool { return b.archived(t, q, "dead_lettered") == 1 })
	// Recorded well before the lease (timeout + at least 5 s of grace) could end.
	require.Less(t, time.Since(start), 4*time.Second)
	errs := b.errorTexts(t, q, id)
	require.Len(t, errs, 1)
	require.Contains(t, errs[0], "timed out")
}

func TestWorkerHeartbeat(t *testing.T) {
	t.Parallel()
	b := setupWorker(t)
	q := b.newQueue(t, false)
	results := make(chan error, 1)
	p := worker.NewProcessor(q, func(ctx context.Context, _ numPayload) error {
		// Runs 2.5 s with a 1 s timeout, staying alive by heartbeating every 300 ms.
		deadline := time.Now().Add(2500 * time.Millisecond)
		for time.Now().Before(deadline) {
			select {
			case <-ctx.Done():
				results <- context.Cause(ctx)
				return ctx.Err()
			case <-time.After(300 * time.Millisecond): // simulated work between heartbeats
			}
			if err := worker.Heartbeat(ctx); err != nil {
				results <- err
				return err
			}
		}
		results <- nil
		return nil
	}, &worker.ProcessorOptions{Timeout: time.Second})
	_, _ = b.runWorker(t, &worker.Options{Processors: []*worker.Processor{p}})
	b.enqueue(t, q, numPayload{}, nil)
	select {
	case err := <-results:
		require.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("handler did not finish")
	}
	waitUntil(t, 10*time.Second, "task completed", func() bool { return b.archived(t, q, "completed") == 1 })
	require.ErrorIs(t, worker.Heartbeat(context.Background()), worker.ErrNoTask)
}

func TestWorkerIdempotencyKey(t *testing.T) {
	t.Parallel()
	b := setupWorker(t)
	q := b.newQueue(t, false)
	type seen struct{ key, taskID string }
	keys := make(chan seen, 10)
	p := worker.NewProcessor(q, func(ctx context.Context, in numPayload) error {
		info, _ := worker.TaskFromContext(ctx)
		keys <- seen{in.Key, info.TaskID}
		if len(info.Headers) > 0 && info.Headers["x-pgtq-original"] != nil {
			return nil // the rescheduled copy succeeds
		}
		return errors.New("fail until rescheduled")
	}, &worker.ProcessorOptions{MaxRetries: 1, IdempotencyKey: "key"})
	_, _ = b.runWorker(t, &worker.Options{Processors: []*worker.Processor{p}})
	b.enqueue(t, q, numPayload{N: 1, Key: "caller value is overwritten"}, nil)
	waitUntil(t, 10*time.Second, "task dead-lettered", func() bool { return b.archived(t, q, "dead_lettered") == 1 })
	entries, err := b.client.ListDLQ(b.ctx, q, 10)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	_, err = b.client.Reschedule(b.ctx, q, entries[0].MsgID)
	require.NoError(t, err)
	waitUntil(t, 10*time.Second, "rescheduled task completed", func() bool { return b.archived(t, q, "completed") == 1 })

	require.Len(t, keys, 3, "two attempts, then the rescheduled run")
	first := <-keys
	require.NotEmpty(t, first.key)
	require.Equal(t, first.taskID, first.key)
	for range 2 {
		require.Equal(t, first, <-keys)
	}
}

type validated struct {
	N int `json:"n"`
}

func (v validated) Validate() error {
	if v.N < 0 {
		return fmt.Errorf("n must be >= 0, got %d", v.N)
	}
	return nil
}

func TestWorkerValidationFailuresGoToDLQ(t *testing.T) {
	t.Parallel()
	b := setupWorker(t)
	q := b.newQueue(t, false)
	handled := make(chan int, 10)
	p := worker.NewProcessor(q, func(_ context.Context, in validated) error {
		handled <- in.N
		return nil
	}, &worker.ProcessorOptions{MaxRetries: 5})
	_, _ = b.runWorker(t, &worker.Options{Processors: []*worker.Processor{p}})
	// Untyped enqueues bypass the producer-side Validate, as a trigger or psql would.
	invalid := b.enqueue(t, q, map[string]any{"n": -1}, nil)
	undecodable := b.enqueue(t, q, map[string]any{"n": "not a number"}, nil)
	b.enqueue(t, q, map[string]any{"n": 5}, nil)
	waitUntil(t, 10*time.Second, "2 dead-lettered, 1 completed", func() bool {
		return b.archived(t, q, "dead_lettered") == 2 && b.archived(t, q, "completed") == 1
	})
	require.Equal(t, 5, <-handled)
	require.Empty(t, handled, "the handler must not see bad payloads")
	// Dead-lettered on the first attempt despite MaxRetries: 5.
	for _, id := range []int64{invalid, undecodable} {
		errs := b.errorTexts(t, q, id)
		require.Len(t, errs, 1, "msg %d", id)
	}
	require.Contains(t, b.errorTexts(t, q, invalid)[0], "n must be >= 0")
	require.Contains(t, b.errorTexts(t, q, undecodable)[0], "decode payload")
}

func TestWorkerPanicsAreFailures(t *testing.T) {
	t.Parallel()
	b := setupWorker(t)
	q := b.newQueue(t, false)
	p := worker.NewProcessor(q, func(ctx context.Context, in numPayload) error {
		info, _ := worker.TaskFromContext(ctx)
		if in.N == 1 && info.Attempt == 1 {
			panic("first attempt explodes")
		}
		if in.N == 2 {
			panic(fmt.Sprintf("always explodes (attempt %d)", info.Attempt))
		}
		return nil
	}, &worker.ProcessorOptions{MaxRetries: 1})
	_, _ = b.runWorker(t, &worker.Options{Processors: []*worker.Processor{p}})
	recovers := b.enqueue(t, q, numPayload{N: 1}, nil)
	dies := b.enqueue(t, q, numPayload{N: 2}, nil)
	waitUntil(t, 10*time.Second, "one completed, one dead-lettered", func() bool {
		return b.archived(t, q, "completed") == 1 && b.archived(t, q, "dead_lettered") == 1
	})
	errs := b.errorTexts(t, q, recovers)
	require.Len(t, errs, 1)
	require.Contains(t, errs[0], "handler panicked: first attempt explodes")
	require.Len(t, b.errorTexts(t, q, dies), 2)
	require.EqualValues(t, 1, b.count(t, `SELECT count(*) FROM `+table("a", q)+` WHERE msg_id = $1
		AND headers->>'x-pgtq-status' = 'completed'`, recovers))
}
