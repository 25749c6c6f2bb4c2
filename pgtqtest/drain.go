package pgtqtest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pgtq/pgtq/driver"
	"github.com/pgtq/pgtq/worker"
)

// DrainPollInterval is how often Drain checks whether the queues are empty.
const DrainPollInterval = 10 * time.Millisecond

// Drain runs a worker with opts on client until every queue of opts.Processors holds no task that is
// queued, delayed, processing or retrying, then stops it gracefully and returns. Tasks that failed for good
// stay in the dead-letter queue: Drain does not wait for them. Delayed tasks and retries are waited for, so
// give retries a short RetryDelay in tests. It returns the worker's error, the error of a failed check, or
// ctx's error when ctx ends first (bound it with a timeout). The queues are checked with pgtq.stats (the
// client's role needs pgtq_admin, as a test database's owner has).
func Drain(ctx context.Context, client *driver.Client, opts *worker.Options) error {
	if opts == nil || len(opts.Processors) == 0 {
		return errors.New("pgtqtest: Drain needs worker options with processors")
	}
	w, err := worker.New(client, opts)
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()

	tick := time.NewTicker(DrainPollInterval)
	defer tick.Stop()
	for {
		empty, err := queuesEmpty(ctx, client, opts.Processors)
		if err != nil {
			stop()
			<-done
			return err
		}
		if empty {
			stop()
			return <-done
		}
		select {
		case <-ctx.Done():
			<-done
			return fmt.Errorf("pgtqtest: drain: %w", ctx.Err())
		case err := <-done:
			if err == nil {
				err = errors.New("worker stopped before its queues were empty")
			}
			return fmt.Errorf("pgtqtest: drain: %w", err)
		case <-tick.C:
		}
	}
}

func queuesEmpty(ctx context.Context, client *driver.Client, procs []*worker.Processor) (bool, error) {
	for _, p := range procs {
		q, err := client.QueueInfo(ctx, p.Queue())
		if err != nil {
			return false, fmt.Errorf("pgtqtest: drain: %w", err)
		}
		if q.Queued+q.Delayed+q.Processing+q.Retrying > 0 {
			return false, nil
		}
	}
	return true, nil
}
