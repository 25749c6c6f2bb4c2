// Package metrics exports PGTQ's Prometheus metrics: counters and histograms fed by a worker's lifecycle hooks,
// the worker's busy slots, and a collector of every queue's depth read from the database at scrape time.
//
// In a worker process:
//
//	reg := prometheus.NewRegistry()
//	m, err := metrics.New(reg)
//	w, err := worker.New(client, &worker.Options{Processors: procs, Hooks: []worker.HookFunc{m.Hook()}})
//	m.ObserveSlots(w.SlotsInUse)
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// Anywhere with an admin connection (`pgtq serve` does this): reg.MustRegister(metrics.NewQueueCollector(client,
// nil)).
//
// The worker metrics, all labelled by queue:
//
//	pgtq_tasks_started_total           counter    handlers started (EventClaimed)
//	pgtq_tasks_completed_total         counter    completions recorded
//	pgtq_tasks_failed_total            counter    failures recorded (errors, panics, timeouts, bad payloads)
//	pgtq_tasks_retried_total           counter    failures that will be retried (outcome "retrying")
//	pgtq_tasks_dead_lettered_total     counter    failures that were final (moved to the DLQ, or archived as failed)
//	pgtq_tasks_lease_lost_total        counter    attempts whose outcome could not be recorded (lease gone)
//	pgtq_handler_duration_seconds      histogram  handler run time of every attempt that ended
//	pgtq_enqueue_to_start_seconds      histogram  enqueue to handler start, first attempts only
//	pgtq_worker_slots_in_use           gauge      tasks running in the worker (no queue label)
//
// The queue gauges (QueueCollector), labelled by queue:
//
//	pgtq_queue_tasks{status}                 queued, delayed, processing, retrying, dlq
//	pgtq_queue_oldest_queued_age_seconds     age of the oldest visible task, 0 when none
//	pgtq_queue_paused                        1 when the queue is paused
//
// This package is the only one of PGTQ that imports the Prometheus client: the driver and worker do not.
package metrics

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgtq/pgtq/driver"
	"github.com/pgtq/pgtq/worker"
)

// Namespace prefixes every metric name.
const Namespace = "pgtq"

// DurationBucketsDefault are the buckets of pgtq_handler_duration_seconds: 5 ms to about 10 minutes.
var DurationBucketsDefault = prometheus.ExponentialBucketsRange(0.005, 600, 16)

// LatencyBucketsDefault are the buckets of pgtq_enqueue_to_start_seconds: 1 ms to about 1 hour.
var LatencyBucketsDefault = prometheus.ExponentialBucketsRange(0.001, 3600, 18)

// Options configures New. A nil *Options means all defaults.
type Options struct {
	// DurationBuckets are the histogram buckets of pgtq_handler_duration_seconds. Defaults to
	// DurationBucketsDefault.
	DurationBuckets []float64
	// LatencyBuckets are the histogram buckets of pgtq_enqueue_to_start_seconds. Defaults to
	// LatencyBucketsDefault.
	LatencyBuckets []float64
	// ConstLabels are added to every metric (e.g. {"worker": hostname}). Defaults to none.
	ConstLabels prometheus.Labels
}

// Metrics holds a worker's metrics. Feed it with Hook and ObserveSlots. It is safe for concurrent use.
type Metrics struct {
	started, completed, failed, retried, deadLettered, leaseLost *prometheus.CounterVec

	handlerDuration, enqueueToStart *prometheus.HistogramVec

	slots     prometheus.GaugeFunc
	slotsFunc atomic.Pointer[func() int]
}

// New creates the worker metrics and registers them with reg (prometheus.DefaultRegisterer when nil). It fails
// when reg already holds metrics of the same names.
func New(reg prometheus.Registerer, opts *Options) (*Metrics, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.DurationBuckets == nil {
		o.DurationBuckets = DurationBucketsDefault
	}
	if o.LatencyBuckets == nil {
		o.LatencyBuckets = LatencyBucketsDefault
	}
	if reg == nil {
		reg = prometheus.DefaultRegisterer
	}
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: name, Help: help, ConstLabels: o.ConstLabels,
		}, []string{"queue"})
	}
	m := &Metrics{
		started:      counter("tasks_started_total", "Task handlers started (claimed tasks)."),
		completed:    counter("tasks_completed_total", "Task completions recorded."),
		failed:       counter("tasks_failed_total", "Task failures recorded (errors, panics, timeouts, invalid payloads)."),
		retried:      counter("tasks_retried_total", "Task failures recorded with a retry to come."),
		deadLettered: counter("tasks_dead_lettered_total", "Task failures that were final: moved to the dead-letter queue or archived as failed."),
		leaseLost:    counter("tasks_lease_lost_total", "Attempts whose outcome could not be recorded because the lease was gone."),
		handlerDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "handler_duration_seconds", ConstLabels: o.ConstLabels,
			Help:    "How long task handlers ran, for every attempt that ended (completed, failed or lease lost).",
			Buckets: o.DurationBuckets,
		}, []string{"queue"}),
		enqueueToStart: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "enqueue_to_start_seconds", ConstLabels: o.ConstLabels,
			Help:    "Time from enqueue to the start of a task's first attempt.",
			Buckets: o.LatencyBuckets,
		}, []string{"queue"}),
	}
	m.slots = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "worker_slots_in_use", ConstLabels: o.ConstLabels,
		Help: "Task slots of the worker running a handler now.",
	}, func() float64 {
		if f := m.slotsFunc.Load(); f != nil {
			return float64((*f)())
		}
		return 0
	})
	for _, c := range []prometheus.Collector{m.started, m.completed, m.failed, m.retried, m.deadLettered,
		m.leaseLost, m.handlerDuration, m.enqueueToStart, m.slots} {
		if err := reg.Register(c); err != nil {
			return nil, errors.Join(errors.New("metrics: register"), err)
		}
	}
	return m, nil
}

// ObserveSlots makes pgtq_worker_slots_in_use report inUse() at every scrape; pass the worker's SlotsInUse.
// Until it is called the gauge reports 0. inUse must be safe to call from any goroutine.
func (m *Metrics) ObserveSlots(inUse func() int) {
	if inUse == nil {
		m.slotsFunc.Store(nil)
		return
	}
	m.slotsFunc.Store(&inUse)
}

// Hook returns the worker.HookFunc that counts lifecycle events. Register it on worker.Options.Hooks (every
// processor) or on one processor's ProcessorOptions.Hooks. It does not allocate per event once a queue's
// series exist.
func (m *Metrics) Hook() worker.HookFunc {
	return m.observe
}

func (m *Metrics) observe(_ context.Context, e worker.Event) {
	q := e.Task.Queue
	switch e.Kind {
	case worker.EventClaimed:
		m.started.WithLabelValues(q).Inc()
		if e.Task.Attempt <= 1 && !e.Task.EnqueuedAt.IsZero() && !e.Task.StartedAt.IsZero() {
			m.enqueueToStart.WithLabelValues(q).Observe(max(0, e.Task.StartedAt.Sub(e.Task.EnqueuedAt).Seconds()))
		}
	case worker.EventCompleted:
		m.completed.WithLabelValues(q).Inc()
		m.handlerDuration.WithLabelValues(q).Observe(e.Duration.Seconds())
	case worker.EventFailed:
		m.failed.WithLabelValues(q).Inc()
		if e.Outcome == string(driver.FailRetrying) {
			m.retried.WithLabelValues(q).Inc()
		}
		m.handlerDuration.WithLabelValues(q).Observe(e.Duration.Seconds())
	case worker.EventDeadLettered:
		m.deadLettered.WithLabelValues(q).Inc()
	case worker.EventLeaseLost:
		m.leaseLost.WithLabelValues(q).Inc()
		m.handlerDuration.WithLabelValues(q).Observe(e.Duration.Seconds())
	}
}
