package gotest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// TestPgtqReadRacingReadersNeverShareALease races 8 readers that claim without completing: within one lease no
// task may be handed out twice, and together they must claim every task.
func TestPgtqReadRacingReadersNeverShareALease(t *testing.T) {
	t.Parallel()
	ctx, f := tqNewFixture(t)
	const queue, tasks = "race_lease", 240
	tqQueueWithTasks(ctx, t, f.pool, queue, tasks)

	conns := f.connectN(ctx, t, tqRacers)
	g := tqNewGate(tqRacers)
	var (
		mu     sync.Mutex
		claims = map[int64]int{}
		errs   tqErrCollector
		wg     sync.WaitGroup
	)
	for _, conn := range conns {
		wg.Add(1)
		go func(conn *pgx.Conn) {
			defer wg.Done()
			g.arrive()
			for {
				// A long lease: nothing may come back within this test.
				got, err := tqReadTasks(ctx, conn, queue, 7, 300, tqReadOpts{})
				if err != nil {
					errs.add(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, tk := range got {
					claims[tk.MsgID]++
				}
				mu.Unlock()
			}
		}(conn)
	}
	wg.Wait()
	errs.requireNone(t)

	require.Len(t, claims, tasks, "every task is claimed")
	for id, n := range claims {
		require.Equal(t, 1, n, "msg_id %d claimed %d times within one lease", id, n)
	}
	require.Zero(t, tqCount(ctx, t, f.pool, `SELECT count(*) FROM pgmq.q_race_lease WHERE vt <= clock_timestamp()`),
		"no task is left visible")
	require.Equal(t, int64(tasks), tqCount(ctx, t, f.pool, `SELECT count(*) FROM pgmq.q_race_lease WHERE read_ct = 1`),
		"each task was read exactly once")
}

// TestPgtqReadRacingReadersDeliverExactlyOnce races 8 readers that complete what they read: every task is
// delivered and completed exactly once, and ends in the archive with status completed.
func TestPgtqReadRacingReadersDeliverExactlyOnce(t *testing.T) {
	t.Parallel()
	ctx, f := tqNewFixture(t)
	const queue, tasks = "race_once", 240
	tqQueueWithTasks(ctx, t, f.pool, queue, tasks)

	for _, lifo := range []bool{false, true} {
		if lifo {
			// A second round over the same queue checks LIFO reads the same way.
			for i := range tasks {
				tqMustEnqueue(ctx, t, f.pool, queue, map[string]any{"i": i, "lifo": true}, nil)
			}
		}
		conns := f.connectN(ctx, t, tqRacers)
		g := tqNewGate(tqRacers)
		var (
			mu        sync.Mutex
			delivered = map[int64]int{}
			errs      tqErrCollector
			wg        sync.WaitGroup
		)
		for _, conn := range conns {
			wg.Add(1)
			go func(conn *pgx.Conn) {
				defer wg.Done()
				g.arrive()
				for {
					got, err := tqReadTasks(ctx, conn, queue, 5, 60, tqReadOpts{lifo: lifo})
					if err != nil {
						errs.add(err)
						return
					}
					if len(got) == 0 {
						return
					}
					for _, tk := range got {
						mu.Lock()
						delivered[tk.MsgID]++
						mu.Unlock()
						if !errs.complete(ctx, conn, queue, tk) {
							return
						}
					}
				}
			}(conn)
		}
		wg.Wait()
		errs.requireNone(t)
		require.Len(t, delivered, tasks, "lifo=%v: every task delivered", lifo)
		for id, n := range delivered {
			require.Equal(t, 1, n, "lifo=%v: msg_id %d delivered %d times", lifo, id, n)
		}
	}
	require.Zero(t, tqCount(ctx, t, f.pool, `SELECT count(*) FROM pgmq.q_race_once`), "queue drained")
	require.Equal(t, int64(2*tasks), tqCount(ctx, t, f.pool,
		`SELECT count(*) FROM pgmq.a_race_once WHERE headers->>'x-pgtq-status' = 'completed' AND read_ct = 1`),
		"every task archived once as completed after one attempt")
}

// tqErrLeaseLost reports a complete that returned false although the lease was still ours.
type tqErrLeaseLost struct {
	msgID   int64
	attempt int32
}

// Error implements error.
func (e tqErrLeaseLost) Error() string {
	return fmt.Sprintf("complete returned false for a live lease: msg_id %d attempt %d", e.msgID, e.attempt)
}

// TestPgtqReadExpiredLeaseMovesToAnotherReader lets a lease expire: another reader then gets the task with the
// next attempt, and the first reader's stale token changes nothing (complete false, fail lease_lost, extend and
// release false).
func TestPgtqReadExpiredLeaseMovesToAnotherReader(t *testing.T) {
	t.Parallel()
	ctx, f := tqNewFixture(t)
	const queue = "lease"
	tqCreateQueue(ctx, t, f.pool, queue, true)
	id := tqMustEnqueue(ctx, t, f.pool, queue, map[string]any{"job": "slow"}, nil)
	first, second := f.connect(ctx, t), f.connect(ctx, t)

	got := tqMustRead(ctx, t, first, queue, 1, 2, tqReadOpts{})
	require.Len(t, got, 1)
	stale := got[0]
	require.Equal(t, id, stale.MsgID)
	require.Equal(t, int32(1), stale.Attempt)
	require.Empty(t, tqMustRead(ctx, t, second, queue, 1, 30, tqReadOpts{}), "the task is hidden during the lease")

	// Poll until the lease has run out and the second reader gets the task.
	var fresh tqTask
	waitUntil(t, 15*time.Second, "the expired lease to be claimable", func() bool {
		got := tqMustRead(ctx, t, second, queue, 1, 30, tqReadOpts{})
		if len(got) == 0 {
			return false
		}
		fresh = got[0]
		return true
	})
	require.Equal(t, id, fresh.MsgID)
	require.Equal(t, int32(2), fresh.Attempt)
	require.Equal(t, stale.TaskID, fresh.TaskID, "task_id survives a re-read")
	require.WithinDuration(t, time.Now().Add(30*time.Second), fresh.VT, 10*time.Second, "vt = now + lease")

	ok, err := tqComplete(ctx, first, queue, stale.MsgID, stale.Attempt)
	require.NoError(t, err)
	require.False(t, ok, "complete with a stale attempt")
	outcome, err := tqFail(ctx, first, queue, stale.MsgID, stale.Attempt, "boom", true, 5, 0)
	require.NoError(t, err)
	require.Equal(t, "lease_lost", outcome, "fail with a stale attempt")
	var extended, released bool
	require.NoError(t, first.QueryRow(ctx,
		`SELECT pgtq.extend_lease(queue_name => $1, msg_id => $2, attempt => $3, lease_seconds => 600)`,
		queue, stale.MsgID, stale.Attempt).Scan(&extended))
	require.False(t, extended, "extend_lease with a stale attempt")
	require.NoError(t, first.QueryRow(ctx, `SELECT pgtq.release(queue_name => $1, msg_id => $2, attempt => $3)`,
		queue, stale.MsgID, stale.Attempt).Scan(&released))
	require.False(t, released, "release with a stale attempt")

	// The stale calls changed nothing: same attempt, same lease, no failure recorded (only the lost lease
	// that the second read counted).
	var readCt int32
	var vt time.Time
	var headers map[string]any
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT read_ct, vt, headers FROM pgmq.q_lease WHERE msg_id = $1`, id).
		Scan(&readCt, &vt, &headers))
	require.Equal(t, int32(2), readCt)
	require.WithinDuration(t, fresh.VT, vt, time.Millisecond)
	require.Equal(t, []any{"lease expired"}, headers["x-pgtq-errors"], "only the lost lease is recorded")
	require.Equal(t, float64(1), headers["x-pgtq-lost-leases"])

	ok, err = tqComplete(ctx, second, queue, fresh.MsgID, fresh.Attempt)
	require.NoError(t, err)
	require.True(t, ok, "the live lease completes")
	require.Zero(t, tqCount(ctx, t, f.pool, `SELECT count(*) FROM pgmq.q_lease`))
	require.Equal(t, int64(1), tqCount(ctx, t, f.pool,
		`SELECT count(*) FROM pgmq.a_lease WHERE msg_id = $1 AND headers->>'x-pgtq-status' = 'completed'`, id))
}
