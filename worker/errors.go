package worker

import (
	"context"
	"errors"
	"fmt"
)

// ErrTaskTimeout is the cause of a handler ctx cancelled because ProcessorOptions.Timeout passed; the
// failure recorded for that attempt matches it (and context.DeadlineExceeded) with errors.Is.
var ErrTaskTimeout = errors.New("task timed out")

// ErrNoTask is returned by Heartbeat when ctx does not belong to a task started by a Worker.
var ErrNoTask = errors.New("no pgtq task in context")

// ErrLeaseLost is returned by Heartbeat when the task's lease expired and another worker took it.
var ErrLeaseLost = errors.New("task lease lost")

// errShutdown is the cancellation cause of handlers still running when ShutdownTimeout ends.
var errShutdown = errors.New("worker shutting down")

type timeoutError struct{ timeout string }

func (e *timeoutError) Error() string { return "task timed out after " + e.timeout }

func (e *timeoutError) Is(target error) bool {
	return target == ErrTaskTimeout || target == context.DeadlineExceeded
}

type nonRetryableError struct{ err error }

func (e *nonRetryableError) Error() string { return e.err.Error() }
func (e *nonRetryableError) Unwrap() error { return e.err }

// NonRetryable wraps err so that the task goes to the dead-letter queue at once, whatever MaxRetries
// and RetryOn say. Handlers return it for errors that another attempt cannot fix.
func NonRetryable(err error) error {
	if err == nil {
		return nil
	}
	return &nonRetryableError{err: err}
}

// PanicError is the failure recorded when a handler panics.
type PanicError struct {
	// Value is what the handler passed to panic.
	Value any
	// Stack is the goroutine's stack at the panic.
	Stack []byte
}

// Error returns "handler panicked: <value>"; the stack is in Stack (and in the recorded failure).
func (e *PanicError) Error() string { return fmt.Sprintf("handler panicked: %v", e.Value) }
