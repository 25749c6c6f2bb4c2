package gotest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/driver"
	"github.com/pgtq/pgtq/worker"
)

// TestQueueNameRule drives the queue-name rule through the driver: names that differ only in case, byte
// limits with multibyte names, and the sentinel every refusal maps to.
func TestQueueNameRule(t *testing.T) {
	t.Parallel()
	b := setupDriver(t)
	require.NoError(t, b.client.CreateQueue(b.ctx, "emails", nil))
	err := b.client.CreateQueue(b.ctx, "Emails", nil)
	require.ErrorIs(t, err, driver.ErrInvalidQueueName)
	require.ErrorContains(t, err, `differs only in case from the existing queue 'emails'`)
	dropped, err := b.client.DropQueue(b.ctx, "Emails")
	require.NoError(t, err)
	require.False(t, dropped, "dropping the other spelling drops nothing")
	_, err = b.client.Stats(b.ctx, "emails")
	require.NoError(t, err, "emails is intact")

	// 43 bytes with the default DLQ, 47 without; one byte more is refused with the limit named.
	require.NoError(t, b.client.CreateQueue(b.ctx, strings.Repeat("ö", 21)+"a", nil))
	err = b.client.CreateQueue(b.ctx, strings.Repeat("ö", 22), nil)
	require.ErrorIs(t, err, driver.ErrInvalidQueueName)
	require.ErrorContains(t, err, "43 bytes")
	require.NoError(t, b.client.CreateQueue(b.ctx, strings.Repeat("ö", 23)+"a", &driver.CreateQueueOptions{NoDLQ: true}))
	err = b.client.CreateQueue(b.ctx, strings.Repeat("ö", 24), &driver.CreateQueueOptions{NoDLQ: true})
	require.ErrorIs(t, err, driver.ErrInvalidQueueName)
	require.ErrorContains(t, err, "48 bytes, the maximum is 47 bytes")
	id, err := b.client.Enqueue(b.ctx, strings.Repeat("ö", 23)+"a", map[string]any{"n": 1}, nil)
	require.NoError(t, err, "a 47-byte name's NOTIFY channel fits")
	require.Equal(t, int64(1), id)
}

// TestWorkerOddQueueNames runs a worker on queues whose names need quoting everywhere (%, spaces, double
// quotes, a non-ASCII capital that the database's lower() and Go's disagree on): the tasks run, woken by
// NOTIFY (the fallback poll is 30 s), and complete.
func TestWorkerOddQueueNames(t *testing.T) {
	t.Parallel()
	b := setupWorker(t)
	names := []string{`pct%% q`, `dq"name`, `ÄPFEL`, `br{{a}}`}
	var procs []*worker.Processor
	started := make(chan string, 16)
	for _, q := range names {
		require.NoError(t, b.client.CreateQueue(b.ctx, q, nil))
		procs = append(procs, worker.NewProcessor(q, func(taskCtx context.Context, _ numPayload) error {
			info, _ := worker.TaskFromContext(taskCtx)
			started <- info.Queue
			return nil
		}, nil))
	}
	w, _ := b.runWorker(t, &worker.Options{Processors: procs, PollInterval: 30 * time.Second})
	waitReady(t, w)
	for _, q := range names {
		b.enqueue(t, q, numPayload{N: 1}, nil)
		select {
		case got := <-started:
			require.Equal(t, q, got)
		case <-time.After(10 * time.Second):
			t.Fatalf("queue %q: no wake-up within 10 s (its NOTIFY channel was not listened to)", q)
		}
	}
	for _, q := range names {
		// Through pgtq.stats: the archive's table name is lower-cased by the database's rules (a C-locale
		// cluster keeps Ä), not Go's.
		waitUntil(t, 10*time.Second, "task of "+q+" archived", func() bool {
			st, err := b.client.Stats(b.ctx, q)
			require.NoError(t, err)
			return st.Archived == 1
		})
	}
}
