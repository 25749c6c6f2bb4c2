package gotest

import (
	"context"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/worker"
)

// TestWorkerMeasure prints measurements for the issue notes; it runs only with PGTQ_MEASURE=1:
//
//	PGTQ_MEASURE=1 go test ./tests/go -run TestWorkerMeasure -v -count=1
//
// idle: enqueue-to-start latency of an idle worker (PollInterval 30 s), one task at a time.
// burn-down: PGTQ_MEASURE_TASKS (default 20000) no-op tasks pre-enqueued, drained by one worker with
// concurrency 32; tasks/s from worker start to the last completion.
func TestWorkerMeasure(t *testing.T) {
	if os.Getenv("PGTQ_MEASURE") == "" {
		t.Skip("set PGTQ_MEASURE=1 to measure")
	}
	t.Run("idle latency", func(t *testing.T) {
		b := setupWorker(t)
		q := b.newQueue(t, false)
		p, started := startSignal(q)
		w, _ := b.runWorker(t, &worker.Options{Processors: []*worker.Processor{p}, PollInterval: 30 * time.Second})
		waitReady(t, w)
		var lat []time.Duration
		for i := range 210 {
			before := time.Now()
			b.enqueue(t, q, numPayload{N: i}, nil)
			at := awaitStart(t, started, 5*time.Second)
			if i >= 10 {
				lat = append(lat, at.Sub(before))
			}
			waitUntil(t, 5*time.Second, "task archived", func() bool { return b.queueRows(t, q) == 0 })
		}
		t.Logf("idle enqueue-to-start over %d tasks: p50=%s p90=%s p99=%s max=%s", len(lat),
			percentile(lat, 50), percentile(lat, 90), percentile(lat, 99), percentile(lat, 100))
	})
	t.Run("burn-down", func(t *testing.T) {
		n, _ := strconv.Atoi(os.Getenv("PGTQ_MEASURE_TASKS"))
		n = max(n, 20000)
		b := setupWorker(t)
		q := b.newQueue(t, false)
		payloads := make([]any, 1000)
		for i := range payloads {
			payloads[i] = numPayload{N: i}
		}
		for range n / 1000 {
			_, err := b.client.EnqueueBatch(b.ctx, q, payloads, nil)
			require.NoError(t, err)
		}
		var done atomic.Int64
		p := worker.NewProcessor(q, func(context.Context, numPayload) error { done.Add(1); return nil }, nil)
		start := time.Now()
		_, _ = b.runWorker(t, &worker.Options{Processors: []*worker.Processor{p}, ConcurrencyLimit: 32})
		waitUntil(t, 10*time.Minute, "burn-down", func() bool { return b.queueRows(t, q) == 0 })
		el := time.Since(start)
		t.Logf("burn-down: %d tasks in %s = %.0f tasks/s (handler calls %d)", n, el.Round(time.Millisecond),
			float64(n)/el.Seconds(), done.Load())
	})
}
