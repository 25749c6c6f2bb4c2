package driver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

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
	// not a JSON object (SQLSTATE PQ004), or when the database cannot store it (SQLSTATE 22P05, untranslatable
	// character: e.g. a \u0000 escape in a JSON string, which jsonb rejects).
	ErrInvalidPayload = errors.New("pgtq: invalid payload")

	// ErrMessageNotFound is returned by Reschedule when the DLQ message does not exist (SQLSTATE PQ005).
	ErrMessageNotFound = errors.New("pgtq: message not found")

	// ErrSchemaNotMigrated is returned by New when the database has no pgtq schema or no recorded
	// function hash: run pgtq-migrate up first.
	ErrSchemaNotMigrated = errors.New("pgtq: schema not migrated (run pgtq-migrate up)")

	// ErrSchemaMismatch is returned by New when the database holds SQL functions of a different PGTQ
	// version than this binary: migrate the database with this version.
	ErrSchemaMismatch = errors.New("pgtq: database schema outside this binary's compatibility window")
)

// SQLSTATEs of class PQ raised by the pgtq and pgmq SQL functions (PQ001 queue not found, PQ002 invalid queue
// name, PQ003 invalid argument, PQ004 invalid payload, PQ005 message not found, PQ006 the pgmq extension).
const (
	sqlStateQueueNotFound    = "PQ001"
	sqlStateInvalidQueueName = "PQ002"
	sqlStateInvalidArgument  = "PQ003"
	sqlStateInvalidPayload   = "PQ004"
	sqlStateMessageNotFound  = "PQ005"
	// sqlStateUndefinedTable is PostgreSQL's own "relation does not exist"; pgmq functions raise it for
	// an unknown queue, so it maps to ErrQueueNotFound as well.
	sqlStateUndefinedTable = "42P01"
	// sqlStateUntranslatableCharacter is PostgreSQL's 22P05, raised for a payload or header that jsonb
	// cannot hold (\u0000 in a string, or a character the server encoding lacks): ErrInvalidPayload.
	sqlStateUntranslatableCharacter = "22P05"
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
	case sqlStateInvalidPayload, sqlStateUntranslatableCharacter:
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

// IsTransient reports whether err, returned by a Client method, may go away when the same call is made
// again: the connection was lost or could not be made (SQLSTATE class 08, network errors, EOF, a connection
// closed under the call, pgconn.SafeToRetry), the server is shutting down, crashed or starting (57P01,
// 57P02, 57P03), or the transaction lost a race (40001 serialization failure, 40P01 deadlock). A lost
// connection leaves the outcome of a write unknown: it may have committed. The caller's own ctx ending
// and every other error (our PQ codes included) are not transient.
func IsTransient(err error) bool {
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) {
		return true // also a connect_timeout, which is not the caller's deadline
	}
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		code := pgErr.Code
		return strings.HasPrefix(code, "08") || code == "57P01" || code == "57P02" || code == "57P03" ||
			code == "40001" || code == "40P01"
	}
	var netErr net.Error
	return pgconn.SafeToRetry(err) || errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) ||
		// pgconn's error for a connection that died under an earlier call is not exported.
		strings.Contains(err.Error(), "conn closed")
}
