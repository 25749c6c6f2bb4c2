package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// TaskInfo describes the task a handler is running. Get it with TaskFromContext.
type TaskInfo struct {
	// Queue is the queue the task was read from.
	Queue string
	// MsgID is the task's pgmq message id; it stays the same across retries.
	MsgID int64
	// TaskID is the stable task id (x-pgtq-task-id); it survives retries and reschedules from the DLQ.
	TaskID string
	// Attempt is 1 for the first run, 2 for the next, and so on: every delivery counts, after a recorded
	// failure (Failures) or a lost lease (LostLeases) alike, so Attempt = 1 + Failures + LostLeases. It is
	// the lease token of this run.
	Attempt int
	// Failures is the number of failures recorded before this attempt (handler errors, panics, timeouts);
	// they use the retry budget, ProcessorOptions.MaxRetries.
	Failures int
	// LostLeases is the number of earlier attempts whose lease expired with no recorded outcome (the
	// worker crashed or stalled), from the x-pgtq-lost-leases header; they use their own budget,
	// ProcessorOptions.MaxLostLeases.
	LostLeases int
	// GroupKey is the task's group, "" when ungrouped.
	GroupKey string
	// EnqueuedAt is when the message was enqueued.
	EnqueuedAt time.Time
	// StartedAt is when this worker started the handler.
	StartedAt time.Time
	// Headers are the message headers (x-pgtq-* and the producer's own).
	Headers map[string]any
}

type taskCtxKey struct{}

// running is the per-attempt state shared by the executor, its timer, Heartbeat and shutdown.
type running struct {
	info TaskInfo
	w    *Worker
	p    *Processor
	ps   *procState
	// payload is the task's JSON payload, for the handler.
	payload json.RawMessage
	// ctx is the handler's ctx; cancel cancels it with a cause. Every cancellation goes through stop,
	// which starts the grace period.
	ctx    context.Context
	cancel context.CancelCauseFunc
	// timer fires at the handler's Timeout (onTimer cancels it) and, once cancelled, at the end of the grace
	// period (onTimer abandons a handler that has not returned). One timer serves both: it is per task.
	timer *time.Timer
	mu    sync.Mutex
	// Guarded by mu:
	// timeoutAt is when the Timeout passes (Heartbeat moves it), so that a timer fire that raced with
	// Heartbeat's reset is recognised as stale.
	timeoutAt time.Time
	// cancelled: ctx was cancelled through stop (timeout, lost lease or shutdown); the grace period runs.
	cancelled bool
	// returned: the handler returned (or panicked) and its slot records the outcome.
	returned bool
	// abandoned: the grace period ended before the handler returned; the timer recorded the outcome, and
	// the handler's result, whenever it comes, is dropped.
	abandoned bool
	// released is set when shutdown gave the task back; the executor then neither completes nor fails it.
	released bool
	// leaseEnd is when the lease ends by the local clock: the read's start plus the lease, moved by
	// Heartbeat.
	leaseEnd time.Time
	// completedByHandler is set when the handler completed this attempt itself (driver CompleteTx or
	// Complete with the handler's ctx): a handler returning nil then needs no completion from the worker.
	completedByHandler atomic.Bool
}

// stop cancels the handler's ctx with cause and starts the grace period in which the handler may still
// return; nothing happens once the handler returned or ctx was already cancelled.
func (r *running) stop(cause error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopLocked(cause)
}

func (r *running) stopLocked(cause error) {
	if r.returned || r.cancelled {
		return
	}
	r.cancelled = true
	r.cancel(cause)
	// Give the handler part of the lease's grace period to return, then record the outcome anyway so
	// that it lands before the lease ends.
	r.timer.Reset((r.p.lease - r.p.opts.Timeout) / 2)
}

// onTimer is r's timer function: at the Timeout it cancels the handler, at the end of the grace period
// it abandons a handler that still has not returned and records the outcome from the timer's goroutine.
func (r *running) onTimer() {
	r.mu.Lock()
	switch {
	case r.returned || r.abandoned:
		r.mu.Unlock()
		return
	case !r.cancelled:
		if time.Now().Before(r.timeoutAt) {
			r.mu.Unlock()
			return // a fire that raced with Heartbeat's reset: the timer fires again at the new timeout
		}
		r.stopLocked(&timeoutError{timeout: r.p.opts.Timeout.String()})
		r.mu.Unlock()
		return
	}
	r.abandoned = true
	r.mu.Unlock()
	r.w.abandon(r)
}

// lease returns the end of r's lease (local clock).
func (r *running) lease() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.leaseEnd
}

// lostLeases reads x-pgtq-lost-leases from headers (0 when absent or not a number).
func lostLeases(headers map[string]any) int {
	if n, ok := headers["x-pgtq-lost-leases"].(float64); ok && n > 0 {
		return int(n)
	}
	return 0
}

// TaskFromContext returns the metadata of the task whose handler received ctx.
func TaskFromContext(ctx context.Context) (TaskInfo, bool) {
	r, ok := ctx.Value(taskCtxKey{}).(*running)
	if !ok {
		return TaskInfo{}, false
	}
	return r.info, true
}

// Heartbeat tells PGTQ that the task of ctx is still making progress: it extends the task's lease by
// the processor's lease length from now and restarts the handler's Timeout. Long tasks call it
// periodically, well within Timeout. It returns ErrLeaseLost when the lease already expired and
// another worker may have the task, or an operator cancelled the task (pgtq.cancel); the handler's ctx is
// then cancelled too (context.Cause is ErrLeaseLost), and the handler should stop. On a context made by
// ContextWithTask (a unit test without a database) it returns ErrNoLease.
func Heartbeat(ctx context.Context) error {
	r, ok := ctx.Value(taskCtxKey{}).(*running)
	if !ok {
		return ErrNoTask
	}
	if r.w == nil {
		return ErrNoLease
	}
	start := time.Now() // the new lease ends no earlier than lease after this, whatever the server's clock
	ok, err := r.w.client.ExtendLease(ctx, r.info.Queue, r.info.MsgID, r.info.Attempt, r.p.lease)
	if err != nil {
		return fmt.Errorf("heartbeat task %d: %w", r.info.MsgID, err)
	}
	if !ok {
		r.stop(ErrLeaseLost)
		return ErrLeaseLost
	}
	r.mu.Lock()
	if !r.cancelled && !r.returned {
		// timeoutAt first: the timer then cannot fire before it (see onTimer).
		r.timeoutAt = time.Now().Add(r.p.opts.Timeout)
		r.timer.Reset(r.p.opts.Timeout)
	}
	if end := start.Add(r.p.lease); end.After(r.leaseEnd) {
		r.leaseEnd = end
	}
	r.mu.Unlock()
	return nil
}
