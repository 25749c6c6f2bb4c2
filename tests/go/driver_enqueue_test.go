package gotest

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/driver"
)

// signup is a typed payload whose Validate has a value receiver.
type signup struct {
	Email string `json:"email"`
	Plan  string `json:"plan"`
}

var errNoEmail = errors.New("email is required")

func (s signup) Validate() error {
	if s.Email == "" {
		return errNoEmail
	}
	return nil
}

// invoice is a typed payload whose Validate has a pointer receiver.
type invoice struct {
	Cents int `json:"cents"`
}

var errNegativeInvoice = errors.New("cents must not be negative")

func (i *invoice) Validate() error {
	if i.Cents < 0 {
		return errNegativeInvoice
	}
	return nil
}

func TestDriverEnqueuePayloadKinds(t *testing.T) {
	t.Parallel()
	b := setupDriver(t)
	queue := b.newQueue(t, false)

	type point struct {
		X int `json:"x"`
		Y int `json:"y"`
	}
	payloads := []any{
		json.RawMessage(`{"kind": "raw"}`),
		[]byte(`{"kind": "bytes"}`),
		map[string]any{"kind": "map"},
		point{X: 1, Y: 2},
		&point{X: 3, Y: 4},
	}
	want := []string{`{"kind": "raw"}`, `{"kind": "bytes"}`, `{"kind": "map"}`, `{"x": 1, "y": 2}`, `{"x": 3, "y": 4}`}
	var ids []int64
	for _, p := range payloads {
		id, err := b.client.Enqueue(b.ctx, queue, p, nil)
		require.NoError(t, err)
		ids = append(ids, id)
	}
	tasks, err := b.client.Read(b.ctx, queue, 10, time.Minute, nil)
	require.NoError(t, err)
	require.Len(t, tasks, len(payloads))
	byID := map[int64]driver.Task{}
	for _, tk := range tasks {
		byID[tk.MsgID] = tk
	}
	for i, id := range ids {
		require.JSONEq(t, want[i], string(byID[id].Payload), "payload %d", i)
	}

	// Refused before any round trip: nil and malformed JSON.
	_, err = b.client.Enqueue(b.ctx, queue, nil, nil)
	require.ErrorIs(t, err, driver.ErrInvalidPayload)
	_, err = b.client.Enqueue(b.ctx, queue, json.RawMessage(`{"broken":`), nil)
	require.ErrorIs(t, err, driver.ErrInvalidPayload)
	_, err = b.client.Enqueue(b.ctx, queue, map[string]any{"f": func() {}}, nil)
	require.ErrorIs(t, err, driver.ErrInvalidPayload)
	require.EqualValues(t, len(payloads), b.queueRows(t, queue))
}

func TestDriverEnqueueOptions(t *testing.T) {
	t.Parallel()
	b := setupDriver(t)
	queue := b.newQueue(t, false)

	// Headers and group round trip; PGTQ's own headers are added.
	id, err := b.client.Enqueue(b.ctx, queue, map[string]any{"n": 1}, &driver.EnqueueOptions{
		Group:   "customer-7",
		Headers: map[string]any{"trace": "abc", "weight": 3, "nested": map[string]any{"k": true}},
	})
	require.NoError(t, err)
	tk := b.readOne(t, queue, nil)
	require.Equal(t, id, tk.MsgID)
	require.Equal(t, 1, tk.Attempt)
	require.Equal(t, "customer-7", tk.GroupKey)
	require.Equal(t, "abc", tk.Headers["trace"])
	require.EqualValues(t, 3, tk.Headers["weight"])
	require.Equal(t, map[string]any{"k": true}, tk.Headers["nested"])
	require.Equal(t, "customer-7", tk.Headers["x-pgmq-group"])
	require.NotEmpty(t, tk.TaskID)
	require.Equal(t, tk.TaskID, tk.Headers["x-pgtq-task-id"])
	require.Equal(t, "processing", tk.Headers["x-pgtq-status"])
	require.WithinDuration(t, time.Now().Add(time.Minute), tk.VT, 10*time.Second, "lease of one minute")
	ok, err := b.client.Complete(b.ctx, queue, tk.MsgID, tk.Attempt)
	require.NoError(t, err)
	require.True(t, ok)

	// Delay: invisible now, due about an hour from now.
	id, err = b.client.Enqueue(b.ctx, queue, map[string]any{"n": 2}, &driver.EnqueueOptions{Delay: time.Hour})
	require.NoError(t, err)
	tasks, err := b.client.Read(b.ctx, queue, 10, time.Minute, nil)
	require.NoError(t, err)
	require.Empty(t, tasks, "a delayed task is not visible")
	due, ok, err := b.client.NextDue(b.ctx, queue)
	require.NoError(t, err)
	require.True(t, ok)
	require.WithinDuration(t, time.Now().Add(time.Hour), due, 10*time.Second)
	require.NotZero(t, id)

	// Sub-second delays round up, never down to zero.
	_, err = b.client.Enqueue(b.ctx, queue, map[string]any{"n": 3}, &driver.EnqueueOptions{Delay: 300 * time.Millisecond})
	require.NoError(t, err)
	require.EqualValues(t, 2, b.count(t, `SELECT count(*) FROM pgmq.q_`+queue+` WHERE vt > clock_timestamp()`))
}

func TestDriverEnqueueDedupe(t *testing.T) {
	t.Parallel()
	b := setupDriver(t)
	queue := b.newQueue(t, false)

	first, err := b.client.Enqueue(b.ctx, queue, map[string]any{"n": 1}, &driver.EnqueueOptions{DedupeKey: "k1"})
	require.NoError(t, err)
	again, err := b.client.Enqueue(b.ctx, queue, map[string]any{"n": 2}, &driver.EnqueueOptions{DedupeKey: "k1"})
	require.NoError(t, err)
	require.Equal(t, first, again, "same key returns the same task")
	other, err := b.client.Enqueue(b.ctx, queue, map[string]any{"n": 3}, &driver.EnqueueOptions{DedupeKey: "k2"})
	require.NoError(t, err)
	require.NotEqual(t, first, other)
	require.EqualValues(t, 2, b.queueRows(t, queue))

	// Racing producers with one key create one task and all get its id.
	const producers = 6
	var (
		wg    sync.WaitGroup
		start = tqNewGate(producers)
		ids   = make([]int64, producers)
		errs  = make([]error, producers)
	)
	for i := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start.arrive()
			ids[i], errs[i] = b.client.Enqueue(b.ctx, queue, map[string]any{"p": i}, &driver.EnqueueOptions{DedupeKey: "race"})
		}()
	}
	wg.Wait()
	for i := range producers {
		require.NoError(t, errs[i])
		require.Equal(t, ids[0], ids[i])
	}
	require.EqualValues(t, 3, b.queueRows(t, queue))

	// Once the task left the queue, the key is free again.
	tasks, err := b.client.Read(b.ctx, queue, 10, time.Minute, nil)
	require.NoError(t, err)
	for _, tk := range tasks {
		if tk.MsgID == first {
			ok, err := b.client.Complete(b.ctx, queue, tk.MsgID, tk.Attempt)
			require.NoError(t, err)
			require.True(t, ok)
		}
	}
	fresh, err := b.client.Enqueue(b.ctx, queue, map[string]any{"n": 4}, &driver.EnqueueOptions{DedupeKey: "k1"})
	require.NoError(t, err)
	require.NotEqual(t, first, fresh)
}

func TestDriverEnqueueTx(t *testing.T) {
	t.Parallel()
	b := setupDriver(t)
	queue := b.newQueue(t, false)

	// Rolled back: nothing is left.
	tx, err := b.pool.Begin(b.ctx)
	require.NoError(t, err)
	_, err = b.client.EnqueueTx(b.ctx, tx, queue, map[string]any{"n": 1}, nil)
	require.NoError(t, err)
	require.NoError(t, tx.Rollback(b.ctx))
	require.Zero(t, b.queueRows(t, queue))

	// Committed: visible to a reader, but only after commit.
	tx, err = b.pool.Begin(b.ctx)
	require.NoError(t, err)
	id, err := b.client.EnqueueTx(b.ctx, tx, queue, map[string]any{"n": 2}, nil)
	require.NoError(t, err)
	tasks, err := b.client.Read(b.ctx, queue, 10, time.Minute, nil)
	require.NoError(t, err)
	require.Empty(t, tasks, "uncommitted task must not be visible")
	require.NoError(t, tx.Commit(b.ctx))
	require.Equal(t, id, b.readOne(t, queue, nil).MsgID)

	// Batch in a transaction, rolled back.
	tx, err = b.pool.Begin(b.ctx)
	require.NoError(t, err)
	ids, err := b.client.EnqueueBatchTx(b.ctx, tx, queue, []any{map[string]any{"n": 3}, map[string]any{"n": 4}}, nil)
	require.NoError(t, err)
	require.Len(t, ids, 2)
	require.NoError(t, tx.Rollback(b.ctx))
	require.EqualValues(t, 1, b.queueRows(t, queue))

	_, err = b.client.EnqueueTx(b.ctx, nil, queue, map[string]any{"n": 5}, nil)
	require.ErrorIs(t, err, driver.ErrInvalidArgument)
}

func TestDriverEnqueueBatch(t *testing.T) {
	t.Parallel()
	b := setupDriver(t)
	queue := b.newQueue(t, false)

	payloads := make([]any, 5)
	for i := range payloads {
		payloads[i] = map[string]any{"i": i}
	}
	ids, err := b.client.EnqueueBatch(b.ctx, queue, payloads, &driver.EnqueueOptions{
		Group: "g", Headers: map[string]any{"src": "batch"},
	})
	require.NoError(t, err)
	require.Len(t, ids, len(payloads))
	for i := 1; i < len(ids); i++ {
		require.Greater(t, ids[i], ids[i-1], "ids come back in payload order")
	}
	tasks, err := b.client.Read(b.ctx, queue, 10, time.Minute, nil)
	require.NoError(t, err)
	require.Len(t, tasks, len(payloads))
	for _, tk := range tasks {
		i := slices.Index(ids, tk.MsgID)
		require.GreaterOrEqual(t, i, 0)
		require.JSONEq(t, `{"i": `+strconv.Itoa(i)+`}`, string(tk.Payload))
		require.Equal(t, "g", tk.GroupKey)
		require.Equal(t, "batch", tk.Headers["src"])
		require.NotEmpty(t, tk.TaskID)
	}

	// Delay applies to the whole batch.
	ids, err = b.client.EnqueueBatch(b.ctx, queue, payloads[:2], &driver.EnqueueOptions{Delay: time.Hour})
	require.NoError(t, err)
	require.Len(t, ids, 2)
	tasks, err = b.client.Read(b.ctx, queue, 10, time.Minute, nil)
	require.NoError(t, err)
	require.Empty(t, tasks)

	// Empty batch: nothing to do. DedupeKey: refused, naming the field.
	ids, err = b.client.EnqueueBatch(b.ctx, queue, nil, nil)
	require.NoError(t, err)
	require.Empty(t, ids)
	_, err = b.client.EnqueueBatch(b.ctx, queue, payloads, &driver.EnqueueOptions{DedupeKey: "x"})
	require.ErrorIs(t, err, driver.ErrInvalidArgument)
	require.Contains(t, err.Error(), "DedupeKey")
	require.EqualValues(t, 7, b.queueRows(t, queue))
}

func TestDriverTypedQueue(t *testing.T) {
	t.Parallel()
	b := setupDriver(t)

	signups := driver.NewQueue[signup](b.client, "signups", nil)
	require.Equal(t, "signups", signups.Name())
	require.Equal(t, "signups_dlq", signups.DLQName())
	require.NoError(t, signups.Create(b.ctx))
	require.EqualValues(t, 1, b.count(t, `SELECT count(*) FROM pgmq.meta WHERE queue_name = 'signups_dlq'`))

	id, err := signups.Enqueue(b.ctx, signup{Email: "a@example.com", Plan: "pro"}, nil)
	require.NoError(t, err)
	ids, err := signups.EnqueueBatch(b.ctx, []signup{{Email: "b@example.com"}, {Email: "c@example.com"}}, nil)
	require.NoError(t, err)
	require.Len(t, ids, 2)

	tasks, err := b.client.Read(b.ctx, "signups", 10, time.Minute, nil)
	require.NoError(t, err)
	require.Len(t, tasks, 3)
	got := map[int64]signup{}
	for _, tk := range tasks {
		var s signup
		require.NoError(t, json.Unmarshal(tk.Payload, &s))
		got[tk.MsgID] = s
	}
	require.Equal(t, signup{Email: "a@example.com", Plan: "pro"}, got[id])
	require.Equal(t, "b@example.com", got[ids[0]].Email)
	require.Equal(t, "c@example.com", got[ids[1]].Email)

	// Validate() refuses and inserts nothing: single, batch (one bad value spoils all) and in a transaction.
	before := b.queueRows(t, "signups")
	_, err = signups.Enqueue(b.ctx, signup{Plan: "free"}, nil)
	require.ErrorIs(t, err, errNoEmail)
	require.ErrorIs(t, err, driver.ErrInvalidPayload)
	_, err = signups.EnqueueBatch(b.ctx, []signup{{Email: "ok@example.com"}, {}}, nil)
	require.ErrorIs(t, err, errNoEmail)
	tx, err := b.pool.Begin(b.ctx)
	require.NoError(t, err)
	_, err = signups.EnqueueTx(b.ctx, tx, signup{}, nil)
	require.ErrorIs(t, err, errNoEmail)
	require.NoError(t, tx.Commit(b.ctx))
	require.Equal(t, before, b.queueRows(t, "signups"))

	// The untyped form validates a payload that has Validate too.
	_, err = b.client.Enqueue(b.ctx, "signups", signup{}, nil)
	require.ErrorIs(t, err, errNoEmail)
	require.Equal(t, before, b.queueRows(t, "signups"))

	// Pointer-receiver Validate, a queue without DLQ.
	invoices := driver.NewQueue[invoice](b.client, "invoices", &driver.QueueOptions{NoDLQ: true})
	require.Empty(t, invoices.DLQName())
	require.NoError(t, invoices.Create(b.ctx))
	require.EqualValues(t, 0, b.count(t, `SELECT count(*) FROM pgmq.meta WHERE queue_name = 'invoices_dlq'`))
	_, err = invoices.Enqueue(b.ctx, invoice{Cents: -1}, nil)
	require.ErrorIs(t, err, errNegativeInvoice)
	tx, err = b.pool.Begin(b.ctx)
	require.NoError(t, err)
	_, err = invoices.EnqueueTx(b.ctx, tx, invoice{Cents: 250}, &driver.EnqueueOptions{Group: "acme"})
	require.NoError(t, err)
	require.NoError(t, tx.Commit(b.ctx))
	tk := b.readOne(t, "invoices", nil)
	require.JSONEq(t, `{"cents": 250}`, string(tk.Payload))
	require.Equal(t, "acme", tk.GroupKey)

	// Pointer element type: nil is refused by the database, not by a panic.
	pointers := driver.NewQueue[*invoice](b.client, "invoices", nil)
	_, err = pointers.Enqueue(b.ctx, &invoice{Cents: -5}, nil)
	require.ErrorIs(t, err, errNegativeInvoice)
	_, err = pointers.Enqueue(b.ctx, nil, nil)
	require.ErrorIs(t, err, driver.ErrInvalidPayload)
}
