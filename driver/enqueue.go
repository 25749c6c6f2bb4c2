package driver

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnqueueOptions configures Enqueue, EnqueueTx, EnqueueBatch and their typed forms. A nil *EnqueueOptions
// means all defaults.
type EnqueueOptions struct {
	// Group puts the task in a strictly ordered group (header x-pgmq-group): grouped readers run at most one
	// task of a group at a time, in order. Defaults to "" (no group).
	Group string
	// Delay keeps the task invisible for this long after enqueue, rounded up to whole seconds. Must not be
	// negative. Defaults to 0 (visible at once).
	Delay time.Duration
	// DedupeKey makes the enqueue idempotent: while a task with the same key is still in the queue, enqueue
	// returns that task's msg_id and inserts nothing. Not supported by the batch forms. Defaults to "" (none).
	DedupeKey string
	// Headers are extra JSON headers stored with the task. Keys starting with "x-pgtq-" are reserved for
	// PGTQ and cannot be set this way. Defaults to nil (none).
	Headers map[string]any
}

// validator is implemented by payload types that can check themselves before they are enqueued.
type validator interface {
	Validate() error
}

// encodedOptions are EnqueueOptions in the form the SQL functions take (NULL for unset values).
type encodedOptions struct {
	group     *string
	delay     int
	dedupeKey *string
	headers   []byte
}

func (o *EnqueueOptions) encode() (encodedOptions, error) {
	var e encodedOptions
	if o == nil {
		return e, nil
	}
	delay, err := secondsArg("EnqueueOptions.Delay", o.Delay, 0)
	if err != nil {
		return e, err
	}
	e.delay = delay
	if o.Group != "" {
		e.group = &o.Group
	}
	if o.DedupeKey != "" {
		e.dedupeKey = &o.DedupeKey
	}
	if len(o.Headers) > 0 {
		h, err := json.Marshal(o.Headers)
		if err != nil {
			return e, invalidArgf("EnqueueOptions.Headers cannot be encoded as JSON: %v", err)
		}
		e.headers = h
	}
	return e, nil
}

// encodePayload turns a payload into JSON. json.RawMessage and []byte are taken as JSON text as they are;
// anything else is passed to json.Marshal. A payload with a Validate() error method is validated first. The
// database checks that the result is a JSON object.
func encodePayload(payload any) ([]byte, error) {
	if payload == nil {
		return nil, fmt.Errorf("%w: payload is nil", ErrInvalidPayload)
	}
	if v, ok := payload.(validator); ok {
		if err := v.Validate(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidPayload, err)
		}
	}
	var raw []byte
	switch p := payload.(type) {
	case json.RawMessage:
		raw = p
	case []byte:
		raw = p
	default:
		b, err := json.Marshal(payload)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidPayload, err)
		}
		return b, nil
	}
	if !json.Valid(raw) {
		return nil, fmt.Errorf("%w: payload is not valid JSON", ErrInvalidPayload)
	}
	return raw, nil
}

// Enqueue adds one task to queue and returns its msg_id. payload may be json.RawMessage or []byte (JSON
// text), a map or a struct (encoded with encoding/json); it must encode to a JSON object. With
// opts.DedupeKey held by a task still in the queue, it returns that task's msg_id. It calls pgtq.enqueue.
func (c *Client) Enqueue(ctx context.Context, queue string, payload any, opts *EnqueueOptions) (int64, error) {
	return c.enqueue(ctx, c.pool, queue, payload, opts)
}

// EnqueueTx is Enqueue inside the caller's transaction: the task exists only if tx commits, and becomes
// visible to workers (and notifies them) at commit.
func (c *Client) EnqueueTx(ctx context.Context, tx pgx.Tx, queue string, payload any, opts *EnqueueOptions) (int64, error) {
	if tx == nil {
		return 0, invalidArgf("tx is nil")
	}
	return c.enqueue(ctx, tx, queue, payload, opts)
}

func (c *Client) enqueue(ctx context.Context, q Querier, queue string, payload any, opts *EnqueueOptions) (int64, error) {
	id, err := enqueueOne(ctx, q, queue, payload, opts)
	if err != nil {
		return 0, fmt.Errorf("enqueue %q: %w", queue, err)
	}
	return id, nil
}

func enqueueOne(ctx context.Context, q Querier, queue string, payload any, opts *EnqueueOptions) (int64, error) {
	o, err := opts.encode()
	if err != nil {
		return 0, err
	}
	body, err := encodePayload(payload)
	if err != nil {
		return 0, err
	}
	var id int64
	err = q.QueryRow(ctx, `
		SELECT pgtq.enqueue(queue_name => $1::text, payload => $2::jsonb, group_key => $3::text,
		                    delay => $4::integer, headers => $5::jsonb, dedupe_key => $6::text)`,
		queue, body, o.group, o.delay, o.headers, o.dedupeKey).Scan(&id)
	if err != nil {
		return 0, interpretError(err)
	}
	return id, nil
}

// EnqueueBatch adds many tasks to queue in one statement and returns their msg_ids in payload order. Every
// payload follows Enqueue's rules; opts (group, delay, headers) applies to all of them; opts.DedupeKey is not
// supported. An empty payloads slice inserts nothing and returns nil. It calls pgtq.enqueue_batch.
func (c *Client) EnqueueBatch(ctx context.Context, queue string, payloads []any, opts *EnqueueOptions) ([]int64, error) {
	return c.enqueueBatch(ctx, c.pool, queue, payloads, opts)
}

// EnqueueBatchTx is EnqueueBatch inside the caller's transaction.
func (c *Client) EnqueueBatchTx(ctx context.Context, tx pgx.Tx, queue string, payloads []any, opts *EnqueueOptions) ([]int64, error) {
	if tx == nil {
		return nil, invalidArgf("tx is nil")
	}
	return c.enqueueBatch(ctx, tx, queue, payloads, opts)
}

func (c *Client) enqueueBatch(ctx context.Context, q Querier, queue string, payloads []any, opts *EnqueueOptions) ([]int64, error) {
	ids, err := enqueueMany(ctx, q, queue, payloads, opts)
	if err != nil {
		return nil, fmt.Errorf("enqueue batch %q: %w", queue, err)
	}
	return ids, nil
}

func enqueueMany(ctx context.Context, q Querier, queue string, payloads []any, opts *EnqueueOptions) ([]int64, error) {
	if opts != nil && opts.DedupeKey != "" {
		return nil, invalidArgf("EnqueueOptions.DedupeKey is not supported by EnqueueBatch")
	}
	o, err := opts.encode()
	if err != nil {
		return nil, err
	}
	if len(payloads) == 0 {
		return nil, nil
	}
	bodies := make([][]byte, len(payloads))
	for i, p := range payloads {
		if bodies[i], err = encodePayload(p); err != nil {
			return nil, fmt.Errorf("payloads[%d]: %w", i, err)
		}
	}
	var groups []*string
	if o.group != nil {
		groups = make([]*string, len(payloads))
		for i := range groups {
			groups[i] = o.group
		}
	}
	var headers [][]byte
	if o.headers != nil {
		headers = make([][]byte, len(payloads))
		for i := range headers {
			headers[i] = o.headers
		}
	}
	rows, err := q.Query(ctx, `
		SELECT id FROM pgtq.enqueue_batch(queue_name => $1::text, payloads => $2::jsonb[],
		                                  group_keys => $3::text[], delay => $4::integer,
		                                  headers => $5::jsonb[]) AS id`,
		queue, bodies, groups, o.delay, headers)
	if err != nil {
		return nil, interpretError(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, interpretError(err)
	}
	return ids, nil
}
