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
	return newDriverBundle(t, driverTestTimeout)
}

// newDriverBundle clones a migrated database and opens a Client on it, under a context that ends after timeout.
func newDriverBundle(t *testing.T, timeout time.Duration) *driverBundle {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
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

// enqueue adds one task and returns its msg_id.
func (b *driverBundle) enqueue(t *testing.T, queue string, payload any, opts *driver.EnqueueOptions) int64 {
	t.Helper()
	id, err := b.client.Enqueue(b.ctx, queue, payload, opts)
	require.NoError(t, err)
	return id
}

// count runs a count(*) style query and returns its value.
func (b *driverBundle) count(t *testing.T, sql string, args ...any) int64 {
	t.Helper()
	return tqCount(b.ctx, t, b.pool, sql, args...)
}

// queueRows returns the number of rows in the pgmq table of queue (all tasks, visible or not).
func (b *driverBundle) queueRows(t *testing.T, queue string) int64 {
	t.Helper()
	return b.count(t, `SELECT count(*) FROM `+table("q", queue))
}

// archiveRows returns the number of archived rows of queue.
func (b *driverBundle) archiveRows(t *testing.T, queue string) int64 {
	t.Helper()
	return b.count(t, `SELECT count(*) FROM `+table("a", queue))
}

// table returns the quoted pgmq table name of queue: prefix "q" (live) or "a" (archive).
func table(prefix, queue string) string {
	return pgx.Identifier{"pgmq", prefix + "_" + strings.ToLower(queue)}.Sanitize()
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
