package driver

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
)

// Sentinel errors returned by the driver. Errors that come from the database keep the original
// *pgconn.PgError reachable through errors.As, so callers can inspect the SQLSTATE and message.
var (
	// ErrQueueNotFound is returned by every queue-scoped method when the queue is not registered
	// (SQLSTATE PQ001).
	ErrQueueNotFound = errors.New("pgtq: queue not found")

	// ErrInvalidQueueName is returned when a queue name is rejected by the database (SQLSTATE PQ002),
	// e.g. too long or containing forbidden characters.
	ErrInvalidQueueName = errors.New("pgtq: invalid queue name")

	// ErrInvalidArgument is returned when an argument is out of range, either by the driver's own option
	// validation (the message names the field) or by the database (SQLSTATE PQ003).
	ErrInvalidArgument = errors.New("pgtq: invalid argument")

	// ErrInvalidPayload is returned by the enqueue methods when a payload cannot be encoded as JSON or is
	// not a JSON object (SQLSTATE PQ004).
	ErrInvalidPayload = errors.New("pgtq: invalid payload")

	// ErrMessageNotFound is returned by Reschedule when the DLQ message does not exist (SQLSTATE PQ005).
	ErrMessageNotFound = errors.New("pgtq: message not found")

	// ErrSchemaNotMigrated is returned by New when the database has no pgtq schema or no recorded
	// function hash: run pgtq-migrate up first.
	ErrSchemaNotMigrated = errors.New("pgtq: schema not migrated (run pgtq-migrate up)")

	// ErrSchemaMismatch is returned by New when the database holds SQL functions of a different PGTQ
	// version than this binary: migrate the database with this version.
	ErrSchemaMismatch = errors.New("pgtq: database functions differ from this binary (run pgtq-migrate up)")
)

// SQLSTATEs of class PQ raised by the pgtq and pgmq SQL functions (see HACKING.md).
const (
	sqlStateQueueNotFound    = "PQ001"
	sqlStateInvalidQueueName = "PQ002"
	sqlStateInvalidArgument  = "PQ003"
	sqlStateInvalidPayload   = "PQ004"
	sqlStateMessageNotFound  = "PQ005"
	// sqlStateUndefinedTable is PostgreSQL's own "relation does not exist"; pgmq functions raise it for
	// an unknown queue, so it maps to ErrQueueNotFound as well.
	sqlStateUndefinedTable = "42P01"
)

// dbError wraps a *pgconn.PgError together with the sentinel it maps to, so that both errors.Is(err,
// sentinel) and errors.As(err, &pgErr) succeed.
type dbError struct {
	sentinel error
	pgErr    *pgconn.PgError
}

// Error returns the database message with its SQLSTATE.
func (e *dbError) Error() string {
	return fmt.Sprintf("%s (SQLSTATE %s)", e.pgErr.Message, e.pgErr.Code)
}

// Unwrap exposes both the sentinel and the original database error.
func (e *dbError) Unwrap() []error { return []error{e.sentinel, e.pgErr} }

// interpretError is the one place where database errors become driver errors: our PQ SQLSTATEs map to
// the sentinels above, everything else is returned unchanged.
func interpretError(err error) error {
	if err == nil {
		return nil
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	var sentinel error
	switch pgErr.Code {
	case sqlStateQueueNotFound, sqlStateUndefinedTable:
		sentinel = ErrQueueNotFound
	case sqlStateInvalidQueueName:
		sentinel = ErrInvalidQueueName
	case sqlStateInvalidArgument:
		sentinel = ErrInvalidArgument
	case sqlStateInvalidPayload:
		sentinel = ErrInvalidPayload
	case sqlStateMessageNotFound:
		sentinel = ErrMessageNotFound
	default:
		return err
	}
	return &dbError{sentinel: sentinel, pgErr: pgErr}
}

// invalidArgf returns an ErrInvalidArgument whose message names the offending field.
func invalidArgf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidArgument, fmt.Sprintf(format, args...))
}
