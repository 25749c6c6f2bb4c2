package gotest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/worker"
)

// TestWorkerPrunes checks that a busy worker prunes archived rows older than the retention from the
// queue's archive and its DLQ's archive, in batches until done, and keeps the recent ones.
func TestWorkerPrunes(t *testing.T) {
	t.Parallel()
	const tasks = 12
	b := setupWorker(t)
	q := b.newQueue(t, false)
	p := worker.NewProcessor(q, func(_ context.Context, in numPayload) error {
		if in.N%3 == 0 {
			return errors.New("to the DLQ")
		}
		return nil
	}, nil)
	// Archive everything first with a worker that does not prune.
	_, stop := b.runWorker(t, &worker.Options{Processors: []*worker.Processor{p}, PruneInterval: worker.PruneDisabled})
	payloads := make([]any, tasks)
	for i := range payloads {
		payloads[i] = numPayload{N: i}
	}
	_, err := b.client.EnqueueBatch(b.ctx, q, payloads, nil)
	require.NoError(t, err)
	waitUntil(t, 15*time.Second, "all archived", func() bool {
		return b.queueRows(t, q) == 0 && b.archiveRows(t, q) == tasks
	})
	stop()
	// Move the DLQ entries to its archive, and age half of each archive beyond the retention.
	_, err = b.pool.Exec(b.ctx, `SELECT pgmq.archive($1::text, msg_id) FROM `+table("q", q+"_dlq"), q+"_dlq")
	require.NoError(t, err)
	dlqArchived := b.archiveRows(t, q+"_dlq")
	require.EqualValues(t, tasks/3, dlqArchived)
	for _, a := range []string{table("a", q), table("a", q+"_dlq")} {
		_, err = b.pool.Exec(b.ctx, `UPDATE `+a+` SET archived_at = archived_at - interval '2 hours' WHERE msg_id % 2 = 0`)
		require.NoError(t, err)
	}
	oldRows := b.count(t, `SELECT count(*) FROM `+table("a", q)+` WHERE archived_at < now() - interval '1 hour'`) +
		b.count(t, `SELECT count(*) FROM `+table("a", q+"_dlq")+` WHERE archived_at < now() - interval '1 hour'`)
	require.Positive(t, oldRows)
	totalBefore := int64(tasks) + dlqArchived

	// Workers never prune below the queue's retention (7 days unless an admin lowers it).
	require.NoError(t, b.client.SetRetention(b.ctx, q, time.Hour))
	// Batch size 2 forces several batches in one run.
	_, _ = b.runWorker(t, &worker.Options{Processors: []*worker.Processor{p}, PruneInterval: 200 * time.Millisecond,
		PruneBatchSize: 2, ArchiveRetention: time.Hour})
	waitUntil(t, 10*time.Second, "old archived rows pruned", func() bool {
		return b.count(t, `SELECT count(*) FROM `+table("a", q)+` WHERE archived_at < now() - interval '1 hour'`) == 0 &&
			b.count(t, `SELECT count(*) FROM `+table("a", q+"_dlq")+` WHERE archived_at < now() - interval '1 hour'`) == 0
	})
	remaining := b.archiveRows(t, q) + b.archiveRows(t, q+"_dlq")
	require.Equal(t, totalBefore-oldRows, remaining, "recent archived rows must stay")
}
