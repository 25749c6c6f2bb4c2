package gotest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/driver"
	"github.com/pgtq/pgtq/internal/pgtest"
)

// benchDriver returns a Client on a fresh database with one queue.
func benchDriver(b *testing.B) (context.Context, *driver.Client, string) {
	b.Helper()
	ctx := context.Background()
	client, err := driver.New(ctx, pgtest.NewDB(b))
	require.NoError(b, err)
	require.NoError(b, client.CreateQueue(ctx, "bench", nil))
	return ctx, client, "bench"
}

type benchPayload struct {
	UserID int    `json:"user_id"`
	Action string `json:"action"`
}

// BenchmarkDriverEnqueue measures one typed enqueue (one round trip, one INSERT).
func BenchmarkDriverEnqueue(b *testing.B) {
	ctx, client, queue := benchDriver(b)
	q := driver.NewQueue[benchPayload](client, queue, nil)
	for i := 0; b.Loop(); i++ {
		if _, err := q.Enqueue(ctx, benchPayload{UserID: i, Action: "login"}, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDriverEnqueueBatch100 measures batches of 100 tasks; ns/op is per batch.
func BenchmarkDriverEnqueueBatch100(b *testing.B) {
	ctx, client, queue := benchDriver(b)
	q := driver.NewQueue[benchPayload](client, queue, nil)
	batch := make([]benchPayload, 100)
	for i := range batch {
		batch[i] = benchPayload{UserID: i, Action: "login"}
	}
	for b.Loop() {
		if _, err := q.EnqueueBatch(ctx, batch, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDriverReadComplete measures claiming one task and completing it (two round trips).
func BenchmarkDriverReadComplete(b *testing.B) {
	ctx, client, queue := benchDriver(b)
	payloads := make([]any, 1000)
	for i := range payloads {
		payloads[i] = benchPayload{UserID: i, Action: "login"}
	}
	for b.Loop() {
		tasks, err := client.Read(ctx, queue, 1, time.Minute, nil)
		if err != nil {
			b.Fatal(err)
		}
		if len(tasks) == 0 {
			b.StopTimer()
			if _, err := client.EnqueueBatch(ctx, queue, payloads, nil); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			continue
		}
		if ok, err := client.Complete(ctx, queue, tasks[0].MsgID, tasks[0].Attempt); err != nil || !ok {
			b.Fatalf("complete: %v %v", ok, err)
		}
	}
}
