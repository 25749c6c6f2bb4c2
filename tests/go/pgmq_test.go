package gotest

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// mqMessage is one row of type pgmq.message_record.
type mqMessage struct {
	MsgID      int64           `db:"msg_id"`
	ReadCt     int32           `db:"read_ct"`
	EnqueuedAt time.Time       `db:"enqueued_at"`
	LastReadAt *time.Time      `db:"last_read_at"`
	VT         time.Time       `db:"vt"`
	Message    json.RawMessage `db:"message"`
	Headers    map[string]any  `db:"headers"`
}

// group returns the message's x-pgmq-group header, "" when it has none.
func (m mqMessage) group() string {
	g, _ := m.Headers["x-pgmq-group"].(string)
	return g
}

// mqBundle is what every schema pgmq test starts from: a fresh migrated database and a deadline.
type mqBundle struct {
	ctx  context.Context
	pool *pgxpool.Pool
	url  string
}

// mqSetup gives the test its own database (cloned from the migrated template) and a context with a deadline.
func mqSetup(t *testing.T) *mqBundle {
	t.Helper()
	ctx, f := tqNewFixture(t)
	return &mqBundle{ctx: ctx, pool: f.pool, url: f.url}
}

// createQueue creates a pgmq queue, with the fifo index when fifoIndex is set.
func (b *mqBundle) createQueue(t *testing.T, queue string, fifoIndex bool) {
	t.Helper()
	_, err := b.pool.Exec(b.ctx, "SELECT pgmq.create($1)", queue)
	require.NoError(t, err)
	if fifoIndex {
		_, err = b.pool.Exec(b.ctx, "SELECT pgmq.create_fifo_index($1)", queue)
		require.NoError(t, err)
	}
}

// send sends one message per entry of groups (in order, so msg_ids follow it); "" sends no group header.
func (b *mqBundle) send(t *testing.T, queue string, groups []string) []int64 {
	t.Helper()
	ids := make([]int64, 0, len(groups))
	for i, g := range groups {
		var headers any
		if g != "" {
			headers = map[string]any{"x-pgmq-group": g}
		}
		var id int64
		err := b.pool.QueryRow(b.ctx, "SELECT * FROM pgmq.send($1, $2::jsonb, $3::jsonb)",
			queue, map[string]any{"i": i}, headers).Scan(&id)
		require.NoError(t, err)
		ids = append(ids, id)
	}
	return ids
}

// connect opens n dedicated connections to the test database, closed when the test ends.
func (b *mqBundle) connect(t *testing.T, n int) []*pgx.Conn {
	t.Helper()
	return connectN(b.ctx, t, b.url, n)
}

// mqRead runs a query returning pgmq.message_record rows and collects them in result order.
func mqRead(ctx context.Context, q tqQuerier, sql string, args ...any) ([]mqMessage, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", sql, err)
	}
	msgs, err := pgx.CollectRows(rows, pgx.RowToStructByName[mqMessage])
	if err != nil {
		return nil, fmt.Errorf("collect %q: %w", sql, err)
	}
	return msgs, nil
}

// mqIDs returns the msg_ids of msgs in order.
func mqIDs(msgs []mqMessage) []int64 {
	ids := make([]int64, len(msgs))
	for i, m := range msgs {
		ids[i] = m.MsgID
	}
	return ids
}

// mqRace runs fn on every connection at once: each goroutine waits at a barrier until all have started, so the
// readers really race. It returns the first error.
func mqRace(conns []*pgx.Conn, fn func(reader int, conn *pgx.Conn) error) error {
	var (
		done sync.WaitGroup
		gate = tqNewGate(len(conns))
		errs = make(chan error, len(conns))
	)
	for i, conn := range conns {
		done.Go(func() {
			gate.arrive()
			if err := fn(i, conn); err != nil {
				errs <- fmt.Errorf("reader %d: %w", i, err)
			}
		})
	}
	done.Wait()
	close(errs)
	return <-errs
}

// mqDelivery is one message handed to one reader.
type mqDelivery struct {
	reader int
	msg    mqMessage
}

// TestPgmqReadRacingReaders races 8 connections reading one queue with pgmq.read_with_poll and a 2 s
// visibility timeout. Every fourth message is abandoned on its first delivery, so it must come back. Asserted:
// every message is delivered; a message is never delivered again before the visibility timeout of its previous
// delivery has expired (on the server's own clock: last_read_at of a delivery >= vt of the one before), which
// is pgmq's "exactly once within a visibility timeout"; read_ct counts the deliveries.
func TestPgmqReadRacingReaders(t *testing.T) {
	t.Parallel()
	b := mqSetup(t)
	const n = 240
	b.createQueue(t, "race", false)
	_, err := b.pool.Exec(b.ctx, "SELECT pgmq.send_batch('race', array_agg(jsonb_build_object('i', i))) FROM generate_series(1, $1::int) i", n)
	require.NoError(t, err)

	var (
		mu         sync.Mutex
		deliveries []mqDelivery
		deleted    atomic.Int64
	)
	err = mqRace(b.connect(t, tqRacers), func(reader int, conn *pgx.Conn) error {
		for deleted.Load() < n {
			if err := b.ctx.Err(); err != nil {
				return fmt.Errorf("not all messages deleted: %w", err)
			}
			// The poll form waits on the server, so an idle reader does not spin.
			msgs, err := mqRead(b.ctx, conn, "SELECT * FROM pgmq.read_with_poll('race', 2, $1, 1, 10)", 1+reader%4)
			if err != nil {
				return err
			}
			mu.Lock()
			for _, m := range msgs {
				deliveries = append(deliveries, mqDelivery{reader: reader, msg: m})
			}
			mu.Unlock()
			for _, m := range msgs {
				if m.MsgID%4 == 0 && m.ReadCt == 1 {
					continue
				}
				// false only if the lease expired and another reader deleted it first (a slow reader on a
				// loaded machine): at-least-once, which the checks below allow.
				var ok bool
				if err := conn.QueryRow(b.ctx, "SELECT pgmq.delete('race', $1::bigint)", m.MsgID).Scan(&ok); err != nil {
					return fmt.Errorf("delete %d: %w", m.MsgID, err)
				}
				if ok {
					deleted.Add(1)
				}
			}
		}
		return nil
	})
	require.NoError(t, err)

	byID := map[int64][]mqMessage{}
	readers := map[int]bool{}
	for _, d := range deliveries {
		byID[d.msg.MsgID] = append(byID[d.msg.MsgID], d.msg)
		readers[d.reader] = true
	}
	require.Len(t, byID, n, "every message is delivered")
	require.Greater(t, len(readers), 1, "the readers did race")
	for id, ds := range byID {
		sort.Slice(ds, func(i, j int) bool { return ds[i].ReadCt < ds[j].ReadCt })
		if id%4 == 0 {
			require.GreaterOrEqual(t, len(ds), 2, "msg %d was abandoned, so it is delivered again", id)
		}
		for k := range ds {
			require.EqualValues(t, k+1, ds[k].ReadCt, "msg %d: read_ct counts deliveries, none lost or doubled", id)
			require.NotNil(t, ds[k].LastReadAt)
			if k > 0 {
				require.False(t, ds[k].LastReadAt.Before(ds[k-1].VT),
					"msg %d redelivered at %v, before the previous lease ended at %v", id, ds[k].LastReadAt, ds[k-1].VT)
			}
		}
	}
}

// mqHold is the time a reader held one message: from the moment its read returned (committed) to the moment it
// sent the delete. The real hold is a little longer on both ends, so an overlap seen here is a real one.
type mqHold struct {
	reader     int
	msgID      int64
	start, end time.Time
}

// TestPgmqGroupedReadersNeverShareAGroup races 8 connections over 6 groups with each group read function (poll
// form) and direction, through each way of finding group heads: the window of oldest messages, the loose
// index scan, both mixed, and the sequential pass without the fifo index. Readers hold each message a
// moment, then delete it. Asserted: every message delivered once; two messages of one group are never held
// by two readers at once; each group is processed in its order (msg_id ascending for ASC, descending for
// DESC).
func TestPgmqGroupedReadersNeverShareAGroup(t *testing.T) {
	t.Parallel()
	type variant struct {
		fn, dir   string
		fifoIndex bool
		// window sets pgmq.group_read_window on the readers' connections: "0" forces the loose index scan,
		// a small value makes reads alternate between the window of oldest messages and the full search.
		window string
	}
	var variants []variant
	for _, fn := range []string{"read_grouped_head", "read_grouped_rr", "read_grouped"} {
		variants = append(variants,
			variant{fn: fn, dir: "ASC", fifoIndex: true},
			variant{fn: fn, dir: "DESC", fifoIndex: true, window: "0"},
			variant{fn: fn, dir: "ASC", fifoIndex: true, window: "4"},
			variant{fn: fn, dir: "ASC", fifoIndex: false})
	}
	for _, v := range variants {
		fn, dir := v.fn, v.dir
		name := fn + "/" + dir
		if !v.fifoIndex {
			name += "/no_fifo_index"
		}
		if v.window != "" {
			name += "/window_" + v.window
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := mqSetup(t)
			// Enough messages that the run outlasts any one reader's head start on a loaded machine.
			const groups, perGroup = 6, 12
			b.createQueue(t, "grp", v.fifoIndex)
			var keys []string
			for i := 0; i < groups*perGroup; i++ {
				keys = append(keys, fmt.Sprintf("g%d", i%groups))
			}
			ids := b.send(t, "grp", keys)
			groupOf := map[int64]string{}
			for i, id := range ids {
				groupOf[id] = keys[i]
			}

			var (
				mu    sync.Mutex
				holds []mqHold
				left  atomic.Int64
			)
			left.Store(int64(len(ids)))
			query := fmt.Sprintf("SELECT * FROM pgmq.%s_with_poll('grp', 30, 3, 1, 5, $1)", fn)
			conns := b.connect(t, tqRacers)
			if v.window != "" {
				for _, conn := range conns {
					_, err := conn.Exec(b.ctx, "SELECT set_config('pgmq.group_read_window', $1, false)", v.window)
					require.NoError(t, err)
				}
			}
			err := mqRace(conns, func(reader int, conn *pgx.Conn) error {
				for left.Load() > 0 {
					if err := b.ctx.Err(); err != nil {
						return fmt.Errorf("messages left over: %w", err)
					}
					msgs, err := mqRead(b.ctx, conn, query, dir)
					if err != nil {
						return err
					}
					start := time.Now()
					for _, m := range msgs {
						// Hold the message as a worker would while it processes it.
						time.Sleep(2 * time.Millisecond)
						end := time.Now()
						mu.Lock()
						holds = append(holds, mqHold{reader: reader, msgID: m.MsgID, start: start, end: end})
						mu.Unlock()
						var ok bool
						if err := conn.QueryRow(b.ctx, "SELECT pgmq.delete('grp', $1::bigint)", m.MsgID).Scan(&ok); err != nil {
							return fmt.Errorf("delete %d: %w", m.MsgID, err)
						}
						if !ok {
							return fmt.Errorf("delete %d: already gone", m.MsgID)
						}
						left.Add(-1)
					}
				}
				return nil
			})
			require.NoError(t, err)
			require.Len(t, holds, len(ids), "every message delivered exactly once")

			byGroup := map[string][]mqHold{}
			for _, h := range holds {
				byGroup[groupOf[h.msgID]] = append(byGroup[groupOf[h.msgID]], h)
			}
			readers := map[int]bool{}
			for g, hs := range byGroup {
				for i := range hs {
					readers[hs[i].reader] = true
					for j := i + 1; j < len(hs); j++ {
						if hs[i].reader == hs[j].reader {
							continue
						}
						overlap := hs[i].start.Before(hs[j].end) && hs[j].start.Before(hs[i].end)
						require.False(t, overlap, "group %s: msg %d (reader %d) and msg %d (reader %d) held at once",
							g, hs[i].msgID, hs[i].reader, hs[j].msgID, hs[j].reader)
					}
				}
				// Group order: taking the holds in the order they ended, msg_ids run in the read direction.
				sort.Slice(hs, func(i, j int) bool { return hs[i].end.Before(hs[j].end) })
				for i := 1; i < len(hs); i++ {
					if dir == "ASC" {
						require.Less(t, hs[i-1].msgID, hs[i].msgID, "group %s out of FIFO order", g)
					} else {
						require.Greater(t, hs[i-1].msgID, hs[i].msgID, "group %s out of LIFO order", g)
					}
				}
			}
			require.Greater(t, len(readers), 1, "the readers did race")
		})
	}
}

// TestPgmqGroupGateIsPerQueue checks the group gate while a reader's transaction is still open: the held
// group is closed to every other reader of the same queue (its later messages too), and the same group name in
// another queue is not affected (upstream's advisory lock key is the bare group name, shared by all queues).
func TestPgmqGroupGateIsPerQueue(t *testing.T) {
	t.Parallel()
	b := mqSetup(t)
	for _, q := range []string{"gate_a", "gate_b"} {
		b.createQueue(t, q, true)
		b.send(t, q, []string{"shared", "shared", "other"})
	}
	conns := b.connect(t, 2)
	tx, err := conns[0].Begin(b.ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(context.Background()) }()
	held, err := mqRead(b.ctx, tx, "SELECT * FROM pgmq.read_grouped_head('gate_a', 30, 1)")
	require.NoError(t, err)
	require.Equal(t, []int64{1}, mqIDs(held), "the first reader holds group shared of gate_a")

	for _, fn := range []string{"read_grouped_rr", "read_grouped", "read_grouped_head"} {
		t.Run(fn, func(t *testing.T) {
			same, err := mqRead(b.ctx, conns[1], fmt.Sprintf("SELECT * FROM pgmq.%s('gate_a', 0, 10)", fn))
			require.NoError(t, err)
			require.Equal(t, []int64{3}, mqIDs(same), "group shared of gate_a is held: only group other is readable")
			other, err := mqRead(b.ctx, conns[1], fmt.Sprintf("SELECT * FROM pgmq.%s('gate_b', 0, 1)", fn))
			require.NoError(t, err)
			require.Equal(t, []int64{1}, mqIDs(other), "group shared of gate_b is free")
		})
	}
}

// TestPgmqLIFOEveryReadFunction calls every read function with direction 'DESC' (named, so the position of
// the argument does not matter) and checks that the newest visible messages come first.
func TestPgmqLIFOEveryReadFunction(t *testing.T) {
	t.Parallel()
	b := mqSetup(t)
	// msg_id: group = 1:a 2:b 3:a 4:b 5:a 6:b
	groups := []string{"a", "b", "a", "b", "a", "b"}
	cases := []struct {
		name  string
		sql   string
		first []int64 // result of the first call, in result order when ordered is set
		next  []int64 // result of a second identical call (vt 30 hides the first batch)
		// ordered: the function promises an order (group reads return their selection order); plain reads
		// return a set, compared sorted.
		ordered bool
	}{
		{"read", "SELECT * FROM pgmq.read($1, 30, 3, direction => 'DESC')", []int64{6, 5, 4}, []int64{3, 2, 1}, false},
		{"read_with_poll", "SELECT * FROM pgmq.read_with_poll($1, 30, 3, 1, 10, direction => 'DESC')", []int64{6, 5, 4}, []int64{3, 2, 1}, false},
		{"pop", "SELECT * FROM pgmq.pop($1, 2, direction => 'desc')", []int64{6, 5}, []int64{4, 3}, false},
		{"read_grouped_head", "SELECT * FROM pgmq.read_grouped_head($1, 30, 5, direction => 'DESC')", []int64{6, 5}, nil, true},
		{"read_grouped_head_with_poll", "SELECT * FROM pgmq.read_grouped_head_with_poll($1, 30, 5, 1, 10, direction => 'DESC')", []int64{6, 5}, nil, true},
		{"read_grouped_rr", "SELECT * FROM pgmq.read_grouped_rr($1, 30, 5, direction => 'DESC')", []int64{6, 5, 4, 3, 2}, nil, true},
		{"read_grouped_rr_with_poll", "SELECT * FROM pgmq.read_grouped_rr_with_poll($1, 30, 5, 1, 10, direction => 'DESC')", []int64{6, 5, 4, 3, 2}, nil, true},
		{"read_grouped", "SELECT * FROM pgmq.read_grouped($1, 30, 4, direction => 'DESC')", []int64{6, 4, 2, 5}, nil, true},
		{"read_grouped_with_poll", "SELECT * FROM pgmq.read_grouped_with_poll($1, 30, 4, 1, 10, direction => 'DESC')", []int64{6, 4, 2, 5}, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			queue := "lifo_" + tc.name
			b.createQueue(t, queue, true)
			b.send(t, queue, groups)
			check := func(want []int64) {
				msgs, err := mqRead(b.ctx, b.pool, tc.sql, queue)
				require.NoError(t, err)
				got := mqIDs(msgs)
				if !tc.ordered {
					sort.Slice(got, func(i, j int) bool { return got[i] > got[j] })
				}
				if want == nil {
					want = []int64{}
				}
				require.Equal(t, want, got)
			}
			check(tc.first)
			// The group reads' next call sees every group's head in flight: nothing (with max_poll 1 s).
			check(tc.next)
		})
	}
}

// mqNotifications collects the notifications a connection receives until it sees the payload "marker", which
// the test sends last on the same channel. Notifications arrive in commit order, so everything the test's
// earlier commits produced has arrived by then: counting needs no waiting for silence.
func mqNotifications(ctx context.Context, t *testing.T, listener *pgx.Conn) []string {
	t.Helper()
	var payloads []string
	for {
		n, err := listener.WaitForNotification(ctx)
		require.NoError(t, err, "waiting for notifications")
		if n.Payload == "marker" {
			return payloads
		}
		payloads = append(payloads, n.Channel+"|"+n.Payload)
	}
}

// TestPgmqNotifyInsert covers NOTIFY on insert: a mixed-case queue notifies on pgmq.q_<lower name>.INSERT,
// an unthrottled queue notifies once per insert, a throttled one once per interval, a rolled-back send not at
// all, and disable_notify_insert stops it.
func TestPgmqNotifyInsert(t *testing.T) {
	t.Parallel()
	b := mqSetup(t)
	const queue = "Notify_Mixed"
	const channel = "pgmq.q_notify_mixed.INSERT"
	b.createQueue(t, queue, false)
	conns := b.connect(t, 1)
	listener := conns[0]
	_, err := listener.Exec(b.ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize())
	require.NoError(t, err)

	send := func() {
		t.Helper()
		_, err := b.pool.Exec(b.ctx, "SELECT pgmq.send($1, '{}'::jsonb)", queue)
		require.NoError(t, err)
	}
	marker := func() []string {
		t.Helper()
		_, err := b.pool.Exec(b.ctx, "SELECT pg_notify($1, 'marker')", channel)
		require.NoError(t, err)
		return mqNotifications(b.ctx, t, listener)
	}

	// Before enable_notify_insert: silence.
	send()
	require.Empty(t, marker(), "no notification before enable_notify_insert")

	_, err = b.pool.Exec(b.ctx, "SELECT pgmq.enable_notify_insert($1, 0)", queue)
	require.NoError(t, err)
	send()
	send()
	require.Equal(t, []string{channel + "|", channel + "|"}, marker(),
		"throttle 0: one notification per send, on the lower-cased channel, with an empty payload")

	// A rolled-back send notifies nobody.
	tx, err := b.pool.Begin(b.ctx)
	require.NoError(t, err)
	_, err = tx.Exec(b.ctx, "SELECT pgmq.send($1, '{}'::jsonb)", queue)
	require.NoError(t, err)
	require.NoError(t, tx.Rollback(b.ctx))
	require.Empty(t, marker(), "a rolled-back send does not notify")

	// Throttled: a minute between notifications, so the second send falls inside the interval.
	_, err = b.pool.Exec(b.ctx, "SELECT pgmq.enable_notify_insert($1, 60000)", queue)
	require.NoError(t, err)
	send()
	send()
	require.Equal(t, []string{channel + "|"}, marker(), "two sends inside the throttle interval notify once")

	// The interval runs from the last notification: make it lie in the past and the next send notifies again.
	_, err = b.pool.Exec(b.ctx, "UPDATE pgmq.notify_insert_throttle SET last_notified_at = now() - interval '2 minutes' WHERE queue_name = $1", queue)
	require.NoError(t, err)
	send()
	require.Equal(t, []string{channel + "|"}, marker(), "a send after the interval notifies again")

	_, err = b.pool.Exec(b.ctx, "SELECT pgmq.disable_notify_insert($1)", queue)
	require.NoError(t, err)
	send()
	require.Empty(t, marker(), "disable_notify_insert stops the notifications")
}

// TestPgmqNoticesAndWarnings checks the NOTICE and WARNING texts that pgmq emits and clients log or assert
// (PGMQ-API.md section 5). pgTAP cannot see notices, so they are captured here from the protocol.
func TestPgmqNoticesAndWarnings(t *testing.T) {
	t.Parallel()
	b := mqSetup(t)
	b.createQueue(t, "mq_warn", false)

	type notice struct{ severity, message string }
	var mu sync.Mutex
	var got []notice
	cfg, err := pgx.ParseConfig(b.url)
	require.NoError(t, err)
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, notice{n.Severity, n.Message})
	}
	conn, err := pgx.ConnectConfig(b.ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	run := func(query string, want bool) []notice {
		t.Helper()
		mu.Lock()
		got = nil
		mu.Unlock()
		var res bool
		require.NoError(t, conn.QueryRow(b.ctx, query).Scan(&res))
		require.Equal(t, want, res, query)
		mu.Lock()
		defer mu.Unlock()
		return got
	}

	require.Equal(t, []notice{{"NOTICE", "pgmq queue `never_there` does not exist"}},
		run("SELECT pgmq.drop_queue('never_there')", false), "drop_queue of an unknown queue: NOTICE and false")
	require.Equal(t, []notice{{"WARNING", "detach_archive(queue_name) is deprecated and is a no-op. It will be removed in " +
		"PGMQ v2.0. Archive tables are no longer member objects."}},
		run("SELECT true FROM pgmq.detach_archive('mq_warn')", true), "detach_archive: a no-op with pgmq's WARNING")
	require.Equal(t, []notice{{"WARNING", "drop_queue(queue_name, partitioned) is deprecated and will be removed in PGMQ " +
		"v2.0. Use drop_queue(queue_name) instead"}},
		run("SELECT pgmq.drop_queue('mq_warn', false)", true), "deprecated drop_queue: pgmq's WARNING, then the drop")
	require.Equal(t, []notice{
		{"WARNING", "drop_queue(queue_name, partitioned) is deprecated and will be removed in PGMQ v2.0. Use drop_queue(queue_name) instead"},
		{"NOTICE", "pgmq queue `mq_warn` does not exist"},
	}, run("SELECT pgmq.drop_queue('mq_warn', true)", true), "deprecated drop_queue of a dropped queue: both messages, still true")
}
