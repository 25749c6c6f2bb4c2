package gotest

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// tqGroupPayload is the payload the group tests enqueue: group number and position within the group.
type tqGroupPayload struct {
	G int `json:"g"`
	K int `json:"k"`
}

// TestPgtqGroupedReadersNeverOverlap races 8 grouped readers over interleaved groups: never two tasks of one
// group in flight, at most one task per group per read, FIFO order within a group (LIFO reversed), and every
// task delivered once.
func TestPgtqGroupedReadersNeverOverlap(t *testing.T) {
	t.Parallel()
	for _, lifo := range []bool{false, true} {
		t.Run(fmt.Sprintf("lifo=%v", lifo), func(t *testing.T) {
			t.Parallel()
			tqTestGroupedRace(t, lifo)
		})
	}
}

func tqTestGroupedRace(t *testing.T, lifo bool) {
	ctx, f := tqNewFixture(t)
	const queue, groups, perGroup, ungrouped = "grouped", 12, 6, 10
	tqCreateQueue(ctx, t, f.pool, queue, true)
	// Interleave the groups so that a reader that ignores groups would take several tasks of one group at once.
	for k := range perGroup {
		for g := range groups {
			tqMustEnqueue(ctx, t, f.pool, queue, tqGroupPayload{G: g, K: k}, tqPtr(fmt.Sprintf("g%02d", g)))
		}
		if k < ungrouped {
			tqMustEnqueue(ctx, t, f.pool, queue, tqGroupPayload{G: -1, K: k}, nil)
		}
	}
	total := groups*perGroup + min(perGroup, ungrouped)

	conns := f.connectN(ctx, t, tqRacers)
	g := tqNewGate(tqRacers)
	var (
		mu         sync.Mutex
		inFlight   = map[string]int{}
		order      = map[string][]int{}
		delivered  = map[int64]int{}
		violations []string
		errs       tqErrCollector
		wg         sync.WaitGroup
	)
	for _, conn := range conns {
		wg.Add(1)
		go func(conn *pgx.Conn) {
			defer wg.Done()
			g.arrive()
			for {
				got, err := tqReadTasks(ctx, conn, queue, 4, 60, tqReadOpts{grouped: true, lifo: lifo})
				if err != nil {
					errs.add(err)
					return
				}
				if len(got) == 0 {
					return
				}
				seen := map[string]bool{}
				mu.Lock()
				for _, tk := range got {
					delivered[tk.MsgID]++
					if tk.GroupKey == nil {
						continue
					}
					grp := tk.group()
					if seen[grp] {
						violations = append(violations, fmt.Sprintf("one read returned two tasks of group %s", grp))
					}
					seen[grp] = true
					// Counted after the claim returned, uncounted before complete is sent: a correct queue
					// can never show two here.
					inFlight[grp]++
					if inFlight[grp] > 1 {
						violations = append(violations, fmt.Sprintf("group %s has %d tasks in flight", grp, inFlight[grp]))
					}
					var p tqGroupPayload
					if err := json.Unmarshal(tk.Payload, &p); err != nil {
						errs.add(err)
					}
					order[grp] = append(order[grp], p.K)
				}
				mu.Unlock()
				for _, tk := range got {
					// A heartbeat while holding the task widens the window in which an overlap would show.
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
					if tk.GroupKey != nil {
						mu.Lock()
						inFlight[tk.group()]--
						mu.Unlock()
					}
					if !errs.complete(ctx, conn, queue, tk) {
						return
					}
				}
			}
		}(conn)
	}
	wg.Wait()
	errs.requireNone(t)
	require.Empty(t, violations)

	require.Len(t, delivered, total, "every task delivered")
	for id, n := range delivered {
		require.Equal(t, 1, n, "msg_id %d delivered %d times", id, n)
	}
	want := make([]int, perGroup)
	for k := range want {
		want[k] = k
	}
	if lifo {
		slices.Reverse(want)
	}
	require.Len(t, order, groups)
	for grp, ks := range order {
		require.Equal(t, want, ks, "order within group %s (lifo=%v)", grp, lifo)
	}

	// The same invariant from the database's own clocks: within a group, no task was read before the previous
	// one's completion started (archived_at is the completing transaction's start).
	require.Zero(t, tqCount(ctx, t, f.pool, `
		SELECT count(*)
		  FROM pgmq.a_grouped a
		  JOIN pgmq.a_grouped b
		    ON b.headers->>'x-pgmq-group' = a.headers->>'x-pgmq-group' AND b.msg_id <> a.msg_id
		 WHERE b.last_read_at >= a.last_read_at AND b.last_read_at < a.archived_at`),
		"overlapping [last_read_at, archived_at) within a group")
	require.Zero(t, tqCount(ctx, t, f.pool, `SELECT count(*) FROM pgmq.q_grouped`))
}

// TestPgtqGroupedRetryHoldsGroup checks that a task waiting to retry still holds its group, that a delayed task
// does not hold back the rest of its group, and that group locks are namespaced by queue.
func TestPgtqGroupedRetryHoldsGroup(t *testing.T) {
	t.Parallel()
	ctx, f := tqNewFixture(t)
	tqCreateQueue(ctx, t, f.pool, "ga", true)
	tqCreateQueue(ctx, t, f.pool, "gb", true)
	a1 := tqMustEnqueue(ctx, t, f.pool, "ga", map[string]any{"n": 1}, tqPtr("same"))
	a2 := tqMustEnqueue(ctx, t, f.pool, "ga", map[string]any{"n": 2}, tqPtr("same"))
	b1 := tqMustEnqueue(ctx, t, f.pool, "gb", map[string]any{"n": 1}, tqPtr("same"))
	grouped := tqReadOpts{grouped: true}
	reader, other := f.connect(ctx, t), f.connect(ctx, t)

	got := tqMustRead(ctx, t, reader, "ga", 10, 60, grouped)
	require.Len(t, got, 1, "one task per group per read")
	require.Equal(t, a1, got[0].MsgID)

	// The same group name in another queue is independent.
	gotB := tqMustRead(ctx, t, other, "gb", 10, 60, grouped)
	require.Len(t, gotB, 1)
	require.Equal(t, b1, gotB[0].MsgID)

	require.Empty(t, tqMustRead(ctx, t, other, "ga", 10, 60, grouped), "group busy while a1 is processing")
	outcome, err := tqFail(ctx, reader, "ga", a1, got[0].Attempt, "transient", true, 3, 1)
	require.NoError(t, err)
	require.Equal(t, "retrying", outcome)
	require.Empty(t, tqMustRead(ctx, t, other, "ga", 10, 60, grouped), "group held while a1 waits to retry")

	// When the retry comes due, the group continues with a1 (attempt 2), not a2.
	var retried []tqTask
	waitUntil(t, 10*time.Second, "the failed group task to be retried", func() bool {
		retried = tqMustRead(ctx, t, other, "ga", 10, 60, grouped)
		return len(retried) > 0
	})
	require.Len(t, retried, 1)
	require.Equal(t, a1, retried[0].MsgID)
	require.Equal(t, int32(2), retried[0].Attempt)
	ok, err := tqComplete(ctx, other, "ga", a1, 2)
	require.NoError(t, err)
	require.True(t, ok)

	// A delayed task does not hold back its group.
	delayed := int64(0)
	require.NoError(t, f.pool.QueryRow(ctx,
		`SELECT pgtq.enqueue(queue_name => 'ga', payload => '{"n": 0}', group_key => 'later', delay => 3600)`).
		Scan(&delayed))
	after := tqMustEnqueue(ctx, t, f.pool, "ga", map[string]any{"n": 3}, tqPtr("later"))
	got = tqMustRead(ctx, t, reader, "ga", 10, 60, grouped)
	ids := make([]int64, 0, len(got))
	for _, tk := range got {
		ids = append(ids, tk.MsgID)
	}
	require.ElementsMatch(t, []int64{a2, after}, ids)
}

// TestPgtqPlainPgmqQueueUnderRacingReaders uses a queue made the seed's way (pgmq.create of actions and
// actions_dlq, tasks sent with pgmq.send and pgmq's group header): 8 racing grouped readers deliver every task
// once with no group overlap, and a final failure lands in actions_dlq.
func TestPgtqPlainPgmqQueueUnderRacingReaders(t *testing.T) {
	t.Parallel()
	ctx, f := tqNewFixture(t)
	_, err := f.pool.Exec(ctx, `SELECT pgmq.create('actions'); SELECT pgmq.create('actions_dlq');`)
	require.NoError(t, err)
	const groups, perGroup = 6, 8
	for k := range perGroup {
		for g := range groups {
			_, err := f.pool.Exec(ctx, `SELECT pgmq.send('actions', $1, jsonb_build_object('x-pgmq-group', $2::text))`,
				tqGroupPayload{G: g, K: k}, fmt.Sprintf("g%d", g))
			require.NoError(t, err)
		}
	}

	conns := f.connectN(ctx, t, tqRacers)
	gate := tqNewGate(tqRacers)
	var (
		mu         sync.Mutex
		inFlight   = map[string]int{}
		order      = map[string][]int{}
		delivered  = map[int64]int{}
		violations []string
		errs       tqErrCollector
		wg         sync.WaitGroup
	)
	for _, conn := range conns {
		wg.Add(1)
		go func(conn *pgx.Conn) {
			defer wg.Done()
			gate.arrive()
			for {
				got, err := tqReadTasks(ctx, conn, "actions", 3, 60, tqReadOpts{grouped: true})
				if err != nil || len(got) == 0 {
					errs.add(err)
					return
				}
				for _, tk := range got {
					var p tqGroupPayload
					errs.add(json.Unmarshal(tk.Payload, &p))
					mu.Lock()
					delivered[tk.MsgID]++
					inFlight[tk.group()]++
					if inFlight[tk.group()] > 1 {
						violations = append(violations, "group "+tk.group()+" has two tasks in flight")
					}
					order[tk.group()] = append(order[tk.group()], p.K)
					if tk.TaskID == "" {
						violations = append(violations, fmt.Sprintf("msg_id %d has no task_id", tk.MsgID))
					}
					mu.Unlock()
				}
				for _, tk := range got {
					mu.Lock()
					inFlight[tk.group()]--
					mu.Unlock()
					errs.complete(ctx, conn, "actions", tk)
				}
			}
		}(conn)
	}
	wg.Wait()
	errs.requireNone(t)
	require.Empty(t, violations)
	require.Len(t, delivered, groups*perGroup)
	for id, n := range delivered {
		require.Equal(t, 1, n, "msg_id %d delivered %d times", id, n)
	}
	want := make([]int, perGroup)
	for k := range want {
		want[k] = k
	}
	for grp, ks := range order {
		require.Equal(t, want, ks, "FIFO within group %s", grp)
	}

	// The seed's DLQ naming: a final failure goes to actions_dlq.
	_, err = f.pool.Exec(ctx, `SELECT pgmq.send('actions', '{"bad": true}')`)
	require.NoError(t, err)
	got := tqMustRead(ctx, t, f.pool, "actions", 1, 60, tqReadOpts{})
	require.Len(t, got, 1)
	outcome, err := tqFail(ctx, f.pool, "actions", got[0].MsgID, got[0].Attempt, "fatal", false, 0, 0)
	require.NoError(t, err)
	require.Equal(t, "dead_lettered", outcome)
	require.Equal(t, int64(1), tqCount(ctx, t, f.pool, `SELECT count(*) FROM pgmq.q_actions_dlq`))
}

// TestPgtqGroupedEnqueueRacesComplete races the completion of a group's last task against the enqueue of the
// group's next task, many rounds: the new task must always be claimable by a grouped read afterwards (a group
// row dropped as empty while the insert lands would strand it).
func TestPgtqGroupedEnqueueRacesComplete(t *testing.T) {
	t.Parallel()
	ctx, f := tqNewFixture(t)
	const queue, rounds = "grace", 30
	tqCreateQueue(ctx, t, f.pool, queue, true)
	completer, producer := f.connect(ctx, t), f.connect(ctx, t)
	grouped := tqReadOpts{grouped: true}

	prev := tqMustEnqueue(ctx, t, f.pool, queue, map[string]any{"round": -1}, tqPtr("solo"))
	for round := range rounds {
		got := tqMustRead(ctx, t, f.pool, queue, 5, 60, grouped)
		require.Len(t, got, 1, "round %d: the group's only task is claimable", round)
		require.Equal(t, prev, got[0].MsgID, "round %d", round)

		gate := tqNewGate(2)
		var (
			ok     bool
			next   int64
			cErr   error
			pErr   error
			finish = make(chan struct{}, 2)
		)
		go func() {
			defer func() { finish <- struct{}{} }()
			gate.arrive()
			ok, cErr = tqComplete(ctx, completer, queue, got[0].MsgID, got[0].Attempt)
		}()
		go func() {
			defer func() { finish <- struct{}{} }()
			gate.arrive()
			next, pErr = tqEnqueue(ctx, producer, queue, map[string]any{"round": round}, tqPtr("solo"), nil)
		}()
		<-finish
		<-finish
		require.NoError(t, cErr, "round %d", round)
		require.NoError(t, pErr, "round %d", round)
		require.True(t, ok, "round %d", round)
		prev = next
	}
	got := tqMustRead(ctx, t, f.pool, queue, 5, 60, grouped)
	require.Len(t, got, 1)
	require.Equal(t, prev, got[0].MsgID)
}

// TestPgtqGroupedProducersAndReadersConcurrently enqueues while grouped readers consume: 4 producers, each
// feeding 3 groups in order, race 6 readers. Every task is delivered once, never two of a group at once, and
// each group is served in enqueue order (one producer per group, so msg_id order is commit order).
func TestPgtqGroupedProducersAndReadersConcurrently(t *testing.T) {
	t.Parallel()
	ctx, f := tqNewFixture(t)
	const queue, producers, groupsPer, perGroup, readers = "live", 4, 3, 10, 6
	const total = producers * groupsPer * perGroup
	tqCreateQueue(ctx, t, f.pool, queue, true)

	conns := f.connectN(ctx, t, producers+readers)
	gate := tqNewGate(producers + readers)
	events := newTQSignal()
	var (
		mu         sync.Mutex
		inFlight   = map[string]int{}
		claimed    = map[string][]int64{}
		delivered  = map[int64]int{}
		completed  int
		violations []string
		errs       tqErrCollector
		wg         sync.WaitGroup
		cancelled  = ctx.Done()
	)
	for p := range producers {
		wg.Add(1)
		go func(p int, conn *pgx.Conn) {
			defer wg.Done()
			gate.arrive()
			for k := range perGroup {
				for g := range groupsPer {
					group := fmt.Sprintf("p%dg%d", p, g)
					if _, err := tqEnqueue(ctx, conn, queue, tqGroupPayload{G: g, K: k}, &group, nil); err != nil {
						errs.add(err)
						return
					}
					events.notify()
				}
			}
		}(p, conns[p])
	}
	for _, conn := range conns[producers:] {
		wg.Add(1)
		go func(conn *pgx.Conn) {
			defer wg.Done()
			gate.arrive()
			for {
				next := events.current()
				mu.Lock()
				finished := completed == total
				mu.Unlock()
				if finished {
					return
				}
				got, err := tqReadTasks(ctx, conn, queue, 3, 60, tqReadOpts{grouped: true})
				if err != nil {
					errs.add(err)
					events.notify()
					return
				}
				if len(got) == 0 {
					// Nothing startable now: wait for the next enqueue or completion.
					select {
					case <-next:
					case <-cancelled:
						return
					}
					continue
				}
				mu.Lock()
				for _, tk := range got {
					delivered[tk.MsgID]++
					inFlight[tk.group()]++
					if inFlight[tk.group()] > 1 {
						violations = append(violations, "group "+tk.group()+" has two tasks in flight")
					}
					claimed[tk.group()] = append(claimed[tk.group()], tk.MsgID)
				}
				mu.Unlock()
				for _, tk := range got {
					mu.Lock()
					inFlight[tk.group()]--
					mu.Unlock()
					if !errs.complete(ctx, conn, queue, tk) {
						events.notify()
						return
					}
					mu.Lock()
					completed++
					mu.Unlock()
					events.notify()
				}
			}
		}(conn)
	}
	wg.Wait()
	errs.requireNone(t)
	require.Empty(t, violations)
	require.Len(t, delivered, total, "every task delivered")
	for id, n := range delivered {
		require.Equal(t, 1, n, "msg_id %d delivered %d times", id, n)
	}
	require.Len(t, claimed, producers*groupsPer)
	for grp, ids := range claimed {
		require.Len(t, ids, perGroup, "group %s", grp)
		require.True(t, slices.IsSorted(ids), "group %s served in enqueue order: %v", grp, ids)
	}
	require.Zero(t, tqCount(ctx, t, f.pool, `SELECT count(*) FROM pgmq.q_live`))
}

// TestPgtqGroupedLifoCrowdedByOneGroup crowds the newest tasks with one big group: LIFO grouped reads must still
// start every other idle group (their only task) before coming back empty, and take the big group's newest.
func TestPgtqGroupedLifoCrowdedByOneGroup(t *testing.T) {
	t.Parallel()
	ctx, f := tqNewFixture(t)
	const queue, small, big = "crowd", 5, 400
	tqCreateQueue(ctx, t, f.pool, queue, true)
	want := map[string]int64{}
	for i := range small {
		grp := fmt.Sprintf("small%d", i)
		want[grp] = tqMustEnqueue(ctx, t, f.pool, queue, map[string]any{"i": i}, &grp)
	}
	var newest int64
	require.NoError(t, f.pool.QueryRow(ctx, `
		SELECT max(id) FROM pgtq.enqueue_batch(queue_name => $1,
		    payloads => ARRAY(SELECT jsonb_build_object('n', n) FROM generate_series(1, $2::integer) n),
		    group_keys => ARRAY(SELECT 'big' FROM generate_series(1, $2::integer))) AS id`, queue, big).Scan(&newest))
	want["big"] = newest

	got := map[string]int64{}
	for range small + 2 {
		tasks := tqMustRead(ctx, t, f.pool, queue, 10, 60, tqReadOpts{grouped: true, lifo: true})
		if len(tasks) == 0 {
			break
		}
		for _, tk := range tasks {
			require.NotContains(t, got, tk.group(), "a second task of group %s while the first is in flight", tk.group())
			got[tk.group()] = tk.MsgID
		}
	}
	require.Equal(t, want, got, "every idle group started with its newest task")
}

// TestPgtqGroupedExpiredLeaseKeepsGroup lets the lease of a group's running task expire: another grouped reader
// gets that same task again (attempt 2), not the group's next one, and the stale holder can no longer complete.
func TestPgtqGroupedExpiredLeaseKeepsGroup(t *testing.T) {
	t.Parallel()
	ctx, f := tqNewFixture(t)
	const queue = "gexpire"
	tqCreateQueue(ctx, t, f.pool, queue, true)
	first := tqMustEnqueue(ctx, t, f.pool, queue, map[string]any{"n": 1}, tqPtr("g"))
	second := tqMustEnqueue(ctx, t, f.pool, queue, map[string]any{"n": 2}, tqPtr("g"))
	grouped := tqReadOpts{grouped: true}
	slow, other := f.connect(ctx, t), f.connect(ctx, t)

	got := tqMustRead(ctx, t, slow, queue, 5, 1, grouped)
	require.Len(t, got, 1)
	require.Equal(t, first, got[0].MsgID)

	var again []tqTask
	waitUntil(t, 10*time.Second, "the group task to be claimable again", func() bool {
		again = tqMustRead(ctx, t, other, queue, 5, 60, grouped)
		return len(again) > 0
	})
	require.Len(t, again, 1, "the group still has one task in flight")
	require.Equal(t, first, again[0].MsgID, "the expired task is redelivered before the group moves on")
	require.Equal(t, int32(2), again[0].Attempt)

	ok, err := tqComplete(ctx, slow, queue, first, 1)
	require.NoError(t, err)
	require.False(t, ok, "stale lease")
	require.Empty(t, tqMustRead(ctx, t, slow, queue, 5, 60, grouped), "a stale complete does not free the group")
	ok, err = tqComplete(ctx, other, queue, first, 2)
	require.NoError(t, err)
	require.True(t, ok)
	next := tqMustRead(ctx, t, slow, queue, 5, 60, grouped)
	require.Len(t, next, 1)
	require.Equal(t, second, next[0].MsgID)
}
