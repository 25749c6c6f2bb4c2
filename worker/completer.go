package worker

import (
	"context"
	"fmt"
	"slices"

	"github.com/pgtq/pgtq/driver"
)

// completeBatchMax caps the tasks completed by one statement.
const completeBatchMax = 1000

// completion asks the completer to complete one task and reports the result on done.
type completion struct {
	queue string
	ref   driver.TaskRef
	done  chan completeResult
}

type completeResult struct {
	ok  bool
	err error
}

// completer completes tasks in batches (group commit): it takes whatever completions are pending, sends
// them in one pgtq.complete call per queue, and repeats. An idle worker's single completion goes out at
// once; under load, completions pile up while the previous call runs and share the next one. It runs
// until stop is closed.
func (w *Worker) completer(stop <-chan struct{}) {
	for {
		var batch []completion
		select {
		case c := <-w.completions:
			batch = append(batch, c)
		case <-stop:
			return
		}
	drain:
		for len(batch) < completeBatchMax {
			select {
			case c := <-w.completions:
				batch = append(batch, c)
			default:
				break drain
			}
		}
		w.flush(batch)
	}
}

// flush completes batch, one call per queue, and answers every request.
func (w *Worker) flush(batch []completion) {
	ctx, cancel := context.WithTimeout(context.Background(), ackTimeout)
	defer cancel()
	byQueue := map[string][]completion{}
	for _, c := range batch {
		byQueue[c.queue] = append(byQueue[c.queue], c)
	}
	for q, cs := range byQueue {
		if len(cs) == 1 {
			ok, err := w.client.Complete(ctx, q, cs[0].ref.MsgID, cs[0].ref.Attempt)
			cs[0].done <- completeResult{ok: ok, err: err}
			continue
		}
		refs := make([]driver.TaskRef, len(cs))
		for i, c := range cs {
			refs[i] = c.ref
		}
		done, err := w.client.CompleteMany(ctx, q, refs)
		for _, c := range cs {
			c.done <- completeResult{ok: err == nil && slices.Contains(done, c.ref.MsgID), err: err}
		}
	}
}

// complete completes a task through the completer and waits for the result.
func (w *Worker) complete(ctx context.Context, queue string, msgID int64, attempt int) (bool, error) {
	c := completion{queue: queue, ref: driver.TaskRef{MsgID: msgID, Attempt: attempt}, done: make(chan completeResult, 1)}
	select {
	case w.completions <- c:
	case <-ctx.Done():
		return false, fmt.Errorf("complete %q msg %d: %w", queue, msgID, context.Cause(ctx))
	}
	select {
	case r := <-c.done:
		return r.ok, r.err
	case <-ctx.Done():
		return false, fmt.Errorf("complete %q msg %d: %w", queue, msgID, context.Cause(ctx))
	}
}
