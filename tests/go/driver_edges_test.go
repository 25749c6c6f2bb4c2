package gotest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/driver"
	"github.com/pgtq/pgtq/worker"
)

// TestDriverForgedTokens presents forged and out-of-range lease tokens to every method that takes one:
// stale tokens report a lost lease and change nothing; tokens outside SQL integer's range (2^32 + 1 used to
// be cut to 1 by CompleteMany and complete the task) are refused with ErrInvalidArgument naming the value.
func TestDriverForgedTokens(t *testing.T) {
	t.Parallel()
	b := setupDriver(t)
	q := b.newQueue(t, false)
	id := b.enqueue(t, q, numPayload{N: 1}, nil)
	tk := b.readOne(t, q, nil)
	require.Equal(t, 1, tk.Attempt)
	state := func() string {
		var s string
		require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT format('%s/%s/%s', read_ct, vt, headers->>'x-pgtq-status') FROM `+
			table("q", q)+` WHERE msg_id = $1`, id).Scan(&s))
		return s
	}
	before := state()

	for _, bad := range []int{1<<32 + 1, 1 << 31, math.MaxInt64, -(1<<32 - 1), 0, -1} {
		msg := fmt.Sprintf("got %d", bad)
		_, err := b.client.CompleteMany(b.ctx, q, []driver.TaskRef{{MsgID: id, Attempt: bad}})
		require.ErrorIs(t, err, driver.ErrInvalidArgument, "CompleteMany %d", bad)
		require.ErrorContains(t, err, msg)
		_, err = b.client.Complete(b.ctx, q, id, bad)
		require.ErrorIs(t, err, driver.ErrInvalidArgument, "Complete %d", bad)
		require.ErrorContains(t, err, msg)
		_, err = b.client.Fail(b.ctx, q, id, bad, "x", nil)
		require.ErrorIs(t, err, driver.ErrInvalidArgument, "Fail %d", bad)
		require.ErrorContains(t, err, msg)
		_, err = b.client.ExtendLease(b.ctx, q, id, bad, time.Minute)
		require.ErrorIs(t, err, driver.ErrInvalidArgument, "ExtendLease %d", bad)
		require.ErrorContains(t, err, msg)
		_, err = b.client.Release(b.ctx, q, id, bad)
		require.ErrorIs(t, err, driver.ErrInvalidArgument, "Release %d", bad)
		require.ErrorContains(t, err, msg)
		tx, err := b.pool.Begin(b.ctx)
		require.NoError(t, err)
		_, err = b.client.CompleteTx(b.ctx, tx, q, id, bad)
		require.ErrorIs(t, err, driver.ErrInvalidArgument, "CompleteTx %d", bad)
		require.NoError(t, tx.Rollback(b.ctx))
	}
	require.Equal(t, before, state(), "out-of-range tokens changed nothing")

	// A forged token within range (the next attempt's) is stale: nothing happens.
	done, err := b.client.CompleteMany(b.ctx, q, []driver.TaskRef{{MsgID: id, Attempt: 2}})
	require.NoError(t, err)
	require.Empty(t, done)
	ok, err := b.client.Complete(b.ctx, q, id, 2)
	require.NoError(t, err)
	require.False(t, ok)
	out, err := b.client.Fail(b.ctx, q, id, 2, "x", nil)
	require.NoError(t, err)
	require.Equal(t, driver.FailLeaseLost, out)
	ok, err = b.client.ExtendLease(b.ctx, q, id, 2, time.Hour)
	require.NoError(t, err)
	require.False(t, ok)
	ok, err = b.client.Release(b.ctx, q, id, 2)
	require.NoError(t, err)
	require.False(t, ok)
	require.Equal(t, before, state(), "forged tokens changed nothing")
	require.EqualValues(t, 0, b.archiveRows(t, q))

	// The real token still works.
	done, err = b.client.CompleteMany(b.ctx, q, []driver.TaskRef{{MsgID: id, Attempt: tk.Attempt}})
	require.NoError(t, err)
	require.Equal(t, []int64{id}, done)
}

// TestDriverUntranslatablePayload enqueues a payload that jsonb cannot hold (\u0000): SQLSTATE 22P05 maps
// to ErrInvalidPayload, with the database error still reachable.
func TestDriverUntranslatablePayload(t *testing.T) {
	t.Parallel()
	b := setupDriver(t)
	q := b.newQueue(t, false)
	_, err := b.client.Enqueue(b.ctx, q, map[string]any{"s": "a\x00b"}, nil)
	require.ErrorIs(t, err, driver.ErrInvalidPayload)
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, "22P05", pgErr.Code)
	require.EqualValues(t, 0, b.queueRows(t, q))
}

// TestDriverNotifyChannelFromDatabase asks the database for the channel of a queue whose name has a
// non-ASCII capital (lower-cased by the database's rules, which differ from Go's under the C locale) and
// gets the notification of an enqueue on it.
func TestDriverNotifyChannelFromDatabase(t *testing.T) {
	t.Parallel()
	b := setupDriver(t)
	q := fmt.Sprintf("Ädrv_notify_%d", driverQueueSeq.Add(1))
	require.NoError(t, b.client.CreateQueue(b.ctx, q, nil))
	ch, err := b.client.NotifyChannel(b.ctx, q)
	require.NoError(t, err)

	conn, err := b.pool.Acquire(b.ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(b.ctx, `LISTEN `+pgx.Identifier{ch}.Sanitize())
	require.NoError(t, err)
	b.enqueue(t, q, numPayload{}, nil)
	waitCtx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	n, err := conn.Conn().WaitForNotification(waitCtx)
	require.NoError(t, err, "an enqueue must notify the channel %q", ch)
	require.Equal(t, ch, n.Channel)
}

// TestWorkerNotifyChannelFromDatabase runs a worker whose only wake-up is LISTEN/NOTIFY (30 s polls) on a
// queue whose name has a non-ASCII capital: the task starts at once.
func TestWorkerNotifyChannelFromDatabase(t *testing.T) {
	t.Parallel()
	b := setupWorker(t)
	q := fmt.Sprintf("Äwrk_notify_%d", driverQueueSeq.Add(1))
	require.NoError(t, b.client.CreateQueue(b.ctx, q, nil))
	p, started := startSignal(q)
	w, _ := b.runWorker(t, &worker.Options{Processors: []*worker.Processor{p}, PollInterval: 30 * time.Second})
	waitReady(t, w)
	b.enqueue(t, q, numPayload{}, nil)
	awaitStart(t, started, 5*time.Second)
}

// TestDriverIsTransient pins which errors driver.IsTransient reports as worth another try.
func TestDriverIsTransient(t *testing.T) {
	t.Parallel()
	pg := func(code string) error { return fmt.Errorf("complete: %w", &pgconn.PgError{Code: code}) }
	for _, err := range []error{
		pg("08006"), pg("08003"), pg("57P01"), pg("57P02"), pg("57P03"), pg("40001"), pg("40P01"),
		io.ErrUnexpectedEOF, fmt.Errorf("read: %w", io.EOF), &net.OpError{Op: "read", Err: errors.New("reset")},
		&pgconn.ConnectError{}, errors.New("conn closed"),
	} {
		require.True(t, driver.IsTransient(err), "%v", err)
	}
	for _, err := range []error{
		nil, pg("PQ001"), pg("PQ003"), pg("23505"), pg("22P05"), pg("57014"), context.Canceled,
		context.DeadlineExceeded, fmt.Errorf("x: %w", driver.ErrInvalidArgument), errors.New("boom"),
	} {
		require.False(t, driver.IsTransient(err), "%v", err)
	}
}
