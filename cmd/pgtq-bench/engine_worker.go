package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgtq/pgtq/driver"
	"github.com/pgtq/pgtq/worker"
)

func init() {
	childEngines["worker"] = runWorkerEngine
	producers["worker"] = func(pool *pgxpool.Pool) producer { return &driverProducer{pool: pool} }
}

// runWorkerEngine runs the real worker package: one worker.Worker with one processor, as a user's worker
// binary would.
func runWorkerEngine(ctx context.Context, o childOptions, rec *recorder) error {
	pool, err := pgxpool.New(context.Background(), o.URL)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer pool.Close()
	client, err := driver.New(ctx, pool)
	if err != nil {
		return fmt.Errorf("driver: %w", err)
	}
	proc := worker.NewProcessor(o.Queue, func(_ context.Context, p benchPayload) error {
		rec.start(p)
		rec.end(p)
		return nil
	}, &worker.ProcessorOptions{Grouped: o.Grouped, LIFO: o.LIFO, ConcurrencyLimit: o.Limit})
	w, err := worker.New(client, &worker.Options{
		Processors:       []*worker.Processor{proc},
		ConcurrencyLimit: o.Concurrency,
		PruneInterval:    worker.PruneDisabled,
		Logger:           slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	return w.Run(ctx)
}

// driverProducer enqueues through package driver, as an application would.
type driverProducer struct {
	pool   *pgxpool.Pool
	mu     sync.Mutex
	client *driver.Client
}

func (d *driverProducer) init(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.client != nil {
		return nil
	}
	c, err := driver.New(ctx, d.pool)
	if err != nil {
		return fmt.Errorf("driver: %w", err)
	}
	d.client = c
	return nil
}

func (d *driverProducer) enqueueBatch(ctx context.Context, queue string, payloads []benchPayload, groups []string) error {
	if groups != nil {
		// The driver's batch path takes one group for the whole batch; grouped backlogs load through SQL.
		return sqlProducer{d.pool}.enqueueBatch(ctx, queue, payloads, groups)
	}
	if err := d.init(ctx); err != nil {
		return err
	}
	items := make([]any, len(payloads))
	for i, p := range payloads {
		items[i] = p
	}
	_, err := d.client.EnqueueBatch(ctx, queue, items, nil)
	return err
}

func (d *driverProducer) enqueueOne(ctx context.Context, queue string, p benchPayload) error {
	if err := d.init(ctx); err != nil {
		return err
	}
	_, err := d.client.Enqueue(ctx, queue, p, nil)
	return err
}
