package gotest

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/driver"
	"github.com/pgtq/pgtq/internal/pgtest"
)

// driverTestTimeout bounds every driver test so that a hang fails the test, not the whole run.
const driverTestTimeout = 30 * time.Second

// driverBundle is what a driver test works with: a fresh migrated database and a Client on it.
type driverBundle struct {
	ctx    context.Context
	pool   *pgxpool.Pool
	client *driver.Client
}

// setupDriver clones a migrated database for the test and opens a Client on it.
func setupDriver(t *testing.T) *driverBundle {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), driverTestTimeout)
	t.Cleanup(cancel)
	pool := pgtest.NewDB(t)
	client, err := driver.New(ctx, pool)
	require.NoError(t, err)
	return &driverBundle{ctx: ctx, pool: pool, client: client}
}

// driverQueueSeq numbers the queues the driver tests create.
var driverQueueSeq atomic.Int64

// newQueue creates a queue (with a DLQ unless noDLQ) and returns its name.
func (b *driverBundle) newQueue(t *testing.T, noDLQ bool) string {
	t.Helper()
	name := fmt.Sprintf("drv_q%d", driverQueueSeq.Add(1))
	require.NoError(t, b.client.CreateQueue(b.ctx, name, &driver.CreateQueueOptions{NoDLQ: noDLQ}))
	return name
}

// count runs a count(*) style query and returns its value.
func (b *driverBundle) count(t *testing.T, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	require.NoError(t, b.pool.QueryRow(b.ctx, sql, args...).Scan(&n))
	return n
}

// queueRows returns the number of rows in the pgmq table of queue (all tasks, visible or not).
func (b *driverBundle) queueRows(t *testing.T, queue string) int64 {
	t.Helper()
	return b.count(t, `SELECT count(*) FROM `+pgx.Identifier{"pgmq", "q_" + strings.ToLower(queue)}.Sanitize())
}

// archiveRows returns the number of archived rows of queue.
func (b *driverBundle) archiveRows(t *testing.T, queue string) int64 {
	t.Helper()
	return b.count(t, `SELECT count(*) FROM `+pgx.Identifier{"pgmq", "a_" + strings.ToLower(queue)}.Sanitize())
}

// makeVisible ends the lease of msgID now, as if it had expired, so that another read can claim it.
func (b *driverBundle) makeVisible(t *testing.T, queue string, msgID int64) {
	t.Helper()
	_, err := b.pool.Exec(b.ctx, `SELECT pgmq.set_vt($1::text, $2::bigint, 0)`, queue, msgID)
	require.NoError(t, err)
}

// readOne claims exactly one task of queue and fails the test otherwise.
func (b *driverBundle) readOne(t *testing.T, queue string, opts *driver.ReadOptions) driver.Task {
	t.Helper()
	tasks, err := b.client.Read(b.ctx, queue, 1, time.Minute, opts)
	require.NoError(t, err)
	require.Len(t, tasks, 1)
	return tasks[0]
}

// startLine is a barrier: goroutines block in wait until release is called, then all run at once.
type startLine struct{ ch chan struct{} }

func newStartLine() *startLine { return &startLine{ch: make(chan struct{})} }

func (s *startLine) wait()    { <-s.ch }
func (s *startLine) release() { close(s.ch) }
