package metrics_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/driver"
	"github.com/pgtq/pgtq/internal/pgtest"
	"github.com/pgtq/pgtq/metrics"
	"github.com/pgtq/pgtq/worker"
)

// A real worker runs tasks that complete, fail once then complete, fail for good, and one that blocks; the
// scraped metrics equal what happened.
func TestMetricsOfAWorkerRun(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client, err := driver.New(ctx, pgtest.NewDB(t))
	require.NoError(t, err)
	require.NoError(t, client.CreateQueue(ctx, "jobs", nil))

	type job struct {
		Kind string `json:"kind"` // ok, flaky, bad, block
	}
	var flakyRuns atomic.Int32
	blocked, unblock := make(chan struct{}), make(chan struct{})
	proc := worker.NewProcessor("jobs", func(ctx context.Context, j job) error {
		switch j.Kind {
		case "flaky":
			if info, _ := worker.TaskFromContext(ctx); info.Attempt == 1 {
				flakyRuns.Add(1)
				return errors.New("flaky")
			}
		case "bad":
			return worker.NonRetryable(errors.New("bad"))
		case "block":
			close(blocked)
			<-unblock
		}
		return nil
	}, &worker.ProcessorOptions{MaxRetries: 1})

	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, nil)
	require.NoError(t, err)
	// ended counts the attempts that reached their end (completed or dead-lettered) to know when to scrape.
	var ended atomic.Int32
	done := make(chan struct{})
	const wantEnded = 5 + 2 + 1 + 1
	count := func(_ context.Context, e worker.Event) {
		if e.Kind == worker.EventCompleted || e.Kind == worker.EventDeadLettered {
			if ended.Add(1) == wantEnded {
				close(done)
			}
		}
	}
	w, err := worker.New(client, &worker.Options{Processors: []*worker.Processor{proc}, ConcurrencyLimit: 4,
		Hooks: []worker.HookFunc{m.Hook(), count}})
	require.NoError(t, err)
	m.ObserveSlots(w.SlotsInUse)

	for _, kind := range []string{"ok", "ok", "ok", "ok", "ok", "flaky", "flaky", "bad", "block"} {
		_, err := client.Enqueue(ctx, "jobs", job{Kind: kind}, nil)
		require.NoError(t, err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- w.Run(ctx) }()

	<-blocked
	fams := scrape(t, reg)
	require.GreaterOrEqual(t, value(fams, "pgtq_worker_slots_in_use", nil), 1.0, "the blocked handler holds a slot")
	close(unblock)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("only %d of %d tasks ended", ended.Load(), wantEnded)
	}
	cancel()
	require.NoError(t, <-runErr)

	fams = scrape(t, reg)
	q := map[string]string{"queue": "jobs"}
	require.Equal(t, int32(2), flakyRuns.Load())
	for name, want := range map[string]float64{
		"pgtq_tasks_started_total":       9 + 2, // every task once, the flaky ones twice
		"pgtq_tasks_completed_total":     5 + 2 + 1,
		"pgtq_tasks_failed_total":        2 + 1,
		"pgtq_tasks_retried_total":       2,
		"pgtq_tasks_dead_lettered_total": 1,
		"pgtq_handler_duration_seconds":  9 + 2,
		"pgtq_enqueue_to_start_seconds":  9,
	} {
		require.Equal(t, want, value(fams, name, q), name)
	}
	require.Equal(t, -1.0, value(fams, "pgtq_tasks_lease_lost_total", q), "no lease was lost")
	require.Equal(t, 0.0, value(fams, "pgtq_worker_slots_in_use", nil))

	st, err := client.Stats(context.Background(), "jobs") // ctx ended with the worker
	require.NoError(t, err)
	require.EqualValues(t, 1, st.DLQ, "the database agrees: one task dead-lettered")
}
