package driver_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgtq/pgtq/driver"
	"github.com/pgtq/pgtq/pgtqtest"
)

// TestMain gives the Examples a fresh migrated database when PGTQ_DATABASE_URL names a server (see
// pgtqtest.ExamplesMain); without it those Examples are left out, with a message.
func TestMain(m *testing.M) { pgtqtest.ExamplesMain(m, "") }

// connect opens the examples' pool and client, as an application would at start-up.
func connect(ctx context.Context) (*pgxpool.Pool, *driver.Client) {
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	client, err := driver.New(ctx, pool) // fails unless the schema is migrated and matches this binary
	if err != nil {
		log.Fatal(err)
	}
	return pool, client
}

// Enqueue a task, untyped, and read the queue's counts.
func ExampleClient_Enqueue() {
	ctx := context.Background()
	pool, client := connect(ctx)
	defer pool.Close()

	if err := client.CreateQueue(ctx, "reports", nil); err != nil { // idempotent; also creates reports_dlq
		log.Fatal(err)
	}
	if _, err := client.Enqueue(ctx, "reports", map[string]any{"month": "2026-11"}, nil); err != nil {
		log.Fatal(err)
	}
	if _, err := client.Enqueue(ctx, "reports", map[string]any{"month": "2026-12"},
		&driver.EnqueueOptions{Delay: time.Hour}); err != nil {
		log.Fatal(err)
	}
	stats, err := client.Stats(ctx, "reports")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("queued %d, delayed %d\n", stats.Queued, stats.Delayed)
	// Output: queued 1, delayed 1
}

type Email struct {
	To string `json:"to"`
}

// Validate makes Enqueue refuse an invalid email (optional).
func (e Email) Validate() error {
	if e.To == "" {
		return fmt.Errorf("email: To is required")
	}
	return nil
}

// A typed queue: payloads are Go values, validated before anything is inserted. Groups order tasks, delays
// postpone them, and a dedupe key makes a second enqueue return the first task.
func ExampleNewQueue() {
	ctx := context.Background()
	pool, client := connect(ctx)
	defer pool.Close()

	emails := driver.NewQueue[Email](client, "emails", nil)
	if err := emails.Create(ctx); err != nil {
		log.Fatal(err)
	}
	opts := &driver.EnqueueOptions{Group: "customer-42", DedupeKey: "welcome-a@b.c"}
	first, err := emails.Enqueue(ctx, Email{To: "a@b.c"}, opts)
	if err != nil {
		log.Fatal(err)
	}
	again, err := emails.Enqueue(ctx, Email{To: "a@b.c"}, opts)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("deduplicated:", first == again)

	_, err = emails.Enqueue(ctx, Email{}, nil)
	fmt.Println(err)
	// Output:
	// deduplicated: true
	// enqueue "emails": pgtq: invalid payload: email: To is required
}

// Enqueue inside the application's transaction: the task exists only if the transaction commits.
func ExampleQueue_EnqueueTx() {
	ctx := context.Background()
	pool, client := connect(ctx)
	defer pool.Close()

	orders := driver.NewQueue[map[string]int](client, "orders", nil)
	if err := orders.Create(ctx); err != nil {
		log.Fatal(err)
	}
	for _, commit := range []bool{false, true} {
		tx, err := pool.Begin(ctx)
		if err != nil {
			log.Fatal(err)
		}
		// ... INSERT INTO app.orders ... in tx
		if _, err := orders.EnqueueTx(ctx, tx, map[string]int{"order_id": 7}, nil); err != nil {
			log.Fatal(err)
		}
		if commit {
			err = tx.Commit(ctx)
		} else {
			err = tx.Rollback(ctx)
		}
		if err != nil {
			log.Fatal(err)
		}
		stats, err := client.Stats(ctx, "orders")
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("commit %v: queued %d\n", commit, stats.Queued)
	}
	// Output:
	// commit false: queued 0
	// commit true: queued 1
}

// A task that failed for good waits in the dead-letter queue with its error history; Reschedule puts it back
// into its queue with the same task id and a fresh attempt budget.
func ExampleClient_Reschedule() {
	ctx := context.Background()
	pool, client := connect(ctx)
	defer pool.Close()

	if err := client.CreateQueue(ctx, "invoices", nil); err != nil {
		log.Fatal(err)
	}
	if _, err := client.Enqueue(ctx, "invoices", map[string]any{"invoice": 1}, nil); err != nil {
		log.Fatal(err)
	}
	// What a worker does when a handler fails with a non-retryable error:
	tasks, err := client.Read(ctx, "invoices", 1, time.Minute, nil)
	if err != nil {
		log.Fatal(err)
	}
	outcome, err := client.Fail(ctx, "invoices", tasks[0].MsgID, tasks[0].Attempt, "pdf: font missing",
		&driver.FailOptions{NonRetryable: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("outcome:", outcome)

	dlq, err := client.ListDLQ(ctx, "invoices", 10)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("dead-lettered: %s (attempt %d)\n", dlq[0].Errors[0].Error, dlq[0].Errors[0].Attempt)
	if _, err := client.Reschedule(ctx, "invoices", dlq[0].MsgID); err != nil {
		log.Fatal(err)
	}
	stats, err := client.Stats(ctx, "invoices")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("queued %d, dlq %d\n", stats.Queued, stats.DLQ)
	// Output:
	// outcome: dead_lettered
	// dead-lettered: pdf: font missing (attempt 1)
	// queued 1, dlq 0
}
