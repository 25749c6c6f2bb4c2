package worker

import (
	"context"
	"time"
)

// EventKind names a point in a task's life at which lifecycle hooks run.
type EventKind int

// The lifecycle events, in the order a task can meet them within one attempt: Claimed first, then exactly one
// of Completed, Failed (the failure was recorded: retrying, or final), DeadLettered (after Failed, when the
// failure sent the task to the dead-letter queue or archived it as failed) or LeaseLost (the attempt's outcome
// could not be recorded because the lease was gone, or an operator cancelled the task). A task released at
// shutdown, or whose outcome could not be recorded at all (the database unreachable until its lease ended),
// gets no outcome event. Hooks of Options run before those of the processor, each list in order.
const (
	// EventClaimed: the worker claimed the task and is about to run its handler.
	EventClaimed EventKind = iota + 1
	// EventCompleted: the handler returned nil and the completion was recorded.
	EventCompleted
	// EventFailed: the handler failed (error, panic, timeout, undecodable or invalid payload) and the failure
	// was recorded; Event.Outcome says what became of the task.
	EventFailed
	// EventDeadLettered: the failure was final (Outcome "dead_lettered" or "failed").
	EventDeadLettered
	// EventLeaseLost: the attempt's outcome could not be recorded: the lease had expired and the task was
	// taken again, or an operator cancelled it.
	EventLeaseLost
)

// String returns the event's name as used in logs and metrics ("claimed", "completed", ...).
func (k EventKind) String() string {
	switch k {
	case EventClaimed:
		return "claimed"
	case EventCompleted:
		return "completed"
	case EventFailed:
		return "failed"
	case EventDeadLettered:
		return "dead_lettered"
	case EventLeaseLost:
		return "lease_lost"
	}
	return "unknown"
}

// Event is what a lifecycle hook is told.
type Event struct {
	// Kind is the event.
	Kind EventKind
	// Task describes the task and attempt (Queue, MsgID, TaskID, Attempt, EnqueuedAt, StartedAt, ...).
	Task TaskInfo
	// Duration is how long the handler ran (0 for EventClaimed).
	Duration time.Duration
	// Err is the handler's error for EventFailed and EventDeadLettered, nil otherwise.
	Err error
	// Outcome is the recorded outcome of a failure: "retrying", "dead_lettered" or "failed" ("" otherwise).
	Outcome string
}

// HookFunc receives lifecycle events. Hooks run synchronously on the worker's goroutines, so they must be
// quick and must not block (count, log, record a metric). ctx is the task's context for EventClaimed and a
// context of the worker's otherwise.
type HookFunc func(ctx context.Context, e Event)

// Middleware wraps every handler call: it receives the task's info and next, which runs the rest of the chain
// and finally the handler (decoding the payload included), and returns the error that the worker then
// records. Middleware registered on Options wraps the middleware of the processor, which wraps the handler.
type Middleware func(ctx context.Context, task TaskInfo, next func(ctx context.Context) error) error
