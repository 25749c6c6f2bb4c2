package gotest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// TestPgtqConcurrencyLimitNeverExceeded races 8 readers with concurrency_limit 3 and qty 2: the number of
// tasks in flight, counted by the readers and sampled from pgtq.stats on another connection, never exceeds 3,
// and no read hands out more than may start now.
func TestPgtqConcurrencyLimitNeverExceeded(t *testing.T) {
	t.Parallel()
	for _, grouped := range []bool{false, true} {
		t.Run(fmt.Sprintf("grouped=%v", grouped), func(t *testing.T) {
			t.Parallel()
			testConcurrencyLimitRace(t, grouped)
		})
	}
}

// testConcurrencyLimitRace is TestPgtqConcurrencyLimitNeverExceeded for plain or grouped reads (20 groups).
func testConcurrencyLimitRace(t *testing.T, grouped bool) {
	ctx, f := tqNewFixture(t)
	const queue, tasks, limit = "limited", 90, 3
	tqCreateQueue(ctx, t, f.pool, queue, true)
	for i := range tasks {
		var group *string
		if grouped {
			group = tqPtr(fmt.Sprintf("g%d", i%20))
		}
		tqMustEnqueue(ctx, t, f.pool, queue, map[string]any{"i": i}, group)
	}

	conns := f.connectN(ctx, t, tqRacers)
	sampler := f.connect(ctx, t)
	g := tqNewGate(tqRacers + 1)
	var (
		inFlight     atomic.Int64
		maxInFlight  atomic.Int64
		completed    atomic.Int64
		maxProcessed atomic.Int64
		samples      atomic.Int64
		mu           sync.Mutex
		delivered    = map[int64]int{}
		errs         tqErrCollector
		wg           sync.WaitGroup
		done         = make(chan struct{})
	)
	raise := func(v *atomic.Int64, n int64) {
		for {
			cur := v.Load()
			if n <= cur || v.CompareAndSwap(cur, n) {
				return
			}
		}
	}
	for _, conn := range conns {
		wg.Add(1)
		go func(conn *pgx.Conn) {
			defer wg.Done()
			g.arrive()
			// Readers keep polling until every task is completed: an empty read only means the limit is reached.
			for completed.Load() < tasks && ctx.Err() == nil {
				got, err := tqReadTasks(ctx, conn, queue, 2, 60, tqReadOpts{concurrencyLimit: tqPtr(int32(limit)), grouped: grouped})
				if err != nil {
					errs.add(err)
					return
				}
				// Counted after the claim returned and uncounted before complete is sent, so a correct queue never
				// shows more than the limit here.
				raise(&maxInFlight, inFlight.Add(int64(len(got))))
				for _, tk := range got {
					mu.Lock()
					delivered[tk.MsgID]++
					mu.Unlock()
					// A heartbeat while holding the task keeps the slots busy longer, so the readers press on the
					// limit (and the sampler sees it) more often.
					var extended bool
					if err := conn.QueryRow(ctx,
						`SELECT pgtq.extend_lease(queue_name => $1, msg_id => $2, attempt => $3, lease_seconds => 60)`,
						queue, tk.MsgID, tk.Attempt).Scan(&extended); err != nil {
						errs.add(err)
						return
					}
					if !extended {
						errs.add(fmt.Errorf("extend_lease returned false for a live lease of msg_id %d", tk.MsgID))
					}
					inFlight.Add(-1)
					if !errs.complete(ctx, conn, queue, tk) {
						return
					}
					completed.Add(1)
				}
			}
		}(conn)
	}
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		g.arrive()
		for {
			select {
			case <-done:
				return
			default:
			}
			var processing int64
			if err := sampler.QueryRow(ctx, `SELECT processing FROM pgtq.stats($1)`, queue).Scan(&processing); err != nil {
				errs.add(err)
				return
			}
			samples.Add(1)
			raise(&maxProcessed, processing)
		}
	}()
	wg.Wait()
	close(done)
	<-sampled
	errs.requireNone(t)

	require.Equal(t, int64(tasks), completed.Load())
	require.Len(t, delivered, tasks)
	for id, n := range delivered {
		require.Equal(t, 1, n, "msg_id %d delivered %d times", id, n)
	}
	t.Logf("max in flight seen by readers %d, by pgtq.stats %d over %d samples",
		maxInFlight.Load(), maxProcessed.Load(), samples.Load())
	require.LessOrEqual(t, maxInFlight.Load(), int64(limit), "tasks in flight seen by the readers")
	require.Positive(t, maxInFlight.Load())
	require.LessOrEqual(t, maxProcessed.Load(), int64(limit), "pgtq.stats processing")
	require.Positive(t, samples.Load())

	// From the database's clocks: at the moment any task was read, fewer than limit other tasks had been read
	// and not yet begun completing.
	require.Zero(t, tqCount(ctx, t, f.pool, `
		SELECT count(*) FROM (
		    SELECT b.msg_id
		      FROM pgmq.a_limited b
		      JOIN pgmq.a_limited a
		        ON a.msg_id <> b.msg_id AND a.last_read_at <= b.last_read_at AND b.last_read_at < a.archived_at
		     GROUP BY b.msg_id
		    HAVING count(*) >= $1) over_limit`, limit),
		"a task was read while %d others were in flight", limit)
}

// TestPgtqConcurrencyLimitDoesNotOverClaim checks that a read returns only what may start now: with 2 of 3 slots
// taken, a read of qty 5 gets exactly 1 task, and at the limit it gets none.
func TestPgtqConcurrencyLimitDoesNotOverClaim(t *testing.T) {
	t.Parallel()
	ctx, f := tqNewFixture(t)
	const queue = "overclaim"
	tqQueueWithTasks(ctx, t, f.pool, queue, 10)
	limit := tqReadOpts{concurrencyLimit: tqPtr(int32(3))}
	require.Len(t, tqMustRead(ctx, t, f.pool, queue, 2, 60, limit), 2)
	require.Len(t, tqMustRead(ctx, t, f.pool, queue, 5, 60, limit), 1, "only one slot left")
	require.Empty(t, tqMustRead(ctx, t, f.pool, queue, 5, 60, limit), "no slot left")
	require.Equal(t, int64(3), tqCount(ctx, t, f.pool, `SELECT count(*) FROM pgmq.q_overclaim WHERE read_ct > 0`),
		"nothing claimed beyond the limit")
	require.Equal(t, int64(3), tqCount(ctx, t, f.pool, `SELECT processing FROM pgtq.stats($1)`, queue))
}
