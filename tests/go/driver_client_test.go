package gotest

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/driver"
	"github.com/pgtq/pgtq/internal/pgtest"
)

func TestDriverNewChecksSchema(t *testing.T) {
	t.Parallel()

	newCtx := func(t *testing.T) context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), driverTestTimeout)
		t.Cleanup(cancel)
		return ctx
	}

	t.Run("MigratedDatabaseIsAccepted", func(t *testing.T) {
		t.Parallel()
		ctx, pool := newCtx(t), pgtest.NewDB(t)
		client, err := driver.New(ctx, pool)
		require.NoError(t, err)
		require.Same(t, pool, client.Pool())
	})

	t.Run("MissingSchemaIsNotMigrated", func(t *testing.T) {
		t.Parallel()
		ctx, pool := newCtx(t), pgtest.NewDB(t)
		_, err := pool.Exec(ctx, `DROP SCHEMA pgtq CASCADE`)
		require.NoError(t, err)
		_, err = driver.New(ctx, pool)
		require.ErrorIs(t, err, driver.ErrSchemaNotMigrated)
	})

	t.Run("EmptyDatabaseIsNotMigrated", func(t *testing.T) {
		t.Parallel()
		ctx := newCtx(t)
		pool, err := pgxpool.New(ctx, pgtest.NewEmptyDBURL(t))
		require.NoError(t, err)
		t.Cleanup(pool.Close)
		_, err = driver.New(ctx, pool)
		require.ErrorIs(t, err, driver.ErrSchemaNotMigrated)
	})

	t.Run("MissingHashIsNotMigrated", func(t *testing.T) {
		t.Parallel()
		ctx, pool := newCtx(t), pgtest.NewDB(t)
		_, err := pool.Exec(ctx, `DELETE FROM pgtq.schema_functions`)
		require.NoError(t, err)
		_, err = driver.New(ctx, pool)
		require.ErrorIs(t, err, driver.ErrSchemaNotMigrated)
	})

	t.Run("OlderSchemaIsMismatch", func(t *testing.T) {
		t.Parallel()
		ctx, pool := newCtx(t), pgtest.NewDB(t)
		_, err := pool.Exec(ctx, `UPDATE pgtq.schema_functions SET migration = migration - 1`)
		require.NoError(t, err)
		_, err = driver.New(ctx, pool)
		require.ErrorIs(t, err, driver.ErrSchemaMismatch)
		require.NotErrorIs(t, err, driver.ErrSchemaNotMigrated)
		require.Contains(t, err.Error(), "upgrade the database")
	})

	t.Run("NilPool", func(t *testing.T) {
		t.Parallel()
		_, err := driver.New(newCtx(t), nil)
		require.ErrorIs(t, err, driver.ErrInvalidArgument)
	})
}

func TestDriverCreateAndDropQueue(t *testing.T) {
	t.Parallel()
	b := setupDriver(t)

	// With a DLQ (the default): two pgmq queues and a registered pgtq queue.
	require.NoError(t, b.client.CreateQueue(b.ctx, "orders", nil))
	require.NoError(t, b.client.CreateQueue(b.ctx, "orders", nil), "CreateQueue must be idempotent")
	require.EqualValues(t, 1, b.count(t, `SELECT count(*) FROM pgmq.meta WHERE queue_name = 'orders'`))
	require.EqualValues(t, 1, b.count(t, `SELECT count(*) FROM pgmq.meta WHERE queue_name = 'orders_dlq'`))

	// Without one.
	require.NoError(t, b.client.CreateQueue(b.ctx, "events", &driver.CreateQueueOptions{NoDLQ: true}))
	require.EqualValues(t, 1, b.count(t, `SELECT count(*) FROM pgmq.meta WHERE queue_name = 'events'`))
	require.EqualValues(t, 0, b.count(t, `SELECT count(*) FROM pgmq.meta WHERE queue_name = 'events_dlq'`))

	dropped, err := b.client.DropQueue(b.ctx, "orders")
	require.NoError(t, err)
	require.True(t, dropped)
	require.EqualValues(t, 0, b.count(t, `SELECT count(*) FROM pgmq.meta WHERE queue_name IN ('orders', 'orders_dlq')`))

	dropped, err = b.client.DropQueue(b.ctx, "orders")
	require.NoError(t, err)
	require.False(t, dropped, "dropping a missing queue reports false")

	_, err = b.client.Enqueue(b.ctx, "orders", map[string]any{"a": 1}, nil)
	require.ErrorIs(t, err, driver.ErrQueueNotFound)
}

func TestDriverNotifyChannel(t *testing.T) {
	t.Parallel()
	b := setupDriver(t)
	queue := b.newQueue(t, false)
	require.Equal(t, "pgmq.q_"+queue+".INSERT", driver.NotifyChannel(queue))
	require.Equal(t, "pgmq.q_mixedcase.INSERT", driver.NotifyChannel("MixedCase"))

	conn, err := b.pool.Acquire(b.ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(b.ctx, `LISTEN `+pgx.Identifier{driver.NotifyChannel(queue)}.Sanitize())
	require.NoError(t, err)

	_, err = b.client.Enqueue(b.ctx, queue, map[string]any{"n": 1}, nil)
	require.NoError(t, err)

	waitCtx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	n, err := conn.Conn().WaitForNotification(waitCtx)
	require.NoError(t, err, "an enqueue must notify the queue's channel")
	require.Equal(t, driver.NotifyChannel(queue), n.Channel)
}

func TestDriverErrorMapping(t *testing.T) {
	t.Parallel()
	b := setupDriver(t)
	queue := b.newQueue(t, false)

	// requireDB checks that err maps to sentinel and still exposes the database error and its SQLSTATE.
	requireDB := func(t *testing.T, err error, sentinel error, code string) {
		t.Helper()
		require.ErrorIs(t, err, sentinel)
		var pgErr *pgconn.PgError
		require.True(t, errors.As(err, &pgErr), "want a *pgconn.PgError in %v", err)
		require.Equal(t, code, pgErr.Code)
		require.Contains(t, err.Error(), pgErr.Message)
	}

	t.Run("QueueNotFound", func(t *testing.T) {
		_, err := b.client.Enqueue(b.ctx, "no_such_queue", map[string]any{"a": 1}, nil)
		requireDB(t, err, driver.ErrQueueNotFound, "PQ001")
		require.Contains(t, err.Error(), `enqueue "no_such_queue"`, "wrapped once with context")
		_, err = b.client.Read(b.ctx, "no_such_queue", 1, time.Second, nil)
		requireDB(t, err, driver.ErrQueueNotFound, "PQ001")
		_, err = b.client.Stats(b.ctx, "no_such_queue")
		requireDB(t, err, driver.ErrQueueNotFound, "PQ001")
	})

	t.Run("InvalidQueueName", func(t *testing.T) {
		err := b.client.CreateQueue(b.ctx, "bad;name", nil)
		requireDB(t, err, driver.ErrInvalidQueueName, "PQ002")
		require.NotErrorIs(t, err, driver.ErrQueueNotFound)
	})

	t.Run("InvalidPayload", func(t *testing.T) {
		// Valid JSON but not an object: only the database can refuse it.
		_, err := b.client.Enqueue(b.ctx, queue, []byte(`[1, 2]`), nil)
		requireDB(t, err, driver.ErrInvalidPayload, "PQ004")
		require.Zero(t, b.queueRows(t, queue))
	})

	t.Run("MessageNotFound", func(t *testing.T) {
		_, err := b.client.Reschedule(b.ctx, queue, 424242)
		requireDB(t, err, driver.ErrMessageNotFound, "PQ005")
	})

	t.Run("InvalidPayloadInBatch", func(t *testing.T) {
		// JSON null is valid JSON, so only the database refuses it; the whole batch is refused.
		_, err := b.client.EnqueueBatch(b.ctx, queue, []any{json.RawMessage(`{"a":1}`), json.RawMessage(`null`)}, nil)
		requireDB(t, err, driver.ErrInvalidPayload, "PQ004")
		require.Zero(t, b.queueRows(t, queue), "a refused batch inserts nothing")
	})

	t.Run("InvalidArgumentFromDatabase", func(t *testing.T) {
		// x-pgtq-* headers belong to PGTQ: the database refuses them and inserts nothing.
		_, err := b.client.Enqueue(b.ctx, queue, map[string]any{"a": 1},
			&driver.EnqueueOptions{Headers: map[string]any{"x-pgtq-status": "completed"}})
		requireDB(t, err, driver.ErrInvalidArgument, "PQ003")
		require.Zero(t, b.queueRows(t, queue))
	})

	t.Run("InvalidArgumentFromDriverNamesTheField", func(t *testing.T) {
		_, err := b.client.Enqueue(b.ctx, queue, map[string]any{"a": 1}, &driver.EnqueueOptions{Delay: -time.Second})
		require.ErrorIs(t, err, driver.ErrInvalidArgument)
		require.Contains(t, err.Error(), "EnqueueOptions.Delay")
		_, err = b.client.Read(b.ctx, queue, 0, time.Second, nil)
		require.ErrorIs(t, err, driver.ErrInvalidArgument)
		require.Contains(t, err.Error(), "qty")
		_, err = b.client.Read(b.ctx, queue, 1, time.Second, &driver.ReadOptions{ConcurrencyLimit: -1})
		require.ErrorIs(t, err, driver.ErrInvalidArgument)
		require.Contains(t, err.Error(), "ReadOptions.ConcurrencyLimit")
		_, err = b.client.Fail(b.ctx, queue, 1, 1, "x", &driver.FailOptions{MaxRetries: -1})
		require.ErrorIs(t, err, driver.ErrInvalidArgument)
		require.Contains(t, err.Error(), "FailOptions.MaxRetries")
		_, err = b.client.ListDLQ(b.ctx, queue, 0)
		require.ErrorIs(t, err, driver.ErrInvalidArgument)
		require.Zero(t, b.queueRows(t, queue))
	})
}
