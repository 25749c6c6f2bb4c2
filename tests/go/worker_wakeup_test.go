package gotest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/driver"
	"github.com/pgtq/pgtq/internal/pgtest"
	"github.com/pgtq/pgtq/worker"
)

// startSignal is a processor whose handler reports each start time on a channel.
func startSignal(queue string) (*worker.Processor, chan time.Time) {
	started := make(chan time.Time, 100)
	p := worker.NewProcessor(queue, func(context.Context, numPayload) error {
		started <- time.Now()
		return nil
	}, nil)
	return p, started
}

func awaitStart(t *testing.T, started chan time.Time, within time.Duration) time.Time {
	t.Helper()
	select {
	case at := <-started:
		return at
	case <-time.After(within):
		t.Fatalf("task did not start within %s", within)
		return time.Time{}
	}
}

// TestWorkerWakeupLatency measures enqueue-to-start of an idle worker whose poll interval is 30 s: only
// LISTEN/NOTIFY can start the tasks in time. Enqueues go through pgtq.enqueue and plain pgmq.send.
func TestWorkerWakeupLatency(t *testing.T) {
	t.Parallel()
	const samples = 30
	b := setupWorker(t)
	q := b.newQueue(t, false)
	p, started := startSignal(q)
	w, _ := b.runWorker(t, &worker.Options{Processors: []*worker.Processor{p}, PollInterval: 30 * time.Second})
	waitReady(t, w)

	var lat []time.Duration
	const warmup = 3 // the first tasks also open pool connections and prepare statements
	for i := range samples + warmup {
		before := time.Now()
		if i%5 == 4 {
			_, err := b.pool.Exec(b.ctx, `SELECT pgmq.send($1::text, '{"n": 1}'::jsonb)`, q)
			require.NoError(t, err)
		} else {
			b.enqueue(t, q, numPayload{N: i}, nil)
		}
		at := awaitStart(t, started, 5*time.Second)
		if i >= warmup {
			lat = append(lat, at.Sub(before))
		}
		// Let the worker go idle again (complete, re-read, find nothing) before the next sample.
		waitUntil(t, 5*time.Second, "task archived", func() bool { return b.queueRows(t, q) == 0 })
	}
	p50, p90, p99 := percentile(lat, 50), percentile(lat, 90), percentile(lat, 99)
	t.Logf("idle enqueue-to-start latency over %d tasks: p50=%s p90=%s p99=%s", samples, p50, p90, p99)
	// Bounds far below the 30 s poll interval; p90 rather than the maximum because the test machine is shared
	// and a single scheduling hiccup must not fail the test.
	require.Less(t, p90, 200*time.Millisecond)
	require.Less(t, percentile(lat, 100), time.Second)
}

// TestWorkerListenerReconnect kills the worker's LISTEN connection and checks that it comes back and that
// notifications wake the worker again (poll interval 30 s, so polling cannot hide a dead listener).
func TestWorkerListenerReconnect(t *testing.T) {
	t.Parallel()
	b := setupWorker(t)
	q := b.newQueue(t, false)
	p, started := startSignal(q)
	w, _ := b.runWorker(t, &worker.Options{Processors: []*worker.Processor{p}, PollInterval: 30 * time.Second})
	waitReady(t, w)

	listenerPID := func() (int32, bool) {
		var pid int32
		err := b.pool.QueryRow(b.ctx, `
			SELECT pid FROM pg_stat_activity
			WHERE datname = current_database() AND application_name = $1
			  AND state = 'idle' AND query ILIKE 'listen %'`, worker.ListenerApplicationName).Scan(&pid)
		return pid, err == nil
	}
	var old int32
	waitUntil(t, 5*time.Second, "listener backend", func() bool { pid, ok := listenerPID(); old = pid; return ok })
	var killed bool
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT pg_terminate_backend($1)`, old).Scan(&killed))
	require.True(t, killed)
	waitUntil(t, 10*time.Second, "a new listener backend", func() bool {
		pid, ok := listenerPID()
		return ok && pid != old
	})
	before := time.Now()
	b.enqueue(t, q, numPayload{}, nil)
	at := awaitStart(t, started, 5*time.Second)
	require.Less(t, at.Sub(before), 200*time.Millisecond, "notification after reconnect did not wake the worker")
}

// TestWorkerDelayedTaskStartsOnTime checks that the worker wakes for a delayed task when it falls due,
// not at the next poll (30 s away).
func TestWorkerDelayedTaskStartsOnTime(t *testing.T) {
	t.Parallel()
	const delay = 2 * time.Second
	b := setupWorker(t)
	q := b.newQueue(t, false)
	p, started := startSignal(q)
	w, _ := b.runWorker(t, &worker.Options{Processors: []*worker.Processor{p}, PollInterval: 30 * time.Second})
	waitReady(t, w)
	before := time.Now()
	b.enqueue(t, q, numPayload{}, &driver.EnqueueOptions{Delay: delay})
	at := awaitStart(t, started, 10*time.Second)
	late := at.Sub(before)
	t.Logf("delayed task started %s after enqueue (delay %s)", late, delay)
	require.GreaterOrEqual(t, late, delay, "started before its delay")
	// Generous for a loaded shared machine, yet far below the 30 s poll interval.
	require.Less(t, late, delay+time.Second, "the due timer did not start the delayed task on time")
}

// TestWorkerPollsWhileListenerDown keeps the worker's LISTEN connection from coming back (the database
// refuses new connections) and checks that work still starts within a couple of seconds, well inside the
// 30 s poll interval: while the listener is down the worker polls at least every second.
func TestWorkerPollsWhileListenerDown(t *testing.T) {
	t.Parallel()
	b := setupWorker(t)
	q := b.newQueue(t, false)
	p, started := startSignal(q)
	w, _ := b.runWorker(t, &worker.Options{Processors: []*worker.Processor{p}, PollInterval: 30 * time.Second,
		PollExceptionInterval: 100 * time.Millisecond})
	waitReady(t, w)
	// Warm the worker's pool so that its claims keep working on existing connections.
	b.enqueue(t, q, numPayload{}, nil)
	awaitStart(t, started, 5*time.Second)

	var db string
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT current_database()`).Scan(&db))
	ident := pgx.Identifier{db}.Sanitize()
	// A database cannot refuse connections to itself from its own session: use the maintenance database.
	admin, err := pgx.Connect(b.ctx, pgtest.ServerURL(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = admin.Close(context.Background()) })
	_, err = admin.Exec(b.ctx, `ALTER DATABASE `+ident+` ALLOW_CONNECTIONS false`)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = admin.Exec(context.Background(), `ALTER DATABASE `+ident+` ALLOW_CONNECTIONS true`)
	})
	_, err = b.pool.Exec(b.ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = $1`, worker.ListenerApplicationName)
	require.NoError(t, err)
	waitUntil(t, 5*time.Second, "listener gone", func() bool {
		return b.count(t, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND application_name = $1`, worker.ListenerApplicationName) == 0
	})

	before := time.Now()
	b.enqueue(t, q, numPayload{}, nil)
	at := awaitStart(t, started, 10*time.Second)
	t.Logf("started %s after enqueue with the listener down", at.Sub(before))
	require.Less(t, at.Sub(before), 3*time.Second, "no fallback polling while the listener was down")

	// Let the listener back in: it reconnects (with backoff) and notifications work again.
	_, err = admin.Exec(b.ctx, `ALTER DATABASE `+ident+` ALLOW_CONNECTIONS true`)
	require.NoError(t, err)
	waitUntil(t, 40*time.Second, "listener back", func() bool {
		return b.count(t, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND application_name = $1 AND state = 'idle' AND query ILIKE 'listen %'`, worker.ListenerApplicationName) == 1
	})
}
