package worker

import (
	"context"
	"time"
)

// prune deletes old archived tasks of every processor's queue on its own schedule until ctx ends. It
// checks every quarter interval (at most every 5 minutes), and pgtq.prune_due lets only one caller across
// the fleet actually prune a queue per PruneInterval, whether the queue is busy or idle.
func (w *Worker) prune(ctx context.Context) {
	check := min(max(w.opts.PruneInterval/4, 10*time.Millisecond), 5*time.Minute)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, ps := range w.procs {
			q := ps.p.queue
			deleted, ran, err := w.client.PruneDue(ctx, q, w.opts.ArchiveRetention, w.opts.PruneBatchSize, w.opts.PruneInterval)
			switch {
			case err != nil && ctx.Err() != nil:
				return
			case err != nil:
				w.log.Error("pgtq: prune failed", "queue", q, "error", err)
			case ran:
				w.log.Debug("pgtq: pruned archive", "queue", q, "deleted", deleted)
			}
		}
		t.Reset(check)
	}
}
