package gotest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/worker"
)

func TestWorkerOptionsValidation(t *testing.T) {
	t.Parallel()
	b := setupWorker(t)
	noop := func(context.Context, numPayload) error { return nil }
	ok := worker.NewProcessor("q", noop, nil)
	cases := []struct {
		opts *worker.Options
		msg  string
	}{
		{nil, "Options.Processors is empty"},
		{&worker.Options{Processors: []*worker.Processor{ok}, ConcurrencyLimit: -1}, "Options.ConcurrencyLimit"},
		{&worker.Options{Processors: []*worker.Processor{ok}, PollInterval: -time.Second}, "Options.PollInterval"},
		{&worker.Options{Processors: []*worker.Processor{ok, worker.NewProcessor("q", noop, nil)}}, `two processors for queue "q"`},
		{&worker.Options{Processors: []*worker.Processor{worker.NewProcessor("", noop, nil)}}, "queue name is empty"},
		{&worker.Options{Processors: []*worker.Processor{worker.NewProcessor[numPayload]("q", nil, nil)}}, "handler is nil"},
		{&worker.Options{Processors: []*worker.Processor{worker.NewProcessor("q", noop, &worker.ProcessorOptions{MaxRetries: -1})}}, "MaxRetries"},
		{&worker.Options{Processors: []*worker.Processor{worker.NewProcessor("q", noop, &worker.ProcessorOptions{ConcurrencyLimit: -2})}}, "ConcurrencyLimit"},
	}
	for _, c := range cases {
		_, err := worker.New(b.client, c.opts)
		require.ErrorContains(t, err, c.msg)
	}
	_, err := worker.New(nil, &worker.Options{Processors: []*worker.Processor{ok}})
	require.ErrorContains(t, err, "client is nil")
}

// TestWorkerRecoversFromClaimErrors drops the queue of a running worker: claims fail and back off from
// PollExceptionInterval; once the queue exists again the worker serves it without a restart. (A queue
// missing at start is an error of Run: TestWorkerMissingQueue.)
func TestWorkerRecoversFromClaimErrors(t *testing.T) {
	t.Parallel()
	b := setupWorker(t)
	q := "wrk_late_queue"
	require.NoError(t, b.client.CreateQueue(b.ctx, q, nil))
	p, started := startSignal(q)
	logs := newLogRecorder(t)
	w, _ := b.runWorker(t, &worker.Options{Processors: []*worker.Processor{p}, PollInterval: 50 * time.Millisecond,
		PollExceptionInterval: 100 * time.Millisecond, Logger: logs.logger()})
	waitReady(t, w)
	_, err := b.client.DropQueue(b.ctx, q)
	require.NoError(t, err)
	waitUntil(t, 10*time.Second, "a failed claim", func() bool { return logs.count(slog.LevelError, "pgtq: claim failed") > 0 })
	require.NoError(t, b.client.CreateQueue(b.ctx, q, nil))
	b.enqueue(t, q, numPayload{}, nil)
	// Backoff is capped at 12 x 100 ms, so the task starts within about 1.2 s of the queue's creation.
	awaitStart(t, started, 5*time.Second)
	waitUntil(t, 5*time.Second, "task completed", func() bool { return b.archived(t, q, "completed") == 1 })
}
