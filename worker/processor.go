package worker

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"time"
)

const (
	// TimeoutDefault is the handler deadline of a processor whose Timeout is zero.
	TimeoutDefault = 60 * time.Second
	// LeaseGraceMin is the least time by which a task's lease outlives its handler's deadline, so that the
	// worker records a timeout as a failure before any other worker can see the task.
	LeaseGraceMin = 5 * time.Second
	// MaxLostLeasesDefault is the lost-lease budget of a processor whose MaxLostLeases is zero.
	MaxLostLeasesDefault = 3
)

// ProcessorOptions configures a processor. A nil *ProcessorOptions means all defaults.
type ProcessorOptions struct {
	// MaxRetries is how many times a failed task is retried: N retries after recorded failures (handler
	// errors, panics, timeouts), so N+1 failed attempts end in the dead-letter queue. Attempts lost to
	// crashes or expired leases do not count (see MaxLostLeases). Defaults to 0 (no retry).
	MaxRetries int

	// MaxLostLeases is the lost-lease budget: an attempt that ends with no recorded outcome (its worker
	// crashed or stalled until the lease expired) is a lost lease, and a task whose lost leases reach
	// MaxLostLeases goes to the dead-letter queue instead of running again, with one "lease expired" entry
	// per lost lease in its x-pgtq-error-log header. So a task that kills its worker every time cannot
	// crash the fleet forever, while a crash never dead-letters a task that still has this budget. Defaults
	// to MaxLostLeasesDefault (3).
	MaxLostLeases int

	// RetryOn lists which errors are retried; an error that no matcher accepts goes to the dead-letter
	// queue at once. Use RetryOnError (errors.Is), RetryOnType (errors.As) or any func(error) bool.
	// Defaults to empty: every handler error is retried (payloads that fail to decode or validate, and
	// errors wrapped with NonRetryable, never are).
	RetryOn []RetryMatcher

	// RetryDelay is the wait before a retry: FixedDelay, LinearDelay, ExponentialDelay or a
	// RetryDelayFunc. Delays are stored in whole seconds (rounded up). Defaults to no delay.
	RetryDelay RetryDelay

	// Timeout is the handler's deadline: its ctx is cancelled when it passes and the attempt is recorded as
	// failed with an error matching ErrTaskTimeout. The lease is longer by max(LeaseGraceMin, Timeout/10).
	// Heartbeat pushes both forward. Defaults to TimeoutDefault (60 s).
	Timeout time.Duration

	// ConcurrencyLimit caps the tasks of this queue that run at once across all workers (enforced by
	// pgtq.read). Defaults to 0: no queue-level limit.
	ConcurrencyLimit int

	// Grouped enables strict group order: at most one task per group in flight across all workers, in
	// FIFO (or LIFO) order within the group. Defaults to false.
	Grouped bool

	// LIFO makes the newest visible task (or group head) go first. Defaults to false (FIFO).
	LIFO bool

	// IdempotencyKey names a top-level payload field that the worker fills with the task's stable task id
	// (the same on every retry and after a reschedule from the DLQ) before decoding. Defaults to "" (off).
	IdempotencyKey string

	// Hooks receive this processor's lifecycle events, after the worker's Options.Hooks (see HookFunc for
	// the events and their order). Defaults to none.
	Hooks []HookFunc

	// Middleware wraps this processor's handler calls, inside the worker's Options.Middleware; the first
	// element is the outermost. Defaults to none.
	Middleware []Middleware
}

// Processor runs the tasks of one queue with a handler. Create it with NewProcessor and pass it to New
// (Options.Processors) or Main.
type Processor struct {
	queue string
	opts  ProcessorOptions
	lease time.Duration
	// run decodes the payload of task and calls the handler; decode and validation errors come back
	// wrapped with NonRetryable.
	run func(ctx context.Context, payload json.RawMessage, taskID string) error
	err error
}

// Queue returns the name of the queue the processor reads.
func (p *Processor) Queue() string { return p.queue }

// NewProcessor returns a processor that decodes each task's JSON payload of queue into a T and calls
// handler with it. If T or *T has a `Validate() error` method, a payload that fails it goes to the
// dead-letter queue without calling handler, as does one that does not decode. Configuration errors
// are reported by New.
func NewProcessor[T any](queue string, handler func(ctx context.Context, payload T) error, opts *ProcessorOptions) *Processor {
	p := &Processor{queue: queue}
	if opts != nil {
		p.opts = *opts
	}
	p.opts.Timeout = cmp.Or(p.opts.Timeout, TimeoutDefault)
	p.opts.MaxLostLeases = cmp.Or(p.opts.MaxLostLeases, MaxLostLeasesDefault)
	p.err = p.validate(handler != nil)
	grace := max(LeaseGraceMin, p.opts.Timeout/10)
	p.lease = (p.opts.Timeout + grace + time.Second - 1).Truncate(time.Second)

	key := p.opts.IdempotencyKey
	p.run = func(ctx context.Context, payload json.RawMessage, taskID string) error {
		if key != "" {
			filled, err := setField(payload, key, taskID)
			if err != nil {
				return NonRetryable(fmt.Errorf("fill idempotency key %q: %w", key, err))
			}
			payload = filled
		}
		var v T
		if err := json.Unmarshal(payload, &v); err != nil {
			return NonRetryable(fmt.Errorf("decode payload: %w", err))
		}
		if err := validate(&v); err != nil {
			return NonRetryable(fmt.Errorf("validate payload: %w", err))
		}
		return handler(ctx, v)
	}
	return p
}

func (p *Processor) validate(hasHandler bool) error {
	switch {
	case p.queue == "":
		return errors.New("queue name is empty")
	case !hasHandler:
		return errors.New("handler is nil")
	case p.opts.MaxRetries < 0 || p.opts.MaxRetries >= math.MaxInt32:
		return fmt.Errorf("MaxRetries must be >= 0, got %d", p.opts.MaxRetries)
	case p.opts.MaxLostLeases < 0 || p.opts.MaxLostLeases > math.MaxInt32:
		return fmt.Errorf("MaxLostLeases must be between 1 and %d (0 means the default, %d), got %d",
			math.MaxInt32, MaxLostLeasesDefault, p.opts.MaxLostLeases)
	case p.opts.Timeout < 0:
		return fmt.Errorf("timeout must be >= 0, got %s", p.opts.Timeout)
	case p.opts.ConcurrencyLimit < 0:
		return fmt.Errorf("ConcurrencyLimit must be >= 0, got %d", p.opts.ConcurrencyLimit)
	}
	return nil
}

// validate calls Validate on v when T or *T implements it.
func validate[T any](v *T) error {
	if val, ok := any(v).(interface{ Validate() error }); ok {
		return val.Validate()
	}
	if rv := reflect.ValueOf(*v); rv.IsValid() {
		if val, ok := any(*v).(interface{ Validate() error }); ok {
			if rv.Kind() == reflect.Pointer && rv.IsNil() {
				return errors.New("payload is null")
			}
			return val.Validate()
		}
	}
	return nil
}

// setField returns the JSON object payload with field set to the string value.
func setField(payload json.RawMessage, field, value string) (json.RawMessage, error) {
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, errors.New("payload is not a JSON object")
	}
	v, err := json.Marshal(value)
	if err != nil {
		return nil, err
	}
	obj[field] = v
	return json.Marshal(obj)
}

// retryable reports whether err may be retried under the processor's RetryOn.
func (p *Processor) retryable(err error) bool {
	if errors.As(err, new(*nonRetryableError)) {
		return false
	}
	if len(p.opts.RetryOn) == 0 {
		return true
	}
	for _, m := range p.opts.RetryOn {
		if m != nil && m(err) {
			return true
		}
	}
	return false
}

// retryDelay is the wait before the retry of the given failed attempt.
func (p *Processor) retryDelay(attempt int) time.Duration {
	if p.opts.RetryDelay == nil {
		return 0
	}
	return max(p.opts.RetryDelay.Delay(attempt), 0)
}
