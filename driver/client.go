// Package driver is PGTQ's Go client: the only Go code that writes SQL. Every method calls one function of
// the pgtq SQL schema (see DESIGN.md section 2), so Go producers, workers, psql sessions and database triggers
// all get the same guarantees.
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
// (ErrSchemaNotMigrated otherwise) and that its SQL functions are the ones this binary was built with, by
// comparing the hash recorded in pgtq.schema_functions with sql.FunctionsHash() (ErrSchemaMismatch otherwise).
func New(ctx context.Context, pool *pgxpool.Pool) (*Client, error) {
	if pool == nil {
		return nil, invalidArgf("pool is nil")
	}
	if err := checkSchema(ctx, pool); err != nil {
		return nil, err
	}
	return &Client{pool: pool}, nil
}

// checkSchema verifies that the database holds this binary's version of the pgtq functions.
func checkSchema(ctx context.Context, q Querier) error {
	// to_regclass keeps the probe free of errors when nothing is installed.
	var installed bool
	err := q.QueryRow(ctx, `SELECT to_regclass('pgtq.schema_functions') IS NOT NULL`).Scan(&installed)
	if err != nil {
		return fmt.Errorf("check pgtq schema: %w", interpretError(err))
	}
	if !installed {
		return ErrSchemaNotMigrated
	}
	var hash string
	err = q.QueryRow(ctx, `SELECT hash FROM pgtq.schema_functions`).Scan(&hash)
	if errNoRows(err) || (err == nil && hash == "") {
		// The migrations ran but the functions were never applied.
		return ErrSchemaNotMigrated
	}
	if err != nil {
		return fmt.Errorf("check pgtq schema: %w", interpretError(err))
	}
	if want := sqlfs.FunctionsHash(); hash != want {
		return fmt.Errorf("%w: database has functions %s, binary has %s", ErrSchemaMismatch, short(hash), short(want))
	}
	return nil
}

// short abbreviates a hash for error messages.
func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
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
// "pgmq.q_<lower(queue)>.INSERT". Quote it when listening (pgx.Identifier{ch}.Sanitize()).
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
