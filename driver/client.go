// Package driver is PGTQ's Go client: the only Go code that writes SQL. Every method calls one function of
// schema pgtq (installed by package migrate), so Go producers, workers, psql sessions and database triggers
// all get the same guarantees. The one exception, CompleteAndRead, calls two (complete, then read) in one
// transaction, so that a worker commits its finished tasks and claims the next ones at once.
//
// A Client wraps a *pgxpool.Pool:
//
//	client, err := driver.New(ctx, pool)           // checks that the schema is migrated and matches
//	err = client.CreateQueue(ctx, "emails", nil)   // queue + emails_dlq
//	id, err := client.Enqueue(ctx, "emails", map[string]any{"to": "a@b.c"}, nil)
//
// Typed queues (NewQueue) encode a Go type as the JSON payload and refuse values whose Validate method fails.
// Every enqueue has a transactional twin (EnqueueTx) that inserts inside the caller's pgx.Tx.
//
// Operators' calls (ListQueues, ListTasks, GetTask, Cancel, RetryNow, Pause, Resume, RescheduleAll, PurgeDLQ,
// SetRetention, Stats, ListDLQ, Reschedule) need a connection whose role is a member of pgtq_admin; producers
// need pgtq_producer, workers pgtq_worker.
//
// Durations are sent to the database in whole seconds, rounded up (a 1.5 s delay waits 2 s), because the
// SQL functions take integer seconds; a positive duration never becomes zero.
package driver

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	sqlfs "github.com/pgtq/pgtq/sql"
)

// Querier is what the driver needs to run SQL. It is satisfied by *pgxpool.Pool, pgx.Tx and *pgx.Conn.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

var (
	_ Querier = (*pgxpool.Pool)(nil)
	_ Querier = (pgx.Tx)(nil)
	_ Querier = (*pgx.Conn)(nil)
)

// Client calls the pgtq SQL functions over a connection pool. It is safe for concurrent use.
type Client struct {
	pool *pgxpool.Pool
}

// New returns a Client for the database behind pool after checking that the pgtq schema is installed
// (ErrSchemaNotMigrated otherwise) and that this binary may use it (ErrSchemaMismatch otherwise): the schema
// version recorded by the migrator, "S.P" (see sql.Version), must be at least this binary's S (any patch), and
// the schema's recorded sql.CompatibleSince at most this binary's S. So binaries of two schema versions can run
// side by side during a rolling deploy, as long as the newer schema still serves the older clients. The check
// calls pgtq.schema_version(), which every pgtq role may execute.
func New(ctx context.Context, pool *pgxpool.Pool) (*Client, error) {
	if pool == nil {
		return nil, invalidArgf("pool is nil")
	}
	if err := checkSchema(ctx, pool); err != nil {
		return nil, err
	}
	return &Client{pool: pool}, nil
}

// checkSchema verifies that the database's schema version lies in this binary's compatibility window.
func checkSchema(ctx context.Context, q Querier) error {
	bin := sqlfs.CurrentVersion()
	// Catalog lookups: free of errors (and of privileges) when nothing is installed.
	var hasSchema, hasVersion bool
	err := q.QueryRow(ctx, `SELECT to_regnamespace('pgtq') IS NOT NULL,
		to_regprocedure('pgtq.schema_version()') IS NOT NULL`).Scan(&hasSchema, &hasVersion)
	if err != nil {
		return fmt.Errorf("check pgtq schema: %w", interpretError(err))
	}
	if !hasSchema {
		return fmt.Errorf("%w: the database has no schema pgtq; this binary needs schema %s", ErrSchemaNotMigrated, bin)
	}
	if !hasVersion {
		// Functions never applied, or applied by a binary older than schema versions.
		return fmt.Errorf("%w: the database has no pgtq.schema_version(); this binary needs schema %s: "+
			"upgrade the database (pgtq-migrate up with this version)", ErrSchemaNotMigrated, bin)
	}
	var migration, compatibleSince, patch *int64
	err = q.QueryRow(ctx, `SELECT migration, patch, compatible_since FROM pgtq.schema_version()`).
		Scan(&migration, &patch, &compatibleSince)
	if errNoRows(err) {
		// The migrations ran (or were rolled back) but the functions are not recorded.
		return fmt.Errorf("%w: no schema version recorded; this binary needs schema %s", ErrSchemaNotMigrated, bin)
	}
	if err != nil {
		return fmt.Errorf("check pgtq schema: %w", interpretError(err))
	}
	if migration == nil || patch == nil || compatibleSince == nil {
		return fmt.Errorf("%w: the database's functions predate schema versions, this binary has schema %s: "+
			"upgrade the database (pgtq-migrate up with this version)", ErrSchemaMismatch, bin)
	}
	have := sqlfs.Version{Migration: *migration, Patch: *patch}
	switch {
	case have.Migration < bin.Migration:
		return fmt.Errorf("%w: the database has schema %s, older than this binary's %s: "+
			"upgrade the database (pgtq-migrate up with this version)", ErrSchemaMismatch, have, bin)
	case *compatibleSince > bin.Migration:
		return fmt.Errorf("%w: the database has schema %s, which serves clients of schema %d.0 or newer, "+
			"this binary has %s: upgrade this binary", ErrSchemaMismatch, have, *compatibleSince, bin)
	}
	return nil
}

// Pool returns the pool the Client was created with.
func (c *Client) Pool() *pgxpool.Pool { return c.pool }

// CreateQueueOptions configures CreateQueue. A nil *CreateQueueOptions means all defaults.
type CreateQueueOptions struct {
	// NoDLQ creates the queue without a dead-letter queue: tasks that fail for good are archived with
	// status failed. Defaults to false (a DLQ named "<name>_dlq" is created).
	NoDLQ bool
	// DLQName names the dead-letter queue. Defaults to "<name>_dlq". Ignored with NoDLQ.
	DLQName string
}

// CreateQueue creates the queue name (and its dead-letter queue, "<name>_dlq" or opts.DLQName, unless
// opts.NoDLQ), registers
// it in pgtq.queues and enables insert notifications. It is idempotent. It calls pgtq.create_queue.
func (c *Client) CreateQueue(ctx context.Context, name string, opts *CreateQueueOptions) error {
	return c.createQueue(ctx, c.pool, name, opts)
}

func (c *Client) createQueue(ctx context.Context, q Querier, name string, opts *CreateQueueOptions) error {
	o := CreateQueueOptions{}
	if opts != nil {
		o = *opts
	}
	var dlqName *string
	if o.DLQName != "" && !o.NoDLQ {
		dlqName = &o.DLQName
	}
	_, err := q.Exec(ctx, `SELECT pgtq.create_queue(queue_name => $1::text, dlq => $2::boolean, dlq_name => $3::text)`,
		name, !o.NoDLQ, dlqName)
	if err != nil {
		return fmt.Errorf("create queue %q: %w", name, interpretError(err))
	}
	return nil
}

// DropQueue drops the queue, its dead-letter queue and its configuration. It reports false when the queue
// did not exist. It calls pgtq.drop_queue.
func (c *Client) DropQueue(ctx context.Context, name string) (bool, error) {
	var dropped bool
	err := c.pool.QueryRow(ctx, `SELECT pgtq.drop_queue(queue_name => $1::text)`, name).Scan(&dropped)
	if err != nil {
		return false, fmt.Errorf("drop queue %q: %w", name, interpretError(err))
	}
	return dropped, nil
}

// NotifyChannel returns the LISTEN/NOTIFY channel on which the database announces new tasks of queue:
// "pgmq.<queue table>.INSERT", the queue table being "q_" + the queue name lower-cased by the database's own
// lower() (the rule of pgmq.format_table_name, which pgtq roles may not call), so that it matches the
// channel the insert trigger notifies whatever the characters. Quote it when listening
// (pgx.Identifier{ch}.Sanitize()).
func (c *Client) NotifyChannel(ctx context.Context, queue string) (string, error) {
	var ch string
	if err := c.pool.QueryRow(ctx, `SELECT 'pgmq.' || lower('q_' || $1::text) || '.INSERT'`, queue).Scan(&ch); err != nil {
		return "", fmt.Errorf("notify channel of %q: %w", queue, interpretError(err))
	}
	return ch, nil
}

// NotifyChannel returns "pgmq.q_<lower(queue)>.INSERT" lower-cased by Go's rules.
//
// Deprecated: Go's lower-casing differs from the database's for some characters; use
// (*Client).NotifyChannel, which asks the database.
func NotifyChannel(queue string) string {
	return "pgmq.q_" + strings.ToLower(queue) + ".INSERT"
}

// seconds converts d to whole seconds for the SQL functions, rounding up so that a positive duration never
// becomes zero. Callers check the range with secondsArg.
func seconds(d time.Duration) int {
	s := d / time.Second
	if d%time.Second != 0 {
		s++
	}
	return int(s)
}

// secondsArg checks that d lies in [lo, MaxInt32 seconds] (the SQL functions take integer seconds) and
// converts it with seconds. name is the field or argument named in the error.
func secondsArg(name string, d, lo time.Duration) (int, error) {
	if d < lo {
		return 0, invalidArgf("%s must be >= %s, got %s", name, lo, d)
	}
	if s := seconds(d); s <= math.MaxInt32 {
		return s, nil
	}
	return 0, invalidArgf("%s must be at most %d seconds, got %s", name, math.MaxInt32, d)
}

// errNoRows reports whether err is pgx.ErrNoRows.
func errNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
