package worker

import (
	"context"
	"sync"
	"time"

	"github.com/pgtq/pgtq/driver"
)

const (
	// completeBatchMax caps the tasks completed by one statement (and the completions one flush takes).
	completeBatchMax = 2000
	// completeLinger is how long the completer waits for more completions before a flush while other
	// tasks are still running: a few ms of delay on the archive buys one commit for many tasks.
	completeLinger = 2 * time.Millisecond
	// completeHold is how long the completer leaves the completions of a queue with a backlog to the next
	// read of that queue, which commits them with its claim (readCompleting). That read comes once enough
	// slots are free (at most claimLinger after the first) and an earlier read returned; only if it does
	// not come in time (say a long-running handler holds most slots) does the completer send them itself.
	completeHold = 25 * time.Millisecond
)

// completion asks the completer to complete one task.
type completion struct {
	ps  *procState
	ref driver.TaskRef
	// leaseEnd is when the task's lease ends (local clock): retrying the completion is pointless after it.
	leaseEnd time.Time
	// r is the task's attempt, for the lifecycle hooks; dur is how long its handler ran.
	r   *running
	dur time.Duration
	// retried is set when an earlier try may have committed (a read that carried the completion lost its
	// connection): a later "not leased" answer then means that try completed the task.
	retried bool
}

// pendingCompletions are the successful tasks waiting for their completion, by queue. The completer
// flushes them when they are due (takeDue); a read of a queue that starts before takes that queue's along
// (readCompleting), so that one commit completes the finished tasks and claims their successors.
type pendingCompletions struct {
	mu     sync.Mutex
	byProc map[*procState][]completion
	since  map[*procState]time.Time // when the oldest pending completion of the queue arrived
	n      int
}

func (pc *pendingCompletions) add(c completion) {
	pc.mu.Lock()
	if pc.byProc == nil {
		pc.byProc, pc.since = map[*procState][]completion{}, map[*procState]time.Time{}
	}
	if len(pc.byProc[c.ps]) == 0 {
		pc.since[c.ps] = time.Now()
	}
	pc.byProc[c.ps] = append(pc.byProc[c.ps], c)
	pc.n++
	pc.mu.Unlock()
}

// dueNow makes the pending completions of ps due at once.
func (pc *pendingCompletions) dueNow(ps *procState) {
	pc.mu.Lock()
	if _, ok := pc.since[ps]; ok {
		pc.since[ps] = time.Time{}
	}
	pc.mu.Unlock()
}

// take removes and returns up to max completions of ps (of every queue when ps is nil).
func (pc *pendingCompletions) take(ps *procState, max int) []completion {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	var out []completion
	for p := range pc.byProc {
		if ps == nil || p == ps {
			out = pc.takeLocked(p, out, max)
		}
	}
	return out
}

// takeLocked appends up to max-len(out) completions of p to out and removes them.
func (pc *pendingCompletions) takeLocked(p *procState, out []completion, max int) []completion {
	items := pc.byProc[p]
	k := min(len(items), max-len(out))
	out = append(out, items[:k]...)
	if k == len(items) {
		delete(pc.byProc, p)
		delete(pc.since, p)
	} else {
		pc.byProc[p] = items[k:] // the rest keeps its since: it is due at once
	}
	pc.n -= k
	return out
}

// takeDue removes and returns the completions due at now, up to completeBatchMax, and otherwise reports
// how long until the first is due (0 when none is pending). A queue's completions are due at once when
// nothing else runs and the queue has no backlog, completeLinger after the first of them while handlers
// run (more will join them), and completeHold after it when the queue has a backlog (its next read takes
// them along); and all are due once completeBatchMax are pending.
func (pc *pendingCompletions) takeDue(now time.Time, busy bool) ([]completion, time.Duration) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	var out []completion
	var wait time.Duration
	for p := range pc.byProc {
		var delay time.Duration
		switch {
		case pc.n >= completeBatchMax:
		case p.backlog.Load():
			delay = completeHold
		case busy:
			delay = completeLinger
		}
		if left := pc.since[p].Add(delay).Sub(now); left > 0 {
			if wait == 0 || left < wait {
				wait = left
			}
			continue
		}
		if out = pc.takeLocked(p, out, completeBatchMax); len(out) == completeBatchMax {
			break
		}
	}
	return out, wait
}

// collectCompletions moves the completions handed over so far from the channel into w.pending.
func (w *Worker) collectCompletions() {
	for {
		select {
		case c := <-w.completions:
			w.pending.add(c)
		default:
			return
		}
	}
}

// completer completes tasks in batches (group commit) until stop is closed. Executors hand it their
// successful tasks and return at once, so a task's slot is free as soon as its handler returns. It sends
// the pending completions of a queue when they are due (see pendingCompletions.takeDue) in one array
// pgtq.complete per queue; completions arriving during a flush share the next one. Those of a queue
// with a backlog are usually taken along by the queue's next read first (readCompleting), so that the
// claim and the completions share one commit. A flush that fails for a transient reason is retried (see
// ack.go) while the next completions wait. On stop it flushes everything pending before returning, so
// Run never returns with a finished task left uncompleted.
func (w *Worker) completer(stop <-chan struct{}) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for {
		w.collectCompletions()
		batch, wait := w.pending.takeDue(time.Now(), w.busy())
		if len(batch) > 0 {
			w.flush(batch)
			continue
		}
		var due <-chan time.Time
		if wait > 0 {
			timer.Reset(wait)
			due = timer.C
		}
		select {
		case c := <-w.completions:
			w.pending.add(c)
		case <-w.pendingBack:
		case <-due:
		case <-stop:
			for {
				w.collectCompletions()
				rest := w.pending.take(nil, completeBatchMax)
				if len(rest) == 0 {
					return
				}
				w.flush(rest)
			}
		}
		if due != nil && !timer.Stop() {
			select { // drain a fire that raced with Stop so that the next Reset starts clean
			case <-timer.C:
			default:
			}
		}
	}
}

// requeueCompletions gives the completer back completions that a read took along and could not send. They
// are due at once: another read would only try them again.
func (w *Worker) requeueCompletions(items []completion) {
	for _, c := range items {
		w.pending.add(c)
	}
	if len(items) > 0 {
		w.pending.dueNow(items[0].ps)
	}
	select {
	case w.pendingBack <- struct{}{}:
	default:
	}
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
	var order []*procState
	byProc := map[*procState][]completion{}
	for _, c := range batch {
		if _, ok := byProc[c.ps]; !ok {
			order = append(order, c.ps)
		}
		byProc[c.ps] = append(byProc[c.ps], c)
	}
	for _, ps := range order {
		w.completeQueue(ps, byProc[ps])
		if ps.p.opts.Grouped || ps.p.opts.ConcurrencyLimit > 0 {
			ps.dirty.Store(true)
			w.signal()
		}
	}
}

// completeQueue completes the tasks of one queue in one statement, retrying it while it fails for a
// transient reason and dropping from it the tasks whose acknowledgement deadline passed. When it fails for
// another reason (a bad entry, the queue dropped), the tasks are completed one by one, so that one task
// cannot cost the others their completion and each failure is reported with its task.
func (w *Worker) completeQueue(ps *procState, items []completion) {
	q := ps.p.queue
	for tries := 1; ; tries++ {
		refs := make([]driver.TaskRef, len(items))
		for i, c := range items {
			refs[i] = c.ref
		}
		ctx, cancel := context.WithTimeout(context.Background(), ackTimeout)
		done, err := w.client.CompleteMany(ctx, q, refs)
		timedOut := ctx.Err() != nil
		cancel()
		if err == nil {
			w.completed(ps, items, done, tries > 1)
			return
		}
		if !ackRetryable(err, timedOut) {
			w.log.Error("pgtq: batch complete failed; completing its tasks one by one", "queue", q,
				"tasks", len(items), "error", err)
			for _, c := range items {
				w.completeOne(c)
			}
			return
		}
		if tries == 1 {
			w.log.Warn("pgtq: complete failed; retrying", "queue", q, "tasks", len(items), "error", err)
		}
		wait := backoff(tries, ackBackoffMin, ackBackoffMax)
		next := time.Now().Add(wait)
		keep := items[:0]
		for _, c := range items {
			if next.Before(w.ackDeadline(c.leaseEnd)) {
				keep = append(keep, c)
				continue
			}
			w.log.Error("pgtq: complete failed until the lease ended or shutdown timed out; the task will run again",
				"queue", q, "msg_id", c.ref.MsgID, "attempt", c.ref.Attempt, "tries", tries, "error", err)
		}
		items = keep
		if len(items) == 0 {
			return
		}
		time.Sleep(wait) // backoff between tries, not a wait for a condition
	}
}

// completed reports the outcome of completing items, of which the tasks done were completed; retried
// tells that an earlier try of this statement may have committed.
func (w *Worker) completed(ps *procState, items []completion, done []int64, retried bool) {
	ids := make(map[int64]bool, len(done))
	for _, id := range done {
		ids[id] = true
	}
	for _, c := range items {
		if !ids[c.ref.MsgID] {
			w.notCompleted(c, retried || c.retried)
		} else if w.hooked(ps) {
			w.emit(context.Background(), ps, Event{Kind: EventCompleted, Task: c.r.info, Duration: c.dur})
		}
	}
}

// completeOne completes one task (the fallback of a batch that failed for good), with retries.
func (w *Worker) completeOne(c completion) {
	q := c.ps.p.queue
	log := w.log.With("queue", q, "msg_id", c.ref.MsgID, "attempt", c.ref.Attempt)
	var ok bool
	tries, err := w.retryAck(func() time.Time { return w.ackDeadline(c.leaseEnd) }, log, "complete",
		func(ctx context.Context) error {
			var err error
			ok, err = w.client.Complete(ctx, q, c.ref.MsgID, c.ref.Attempt)
			return err
		})
	switch {
	case err != nil:
		log.Error("pgtq: complete failed; the task will run again after its lease", "tries", tries, "error", err)
	case !ok:
		w.notCompleted(c, tries > 1 || c.retried)
	case w.hooked(c.ps):
		w.emit(context.Background(), c.ps, Event{Kind: EventCompleted, Task: c.r.info, Duration: c.dur})
	}
}

// notCompleted reports a completion that found the task no longer leased to its attempt. After a retry
// (the earlier try's reply was lost) and before the lease's end, only the earlier try can have done that.
func (w *Worker) notCompleted(c completion, retried bool) {
	log := w.log.With("queue", c.ps.p.queue, "msg_id", c.ref.MsgID, "attempt", c.ref.Attempt)
	kind := EventLeaseLost
	switch {
	case retried && time.Now().Before(c.leaseEnd):
		log.Debug("pgtq: task already completed by a try whose reply was lost")
		kind = EventCompleted
	case retried:
		log.Warn("pgtq: complete found the task gone: completed by a try whose reply was lost, or lease lost")
	default:
		log.Warn("pgtq: lease lost before complete: another worker has the task, or an operator cancelled it")
	}
	if w.hooked(c.ps) {
		w.emit(context.Background(), c.ps, Event{Kind: kind, Task: c.r.info, Duration: c.dur})
	}
}

// complete hands a successful task to the completer without waiting for the commit. It blocks only when
// the completer is that far behind (backpressure, e.g. while it retries through a database outage), at most
// until the task's lease ends, when completing it is pointless.
func (w *Worker) complete(ps *procState, r *running, dur time.Duration) {
	msgID, attempt, leaseEnd := r.info.MsgID, r.info.Attempt, r.lease()
	c := completion{ps: ps, ref: driver.TaskRef{MsgID: msgID, Attempt: attempt}, leaseEnd: leaseEnd, r: r, dur: dur}
	select {
	case w.completions <- c:
		return
	default:
	}
	t := time.NewTimer(time.Until(leaseEnd))
	defer t.Stop()
	select {
	case w.completions <- c:
	case <-t.C:
		w.log.Error("pgtq: completer backlog full until the lease ended; the task will run again", "queue", ps.p.queue,
			"msg_id", msgID, "attempt", attempt)
	}
}
