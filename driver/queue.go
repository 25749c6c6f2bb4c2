package driver

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/jackc/pgx/v5"
)

// QueueOptions configures a typed queue created with NewQueue. A nil *QueueOptions means all defaults.
type QueueOptions struct {
	// NoDLQ makes Create set the queue up without a dead-letter queue (the seed's dlq=False): tasks that
	// fail for good are archived with status failed. Defaults to false (a DLQ "<name>_dlq" is created).
	NoDLQ bool
	// DLQName names the dead-letter queue. Defaults to "<name>_dlq". Ignored with NoDLQ.
	DLQName string
}

// Queue is a queue whose payloads are values of type T, encoded as JSON objects with encoding/json. If T
// or *T has a method Validate() error, every enqueue validates the value first and refuses it (inserting
// nothing) when Validate fails; the error wraps both ErrInvalidPayload and Validate's error.
type Queue[T any] struct {
	client *Client
	name   string
	opts   QueueOptions
}

// NewQueue returns a typed handle on queue name. It does not touch the database: call Create (or
// Client.CreateQueue, or pgtq.create_queue from a migration) to create the queue.
func NewQueue[T any](c *Client, name string, opts *QueueOptions) *Queue[T] {
	q := &Queue[T]{client: c, name: name}
	if opts != nil {
		q.opts = *opts
	}
	return q
}

// Name returns the queue's name.
func (q *Queue[T]) Name() string { return q.name }

// DLQName returns the name of the queue's dead-letter queue, or "" when it has none.
func (q *Queue[T]) DLQName() string {
	switch {
	case q.opts.NoDLQ:
		return ""
	case q.opts.DLQName != "":
		return q.opts.DLQName
	}
	return q.name + DLQSuffix
}

// Client returns the Client the queue uses.
func (q *Queue[T]) Client() *Client { return q.client }

// Create creates the queue with its options (idempotent), as Client.CreateQueue.
func (q *Queue[T]) Create(ctx context.Context) error {
	return q.client.CreateQueue(ctx, q.name, &CreateQueueOptions{NoDLQ: q.opts.NoDLQ, DLQName: q.opts.DLQName})
}

// Enqueue validates and adds one task, returning its msg_id (see Client.Enqueue).
func (q *Queue[T]) Enqueue(ctx context.Context, v T, opts *EnqueueOptions) (int64, error) {
	return q.enqueue(ctx, q.client.pool, v, opts)
}

// EnqueueTx is Enqueue inside the caller's transaction.
func (q *Queue[T]) EnqueueTx(ctx context.Context, tx pgx.Tx, v T, opts *EnqueueOptions) (int64, error) {
	if tx == nil {
		return 0, fmt.Errorf("enqueue %q: %w", q.name, invalidArgf("tx is nil"))
	}
	return q.enqueue(ctx, tx, v, opts)
}

func (q *Queue[T]) enqueue(ctx context.Context, db Querier, v T, opts *EnqueueOptions) (int64, error) {
	if err := validate(&v); err != nil {
		return 0, fmt.Errorf("enqueue %q: %w", q.name, err)
	}
	return q.client.enqueue(ctx, db, q.name, typedPayload[T]{v}, opts)
}

// EnqueueBatch validates every value and adds them all in one statement (see Client.EnqueueBatch). When one
// value is invalid, nothing is inserted.
func (q *Queue[T]) EnqueueBatch(ctx context.Context, vs []T, opts *EnqueueOptions) ([]int64, error) {
	return q.enqueueBatch(ctx, q.client.pool, vs, opts)
}

// EnqueueBatchTx is EnqueueBatch inside the caller's transaction.
func (q *Queue[T]) EnqueueBatchTx(ctx context.Context, tx pgx.Tx, vs []T, opts *EnqueueOptions) ([]int64, error) {
	if tx == nil {
		return nil, fmt.Errorf("enqueue batch %q: %w", q.name, invalidArgf("tx is nil"))
	}
	return q.enqueueBatch(ctx, tx, vs, opts)
}

func (q *Queue[T]) enqueueBatch(ctx context.Context, db Querier, vs []T, opts *EnqueueOptions) ([]int64, error) {
	payloads := make([]any, len(vs))
	for i := range vs {
		if err := validate(&vs[i]); err != nil {
			return nil, fmt.Errorf("enqueue batch %q: payloads[%d]: %w", q.name, i, err)
		}
		payloads[i] = typedPayload[T]{vs[i]}
	}
	return q.client.enqueueBatch(ctx, db, q.name, payloads, opts)
}

// typedPayload hides T's own methods (Validate already ran) while encoding exactly as T does.
type typedPayload[T any] struct{ v T }

// MarshalJSON encodes the wrapped value.
func (p typedPayload[T]) MarshalJSON() ([]byte, error) { return json.Marshal(p.v) }

// validate runs Validate on *v or v when the type has it. A nil pointer T is left to the JSON encoder.
func validate[T any](v *T) error {
	var err error
	switch x := any(v).(type) {
	case validator:
		err = x.Validate()
	default:
		if vv, ok := any(*v).(validator); ok && !isNilPointer(*v) {
			err = vv.Validate()
		}
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidPayload, err)
	}
	return nil
}

// isNilPointer reports whether v is a nil pointer (calling a method on it could panic).
func isNilPointer(v any) bool {
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}
