package worker_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgtq/pgtq/driver"
	"github.com/pgtq/pgtq/pgtqtest"
	"github.com/pgtq/pgtq/worker"
)

// TestMain gives the Examples a fresh migrated database when PGTQ_DATABASE_URL names a server (see
// pgtqtest.ExamplesMain); without it those Examples are left out, with a message.
func TestMain(m *testing.M) { pgtqtest.ExamplesMain(m, "ExampleContextWithTask$") }

type Email struct {
	To string `json:"to"`
}

// Run a worker in-process: a processor per queue, then Run until ctx ends (here: once three emails are sent).
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	client, err := driver.New(ctx, pool)
	if err != nil {
		log.Fatal(err)
	}
	emails := driver.NewQueue[Email](client, "emails", nil)
	if err := emails.Create(ctx); err != nil {
		log.Fatal(err)
	}
	if _, err := emails.EnqueueBatch(ctx, []Email{{To: "a@b.c"}, {To: "d@e.f"}, {To: "g@h.i"}}, nil); err != nil {
		log.Fatal(err)
	}

	sent := 0
	proc := worker.NewProcessor("emails", func(ctx context.Context, e Email) error {
		task, _ := worker.TaskFromContext(ctx)
		fmt.Printf("sending to %s (attempt %d)\n", e.To, task.Attempt)
		if sent++; sent == 3 {
			cancel() // Run stops gracefully: this task still completes
		}
		return nil
	}, &worker.ProcessorOptions{Timeout: 30 * time.Second})

	w, err := worker.New(client, &worker.Options{Processors: []*worker.Processor{proc}, ConcurrencyLimit: 1})
	if err != nil {
		log.Fatal(err)
	}
	if err := w.Run(ctx); err != nil {
		log.Fatal(err)
	}
	stats, err := client.Stats(context.Background(), "emails")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("queued %d, archived %d\n", stats.Queued, stats.Archived)
	// Output:
	// sending to a@b.c (attempt 1)
	// sending to d@e.f (attempt 1)
	// sending to g@h.i (attempt 1)
	// queued 0, archived 3
}

var errBusy = errors.New("smtp: 421 try again later")

// Retries: errors that RetryOn accepts are retried up to MaxRetries times after RetryDelay (errors wrapped with
// NonRetryable go to the dead-letter queue at once). pgtqtest.Drain runs the worker until the queue is empty,
// as a test would.
func ExampleProcessorOptions_retries() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	client, err := driver.New(ctx, pool)
	if err != nil {
		log.Fatal(err)
	}
	if err := client.CreateQueue(ctx, "notices", nil); err != nil {
		log.Fatal(err)
	}
	if _, err := client.Enqueue(ctx, "notices", Email{To: "busy@b.c"}, nil); err != nil {
		log.Fatal(err)
	}
	proc := worker.NewProcessor("notices", func(ctx context.Context, e Email) error {
		task, _ := worker.TaskFromContext(ctx)
		if task.Attempt < 3 {
			fmt.Printf("%s: attempt %d: busy\n", e.To, task.Attempt)
			return errBusy
		}
		fmt.Printf("%s: attempt %d: sent\n", e.To, task.Attempt)
		return nil
	}, &worker.ProcessorOptions{
		MaxRetries: 3,
		RetryOn:    []worker.RetryMatcher{worker.RetryOnError(errBusy)},
		RetryDelay: worker.FixedDelay(0),
	})
	quiet := slog.New(slog.DiscardHandler)
	if err := pgtqtest.Drain(ctx, client, &worker.Options{Processors: []*worker.Processor{proc}, Logger: quiet}); err != nil {
		log.Fatal(err)
	}
	stats, err := client.Stats(ctx, "notices")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("archived %d, dlq %d\n", stats.Archived, stats.DLQ)
	// Output:
	// busy@b.c: attempt 1: busy
	// busy@b.c: attempt 2: busy
	// busy@b.c: attempt 3: sent
	// archived 1, dlq 0
}

// Unit-test a handler without a database: ContextWithTask gives it the task metadata a worker would.
func ExampleContextWithTask() {
	handler := func(ctx context.Context, e Email) error {
		task, ok := worker.TaskFromContext(ctx)
		if !ok {
			return errors.New("not run by a worker")
		}
		fmt.Printf("send to %s with idempotency key %s (attempt %d)\n", e.To, task.TaskID, task.Attempt)
		return nil
	}
	ctx := worker.ContextWithTask(context.Background(), worker.TaskInfo{Queue: "emails", TaskID: "task-1", Attempt: 2})
	if err := handler(ctx, Email{To: "a@b.c"}); err != nil {
		log.Fatal(err)
	}
	// Output: send to a@b.c with idempotency key task-1 (attempt 2)
}
