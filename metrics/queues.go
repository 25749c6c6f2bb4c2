package metrics

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgtq/pgtq/driver"
)

// ScrapeTimeoutDefault bounds the database call of one QueueCollector scrape.
const ScrapeTimeoutDefault = 10 * time.Second

// QueueCollectorOptions configures NewQueueCollector. A nil *QueueCollectorOptions means all defaults.
type QueueCollectorOptions struct {
	// Timeout bounds the database call of one scrape. Defaults to ScrapeTimeoutDefault.
	Timeout time.Duration
	// ConstLabels are added to every metric. Defaults to none.
	ConstLabels prometheus.Labels
}

// QueueCollector is a prometheus.Collector of every registered queue's depth, read with one SQL call
// (pgtq.list_queues, through driver.Client.ListQueues) per scrape. That function is granted to pgtq_admin
// only: the client's role must be, or inherit, pgtq_admin. When the call fails the scrape reports the error
// (promhttp answers 500 by default) instead of stale or zero values.
type QueueCollector struct {
	client  *driver.Client
	timeout time.Duration

	tasks, oldest, paused *prometheus.Desc
}

// The status label values of pgtq_queue_tasks.
var queueStatuses = []string{"queued", "delayed", "processing", "retrying", "dlq"}

// NewQueueCollector returns the queue gauges of client's database. Register it with a prometheus.Registerer.
func NewQueueCollector(client *driver.Client, opts *QueueCollectorOptions) *QueueCollector {
	var o QueueCollectorOptions
	if opts != nil {
		o = *opts
	}
	if o.Timeout <= 0 {
		o.Timeout = ScrapeTimeoutDefault
	}
	name := func(n string) string { return prometheus.BuildFQName(Namespace, "queue", n) }
	return &QueueCollector{
		client:  client,
		timeout: o.Timeout,
		tasks: prometheus.NewDesc(name("tasks"),
			"Tasks of the queue by status (queued, delayed, processing, retrying) and entries of its dead-letter queue (dlq).",
			[]string{"queue", "status"}, o.ConstLabels),
		oldest: prometheus.NewDesc(name("oldest_queued_age_seconds"),
			"Age of the oldest task waiting for a worker; 0 when none waits.", []string{"queue"}, o.ConstLabels),
		paused: prometheus.NewDesc(name("paused"),
			"1 when the queue is paused (workers claim nothing from it), else 0.", []string{"queue"}, o.ConstLabels),
	}
}

// Describe implements prometheus.Collector.
func (c *QueueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.tasks
	ch <- c.oldest
	ch <- c.paused
}

// Collect implements prometheus.Collector: one pgtq.list_queues call.
func (c *QueueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	qs, err := c.client.ListQueues(ctx)
	if err != nil {
		err = fmt.Errorf("pgtq queue metrics (the role needs pgtq_admin): %w", err)
		ch <- prometheus.NewInvalidMetric(c.tasks, err)
		return
	}
	for _, q := range qs {
		counts := []int64{q.Queued, q.Delayed, q.Processing, q.Retrying, q.DLQ}
		for i, status := range queueStatuses {
			ch <- prometheus.MustNewConstMetric(c.tasks, prometheus.GaugeValue, float64(counts[i]), q.Queue, status)
		}
		var age float64
		if q.OldestQueuedAgeSeconds != nil {
			age = *q.OldestQueuedAgeSeconds
		}
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age, q.Queue)
		var paused float64
		if q.Paused {
			paused = 1
		}
		ch <- prometheus.MustNewConstMetric(c.paused, prometheus.GaugeValue, paused, q.Queue)
	}
}
