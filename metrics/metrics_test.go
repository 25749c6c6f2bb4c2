package metrics_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/driver"
	"github.com/pgtq/pgtq/internal/pgtest"
	"github.com/pgtq/pgtq/metrics"
	"github.com/pgtq/pgtq/worker"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// scrape GETs /metrics from a promhttp handler over reg and parses the text exposition.
func scrape(t *testing.T, reg *prometheus.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return fams
}

// value returns the value of the sample of family name whose labels include want (a counter, gauge, or a
// histogram's sample count); -1 when there is none.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f, ok := fams[name]
	if !ok {
		return -1
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

func TestHookCountsEvents(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, nil)
	require.NoError(t, err)
	hook := m.Hook()
	ctx := context.Background()
	enq := time.Now().Add(-3 * time.Second)
	task := func(queue string, attempt int) worker.TaskInfo {
		return worker.TaskInfo{Queue: queue, MsgID: 1, Attempt: attempt, EnqueuedAt: enq, StartedAt: enq.Add(2 * time.Second)}
	}
	boom := errors.New("boom")
	// a: one completion; one failure retried then dead-lettered; one lost lease.
	hook(ctx, worker.Event{Kind: worker.EventClaimed, Task: task("a", 1)})
	hook(ctx, worker.Event{Kind: worker.EventCompleted, Task: task("a", 1), Duration: 10 * time.Millisecond})
	hook(ctx, worker.Event{Kind: worker.EventClaimed, Task: task("a", 1)})
	hook(ctx, worker.Event{Kind: worker.EventFailed, Task: task("a", 1), Duration: time.Second, Err: boom, Outcome: "retrying"})
	hook(ctx, worker.Event{Kind: worker.EventClaimed, Task: task("a", 2)})
	hook(ctx, worker.Event{Kind: worker.EventFailed, Task: task("a", 2), Duration: time.Second, Err: boom, Outcome: "dead_lettered"})
	hook(ctx, worker.Event{Kind: worker.EventDeadLettered, Task: task("a", 2), Duration: time.Second, Err: boom, Outcome: "dead_lettered"})
	hook(ctx, worker.Event{Kind: worker.EventClaimed, Task: task("a", 1)})
	hook(ctx, worker.Event{Kind: worker.EventLeaseLost, Task: task("a", 1), Duration: 2 * time.Second})
	// b: one completion.
	hook(ctx, worker.Event{Kind: worker.EventClaimed, Task: task("b", 1)})
	hook(ctx, worker.Event{Kind: worker.EventCompleted, Task: task("b", 1), Duration: time.Millisecond})
	inUse := 3
	m.ObserveSlots(func() int { return inUse })

	fams := scrape(t, reg)
	a, b := map[string]string{"queue": "a"}, map[string]string{"queue": "b"}
	for name, want := range map[string]float64{
		"pgtq_tasks_started_total": 4, "pgtq_tasks_completed_total": 1, "pgtq_tasks_failed_total": 2,
		"pgtq_tasks_retried_total": 1, "pgtq_tasks_dead_lettered_total": 1, "pgtq_tasks_lease_lost_total": 1,
		// every attempt that ended: completed, failed twice, lease lost (not the dead-letter event again)
		"pgtq_handler_duration_seconds": 4,
		// first attempts only
		"pgtq_enqueue_to_start_seconds": 3,
	} {
		require.Equal(t, want, value(fams, name, a), name+`{queue="a"}`)
	}
	require.Equal(t, 1.0, value(fams, "pgtq_tasks_started_total", b))
	require.Equal(t, 1.0, value(fams, "pgtq_tasks_completed_total", b))
	require.Equal(t, -1.0, value(fams, "pgtq_tasks_failed_total", b), "no series for events that did not happen")
	require.Equal(t, 3.0, value(fams, "pgtq_worker_slots_in_use", nil))
	h := fams["pgtq_enqueue_to_start_seconds"].Metric[0].Histogram
	require.InDelta(t, 3*2.0, h.GetSampleSum(), 1e-9, "enqueue to start = StartedAt - EnqueuedAt")
}

func TestNewRefusesDuplicateRegistration(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	_, err := metrics.New(reg, nil)
	require.NoError(t, err)
	_, err = metrics.New(reg, nil)
	require.ErrorContains(t, err, "metrics: register")
}

func TestQueueCollectorReportsListQueues(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client, err := driver.New(ctx, pgtest.NewDB(t))
	require.NoError(t, err)
	require.NoError(t, client.CreateQueue(ctx, "mails", nil))
	require.NoError(t, client.CreateQueue(ctx, "idle", nil))
	for range 3 {
		_, err := client.Enqueue(ctx, "mails", map[string]any{"n": 1}, nil)
		require.NoError(t, err)
	}
	_, err = client.Enqueue(ctx, "mails", map[string]any{"n": 1}, &driver.EnqueueOptions{Delay: time.Hour})
	require.NoError(t, err)
	// One task claimed (processing), one failed with a retry an hour away (retrying).
	tasks, err := client.Read(ctx, "mails", 2, time.Hour, nil)
	require.NoError(t, err)
	require.Len(t, tasks, 2)
	_, err = client.Fail(ctx, "mails", tasks[1].MsgID, tasks[1].Attempt, "boom", &driver.FailOptions{MaxRetries: 3, RetryDelay: time.Hour})
	require.NoError(t, err)
	_, err = client.Pause(ctx, "idle")
	require.NoError(t, err)

	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewQueueCollector(client, nil))
	fams := scrape(t, reg)

	qs, err := client.ListQueues(ctx)
	require.NoError(t, err)
	require.Len(t, qs, 2)
	for _, q := range qs {
		for status, n := range map[string]int64{"queued": q.Queued, "delayed": q.Delayed, "processing": q.Processing,
			"retrying": q.Retrying, "dlq": q.DLQ} {
			require.Equal(t, float64(n), value(fams, "pgtq_queue_tasks", map[string]string{"queue": q.Queue, "status": status}),
				"%s %s", q.Queue, status)
		}
	}
	mails := map[string]string{"queue": "mails"}
	require.Equal(t, 1.0, value(fams, "pgtq_queue_tasks", map[string]string{"queue": "mails", "status": "queued"}))
	require.Equal(t, 1.0, value(fams, "pgtq_queue_tasks", map[string]string{"queue": "mails", "status": "delayed"}))
	require.Equal(t, 1.0, value(fams, "pgtq_queue_tasks", map[string]string{"queue": "mails", "status": "processing"}))
	require.Equal(t, 1.0, value(fams, "pgtq_queue_tasks", map[string]string{"queue": "mails", "status": "retrying"}))
	require.GreaterOrEqual(t, value(fams, "pgtq_queue_oldest_queued_age_seconds", mails), 0.0)
	require.Equal(t, 0.0, value(fams, "pgtq_queue_oldest_queued_age_seconds", map[string]string{"queue": "idle"}))
	require.Equal(t, 0.0, value(fams, "pgtq_queue_paused", mails))
	require.Equal(t, 1.0, value(fams, "pgtq_queue_paused", map[string]string{"queue": "idle"}))
}

func TestQueueCollectorNeedsAdmin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	workerPool, err := pgxpool.New(ctx, pgtest.NewRoleURL(t, pgtest.NewDBURL(t), "pgtq_worker"))
	require.NoError(t, err)
	t.Cleanup(workerPool.Close)
	client, err := driver.New(ctx, workerPool)
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewQueueCollector(client, nil))
	_, err = reg.Gather()
	require.ErrorContains(t, err, "needs pgtq_admin")
}
