package gotest

import (
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// TestPgtqEnqueueConcurrentDedupe races two enqueues with one dedupe key, many rounds: each round makes one task
// and both callers get its msg_id.
func TestPgtqEnqueueConcurrentDedupe(t *testing.T) {
	t.Parallel()
	ctx, f := tqNewFixture(t)
	const queue, rounds = "dedupe", 40
	tqCreateQueue(ctx, t, f.pool, queue, true)
	conns := f.connectN(ctx, t, 2)

	for round := range rounds {
		key := fmt.Sprintf("key-%d", round)
		g := tqNewGate(len(conns))
		ids := make([]int64, len(conns))
		errs := make([]error, len(conns))
		done := make(chan struct{}, len(conns))
		for i, conn := range conns {
			go func(i int, conn *pgx.Conn) {
				defer func() { done <- struct{}{} }()
				g.arrive()
				ids[i], errs[i] = tqEnqueue(ctx, conn, queue, map[string]any{"round": round, "caller": i}, nil, &key)
			}(i, conn)
		}
		for range conns {
			<-done
		}
		for i, err := range errs {
			require.NoError(t, err, "round %d caller %d", round, i)
		}
		require.Equal(t, ids[0], ids[1], "round %d: both callers get the one task", round)
		require.Equal(t, int64(1), tqCount(ctx, t, f.pool,
			`SELECT count(*) FROM pgmq.q_dedupe WHERE headers->>'x-pgtq-dedupe-key' = $1`, key), "round %d", round)
	}
	require.Equal(t, int64(rounds), tqCount(ctx, t, f.pool, `SELECT count(*) FROM pgmq.q_dedupe`))

	// The key is free again once its task has left the queue.
	first, err := tqEnqueue(ctx, f.pool, queue, map[string]any{"again": 1}, nil, tqPtr("key-0"))
	require.NoError(t, err)
	got := tqMustRead(ctx, t, f.pool, queue, 100, 60, tqReadOpts{})
	for _, tk := range got {
		ok, err := tqComplete(ctx, f.pool, queue, tk.MsgID, tk.Attempt)
		require.NoError(t, err)
		require.True(t, ok)
	}
	again, err := tqEnqueue(ctx, f.pool, queue, map[string]any{"again": 2}, nil, tqPtr("key-0"))
	require.NoError(t, err)
	require.NotEqual(t, first, again, "a completed task no longer holds its dedupe key")
}

// TestPgtqEnqueueRollsBackWithCallerTransaction enqueues inside a caller's transaction that rolls back: nothing
// is left behind; the same in a committed transaction leaves the task.
func TestPgtqEnqueueRollsBackWithCallerTransaction(t *testing.T) {
	t.Parallel()
	ctx, f := tqNewFixture(t)
	const queue = "txq"
	tqCreateQueue(ctx, t, f.pool, queue, true)

	tx, err := f.pool.Begin(ctx)
	require.NoError(t, err)
	tqMustEnqueue(ctx, t, tx, queue, map[string]any{"n": 1}, tqPtr("grp"))
	_, err = tx.Exec(ctx, `SELECT pgtq.enqueue_batch(queue_name => $1, payloads => ARRAY['{"n": 2}', '{"n": 3}']::jsonb[])`, queue)
	require.NoError(t, err)
	require.Equal(t, int64(3), tqCount(ctx, t, tx, `SELECT count(*) FROM pgmq.q_txq`), "visible inside the transaction")
	require.NoError(t, tx.Rollback(ctx))
	require.Zero(t, tqCount(ctx, t, f.pool, `SELECT count(*) FROM pgmq.q_txq`))
	require.Zero(t, tqCount(ctx, t, f.pool, `SELECT queued FROM pgtq.stats($1)`, queue))

	tx, err = f.pool.Begin(ctx)
	require.NoError(t, err)
	id := tqMustEnqueue(ctx, t, tx, queue, map[string]any{"n": 4}, nil)
	require.NoError(t, tx.Commit(ctx))
	got := tqMustRead(ctx, t, f.pool, queue, 10, 60, tqReadOpts{})
	require.Len(t, got, 1)
	require.Equal(t, id, got[0].MsgID)
}

// TestPgtqEnqueueFromTrigger enqueues from a trigger on an application table: the task commits and rolls back
// with the application's insert.
func TestPgtqEnqueueFromTrigger(t *testing.T) {
	t.Parallel()
	ctx, f := tqNewFixture(t)
	const queue = "orders"
	tqCreateQueue(ctx, t, f.pool, queue, true)
	_, err := f.pool.Exec(ctx, `
		CREATE TABLE public.app_order (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, customer text NOT NULL);
		CREATE FUNCTION public.app_order_enqueue() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
		    PERFORM pgtq.enqueue(
		        queue_name => 'orders',
		        payload    => jsonb_build_object('order_id', NEW.id, 'customer', NEW.customer),
		        group_key  => NEW.customer);
		    RETURN NEW;
		END $$;
		CREATE TRIGGER app_order_enqueue AFTER INSERT ON public.app_order
		    FOR EACH ROW EXECUTE FUNCTION public.app_order_enqueue();`)
	require.NoError(t, err)

	var orderID int64
	require.NoError(t, f.pool.QueryRow(ctx, `INSERT INTO public.app_order (customer) VALUES ('ada') RETURNING id`).
		Scan(&orderID))

	tx, err := f.pool.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `INSERT INTO public.app_order (customer) VALUES ('bob'), ('cy')`)
	require.NoError(t, err)
	require.Equal(t, int64(3), tqCount(ctx, t, tx, `SELECT count(*) FROM pgmq.q_orders`))
	require.NoError(t, tx.Rollback(ctx))

	require.Equal(t, int64(1), tqCount(ctx, t, f.pool, `SELECT count(*) FROM public.app_order`))
	got := tqMustRead(ctx, t, f.pool, queue, 10, 60, tqReadOpts{grouped: true})
	require.Len(t, got, 1, "only the committed insert left a task")
	require.JSONEq(t, fmt.Sprintf(`{"order_id": %d, "customer": "ada"}`, orderID), string(got[0].Payload))
	require.Equal(t, "ada", got[0].group())
	require.NotEmpty(t, got[0].TaskID)
	require.Equal(t, got[0].TaskID, got[0].Headers["x-pgtq-task-id"])
}
