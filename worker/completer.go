package worker

import (
	"context"
	"slices"
	"time"

	"github.com/pgtq/pgtq/driver"
)

const (
	// completeBatchMax caps the tasks completed by one statement (and the completions one flush takes).
	completeBatchMax = 500
	// completeLinger is how long the completer waits for more completions before a flush while other
	// tasks are still running: a few ms of delay on the archive buys one commit for many tasks.
	completeLinger = 2 * time.Millisecond
)

// completion asks the completer to complete one task.
type completion struct {
	ps  *procState
	ref driver.TaskRef
}

// completer completes tasks in batches (group commit) until stop is closed. Executors hand it their
// successful tasks and return at once, so a task's slot is free as soon as its handler returns and the
// commit of its completion overlaps the next claim (they run on different pool connections). It takes the
// first pending completion, lingers up to completeLinger for more while other tasks still run (an idle
// worker's single completion goes out at once), and sends everything in one array pgtq.complete per
// queue; completions arriving during a flush share the next one. On stop it flushes what is pending
// before returning, so Run never returns with a finished task left uncompleted.
func (w *Worker) completer(stop <-chan struct{}) {
	linger := time.NewTimer(0)
	defer linger.Stop()
	<-linger.C
	for {
		var batch []completion
		select {
		case c := <-w.completions:
			batch = append(batch, c)
		case <-stop:
			w.flush(w.drainCompletions(nil))
			return
		}
		batch = w.drainCompletions(batch)
		if len(batch) < completeBatchMax && w.busy() {
			linger.Reset(completeLinger)
		collect:
			for len(batch) < completeBatchMax {
				select {
				case c := <-w.completions:
					batch = append(batch, c)
				case <-linger.C:
					break collect
				case <-stop:
					break collect // the loop's next turn sees stop and flushes the rest
				}
			}
			if !linger.Stop() {
				select { // drain a fire that raced with Stop so that the next Reset starts clean
				case <-linger.C:
				default:
				}
			}
		}
		w.flush(batch)
	}
}

// drainCompletions appends the completions pending right now to batch, up to completeBatchMax.
func (w *Worker) drainCompletions(batch []completion) []completion {
	for len(batch) < completeBatchMax {
		select {
		case c := <-w.completions:
			batch = append(batch, c)
		default:
			return batch
		}
	}
	return batch
}

// busy reports whether any handler is running (more completions are on their way).
func (w *Worker) busy() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.running) > 0
}

// flush completes batch with one array pgtq.complete per queue (never the single form: one commit per
// queue and flush whatever the batch size). A completion frees the task's group and its place under the
// queue's concurrency limit, so a grouped or limited queue is marked for a new claim; other queues need
// none (the worker's own slot was freed when the handler returned).
func (w *Worker) flush(batch []completion) {
	if len(batch) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), ackTimeout)
	defer cancel()
	var order []*procState
	byProc := map[*procState][]driver.TaskRef{}
	for _, c := range batch {
		if _, ok := byProc[c.ps]; !ok {
			order = append(order, c.ps)
		}
		byProc[c.ps] = append(byProc[c.ps], c.ref)
	}
	for _, ps := range order {
		refs := byProc[ps]
		q := ps.p.queue
		done, err := w.client.CompleteMany(ctx, q, refs)
		if err != nil {
			w.log.Error("pgtq: complete failed; the tasks will run again after their lease", "queue", q,
				"tasks", len(refs), "error", err)
			continue
		}
		if len(done) < len(refs) {
			for _, r := range refs {
				if !slices.Contains(done, r.MsgID) {
					w.log.Warn("pgtq: lease lost before complete; another worker has the task", "queue", q,
						"msg_id", r.MsgID, "attempt", r.Attempt)
				}
			}
		}
		if ps.p.opts.Grouped || ps.p.opts.ConcurrencyLimit > 0 {
			ps.dirty.Store(true)
			w.signal()
		}
	}
}

// complete hands a successful task to the completer without waiting for the commit. It blocks only when
// the completer is that far behind (backpressure), at most until ctx ends.
func (w *Worker) complete(ctx context.Context, ps *procState, msgID int64, attempt int) {
	select {
	case w.completions <- completion{ps: ps, ref: driver.TaskRef{MsgID: msgID, Attempt: attempt}}:
	case <-ctx.Done():
		w.log.Error("pgtq: completer backlog full; the task will run again after its lease", "queue", ps.p.queue,
			"msg_id", msgID, "attempt", attempt, "error", context.Cause(ctx))
	}
}
