package gotest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/internal/pgtest"
)

// tqRacers is the number of connections that race in the pgtq and pgmq concurrency tests.
const tqRacers = 8

// tqTestTimeout bounds every test of schema pgtq or pgmq; a hang fails the test instead of the whole run.
const tqTestTimeout = 60 * time.Second

// tqQuerier is what pgx.Conn, pgx.Tx and pgxpool.Pool have in common.
type tqQuerier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// tqTask is one row of type pgtq.task.
type tqTask struct {
	MsgID      int64           `db:"msg_id"`
	Attempt    int32           `db:"attempt"`
	TaskID     string          `db:"task_id"`
	GroupKey   *string         `db:"group_key"`
	EnqueuedAt time.Time       `db:"enqueued_at"`
	VT         time.Time       `db:"vt"`
	Payload    json.RawMessage `db:"payload"`
	Headers    map[string]any  `db:"headers"`
}

// group returns the task's group key, "" when it has none.
func (tk tqTask) group() string {
	if tk.GroupKey == nil {
		return ""
	}
	return *tk.GroupKey
}

// tqReadOpts are the optional arguments of pgtq.read; zero values mean the SQL defaults.
type tqReadOpts struct {
	lifo             bool
	grouped          bool
	concurrencyLimit *int32
	maxAttempts      *int32
}

// tqFixture is one test's database: its URL (for dedicated racing connections) and a pool for setup and checks.
type tqFixture struct {
	url  string
	pool *pgxpool.Pool
}

// tqNewFixture clones a migrated database for this test and opens a small pool on it.
func tqNewFixture(t *testing.T) (context.Context, tqFixture) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), tqTestTimeout)
	t.Cleanup(cancel)
	url := pgtest.NewDBURL(t)
	cfg, err := pgxpool.ParseConfig(url)
	require.NoError(t, err)
	cfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return ctx, tqFixture{url: url, pool: pool}
}

// connect opens a dedicated connection (a real backend of its own) that is closed when the test ends.
func (f tqFixture) connect(ctx context.Context, t *testing.T) *pgx.Conn {
	t.Helper()
	return connectN(ctx, t, f.url, 1)[0]
}

// connectN opens n dedicated connections.
func (f tqFixture) connectN(ctx context.Context, t *testing.T, n int) []*pgx.Conn {
	t.Helper()
	return connectN(ctx, t, f.url, n)
}

// connectN opens n dedicated connections to url (real backends of their own, for racing), closed when the test
// ends.
func connectN(ctx context.Context, t *testing.T, url string, n int) []*pgx.Conn {
	t.Helper()
	conns := make([]*pgx.Conn, n)
	for i := range conns {
		conn, err := pgx.Connect(ctx, url)
		require.NoError(t, err)
		t.Cleanup(func() { _ = conn.Close(context.Background()) })
		conns[i] = conn
	}
	return conns
}

// tqCreateQueue registers a pgtq queue (with its DLQ unless dlq is false).
func tqCreateQueue(ctx context.Context, t *testing.T, q tqQuerier, name string, dlq bool) {
	t.Helper()
	_, err := q.Exec(ctx, `SELECT pgtq.create_queue(queue_name => $1, dlq => $2)`, name, dlq)
	require.NoError(t, err)
}

// tqEnqueue adds one task and returns its msg_id.
func tqEnqueue(ctx context.Context, q tqQuerier, queue string, payload any, group *string, dedupeKey *string) (int64, error) {
	var id int64
	err := q.QueryRow(ctx,
		`SELECT pgtq.enqueue(queue_name => $1, payload => $2, group_key => $3, dedupe_key => $4)`,
		queue, payload, group, dedupeKey).Scan(&id)
	return id, err
}

// tqMustEnqueue is enqueue that fails the test on error.
func tqMustEnqueue(ctx context.Context, t *testing.T, q tqQuerier, queue string, payload any, group *string) int64 {
	t.Helper()
	id, err := tqEnqueue(ctx, q, queue, payload, group, nil)
	require.NoError(t, err)
	return id
}

// tqReadTasks calls pgtq.read with named arguments.
func tqReadTasks(ctx context.Context, q tqQuerier, queue string, qty, lease int32, o tqReadOpts) ([]tqTask, error) {
	rows, err := q.Query(ctx,
		`SELECT * FROM pgtq.read(queue_name => $1, qty => $2, lease_seconds => $3, lifo => $4, grouped => $5,
		    concurrency_limit => $6, max_lost_leases => $7)`,
		queue, qty, lease, o.lifo, o.grouped, o.concurrencyLimit, o.maxAttempts)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByName[tqTask])
}

// tqMustRead is readTasks that fails the test on error.
func tqMustRead(ctx context.Context, t *testing.T, q tqQuerier, queue string, qty, lease int32, o tqReadOpts) []tqTask {
	t.Helper()
	tasks, err := tqReadTasks(ctx, q, queue, qty, lease, o)
	require.NoError(t, err)
	return tasks
}

// tqComplete calls pgtq.complete for one task.
func tqComplete(ctx context.Context, q tqQuerier, queue string, msgID int64, attempt int32) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, `SELECT pgtq.complete(queue_name => $1, msg_id => $2, attempt => $3)`,
		queue, msgID, attempt).Scan(&ok)
	return ok, err
}

// tqFail calls pgtq.fail and returns its outcome.
func tqFail(ctx context.Context, q tqQuerier, queue string, msgID int64, attempt int32, errText string,
	retryable bool, maxRetries, retryDelay int32) (string, error) {
	var outcome string
	err := q.QueryRow(ctx,
		`SELECT pgtq.fail(queue_name => $1, msg_id => $2, attempt => $3, error => $4, retryable => $5,
		    max_retries => $6, retry_delay => $7)`,
		queue, msgID, attempt, errText, retryable, maxRetries, retryDelay).Scan(&outcome)
	return outcome, err
}

// tqCount runs a SELECT count(*)-like query and returns the number.
func tqCount(ctx context.Context, t *testing.T, q tqQuerier, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	require.NoError(t, q.QueryRow(ctx, sql, args...).Scan(&n))
	return n
}

// tqGate starts a set of goroutines together: each calls arrive, and all are released at once when the last one
// has arrived, so their first statements race.
type tqGate struct {
	arrived sync.WaitGroup
	open    chan struct{}
}

// tqNewGate returns a gate for n goroutines.
func tqNewGate(n int) *tqGate {
	g := &tqGate{open: make(chan struct{})}
	g.arrived.Add(n)
	go func() {
		g.arrived.Wait()
		close(g.open)
	}()
	return g
}

// arrive marks the caller ready and blocks until every goroutine has arrived.
func (g *tqGate) arrive() {
	g.arrived.Done()
	<-g.open
}

// tqErrCollector gathers errors from racing goroutines; require must only be called from the test goroutine.
type tqErrCollector struct {
	mu   sync.Mutex
	errs []error
}

// add records err when it is not nil; a PostgreSQL error keeps its detail and the PL/pgSQL context.
func (c *tqErrCollector) add(err error) {
	if err == nil {
		return
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		err = fmt.Errorf("%w (detail: %s; where: %s)", err, pgErr.Detail, pgErr.Where)
	}
	c.mu.Lock()
	c.errs = append(c.errs, err)
	c.mu.Unlock()
}

// requireNone fails the test with every recorded error.
func (c *tqErrCollector) requireNone(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	require.Empty(t, c.errs)
}

// complete completes tk and records a failure in c: an error, or a lost lease (complete returned false). It
// reports whether the task was completed, so a racer can stop at the first failure.
func (c *tqErrCollector) complete(ctx context.Context, q tqQuerier, queue string, tk tqTask) bool {
	ok, err := tqComplete(ctx, q, queue, tk.MsgID, tk.Attempt)
	switch {
	case err != nil:
		c.add(err)
		return false
	case !ok:
		c.add(tqErrLeaseLost{tk.MsgID, tk.Attempt})
		return false
	}
	return true
}

// tqQueueWithTasks creates queue (with a DLQ) holding n ungrouped tasks {"i": 0..n-1}, in msg_id order.
func tqQueueWithTasks(ctx context.Context, t *testing.T, q tqQuerier, queue string, n int) {
	t.Helper()
	tqCreateQueue(ctx, t, q, queue, true)
	for i := range n {
		tqMustEnqueue(ctx, t, q, queue, map[string]any{"i": i}, nil)
	}
}

// tqPtr returns a pointer to v.
func tqPtr[T any](v T) *T { return &v }

// tqSignal wakes waiters on every event (a broadcast): take the channel with current before looking at the
// state, and after an unsuccessful look wait on it; any later event closes it.
type tqSignal struct {
	mu sync.Mutex
	ch chan struct{}
}

// newTQSignal returns a signal with no event yet.
func newTQSignal() *tqSignal { return &tqSignal{ch: make(chan struct{})} }

// current returns the channel closed by the next event.
func (s *tqSignal) current() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ch
}

// notify wakes everyone waiting on a channel taken before this call.
func (s *tqSignal) notify() {
	s.mu.Lock()
	close(s.ch)
	s.ch = make(chan struct{})
	s.mu.Unlock()
}
