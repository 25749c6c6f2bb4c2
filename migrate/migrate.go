// Package migrate installs and upgrades PGTQ's schemas (pgmq and pgtq) in a PostgreSQL database.
//
// It runs the numbered goose migrations embedded in github.com/pgtq/pgtq/sql, holding a Postgres session
// advisory lock so that two migrators cannot race, and then re-applies every function file (CREATE OR REPLACE)
// and records their hash in pgtq.schema_functions, so that a binary can tell whether the database holds the
// function bodies it was built with. Running Up twice changes nothing the second time.
//
// Applications can migrate at start-up:
//
//	if err := migrate.Up(ctx, pool); err != nil { ... }
package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	pgtqsql "github.com/pgtq/pgtq/sql"
)

// VersionTableDefault is the table in which goose records the applied migrations.
const VersionTableDefault = "public.pgtq_migrations"

// functionsLockKey serialises function re-application across migrators (pg_advisory_xact_lock key).
const functionsLockKey = "pgtq.migrate.functions"

// Options configures a Migrator. A nil *Options means all defaults.
type Options struct {
	// VersionTable is the goose version table. Defaults to VersionTableDefault.
	VersionTable string
	// Logger receives one line per applied migration. Defaults to a logger that discards everything.
	Logger *slog.Logger
}

// Migrator applies PGTQ's migrations and functions to one database.
type Migrator struct {
	pool     *pgxpool.Pool
	db       *sql.DB
	provider *goose.Provider
	logger   *slog.Logger
}

// Result reports what a Migrator call changed.
type Result struct {
	// Migrations lists the goose migrations applied (Up) or rolled back (Down), in order.
	Migrations []*goose.MigrationResult
	// FunctionsApplied is true when the function files were (re-)applied; false when the database already held
	// them (same hash) or the database is not at the latest migration.
	FunctionsApplied bool
	// Version is the schema version after the call.
	Version int64
}

// Status describes the database's schema state.
type Status struct {
	// Migrations is goose's status of every known migration.
	Migrations []*goose.MigrationStatus
	// Version is the database's current migration version (0 when nothing is applied).
	Version int64
	// LatestVersion is the newest migration this binary knows.
	LatestVersion int64
	// FunctionsHash is the hash recorded in the database ("" when none).
	FunctionsHash string
	// ExpectedFunctionsHash is the hash of this binary's function files.
	ExpectedFunctionsHash string
}

// UpToDate reports whether the database holds every migration and the function bodies of this binary.
func (s *Status) UpToDate() bool {
	return s.Version == s.LatestVersion && s.FunctionsHash == s.ExpectedFunctionsHash
}

// Up applies all pending migrations and the function files to the database behind pool.
func Up(ctx context.Context, pool *pgxpool.Pool) error {
	m, err := New(pool, nil)
	if err != nil {
		return err
	}
	defer m.Close()
	_, err = m.Up(ctx)
	return err
}

// New returns a Migrator for the database behind pool. Close releases its database/sql handle (not the pool).
func New(pool *pgxpool.Pool, opts *Options) (*Migrator, error) {
	if pool == nil {
		return nil, errors.New("migrate: pool is nil")
	}
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.VersionTable == "" {
		o.VersionTable = VersionTableDefault
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	migrations, err := fs.Sub(pgtqsql.Migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("migrate: embedded migrations: %w", err)
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, fmt.Errorf("migrate: session locker: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	provider, err := goose.NewProvider(goose.DialectPostgres, db, migrations,
		goose.WithTableName(o.VersionTable),
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
		goose.WithSlog(o.Logger),
	)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate: goose provider: %w", err)
	}
	return &Migrator{pool: pool, db: db, provider: provider, logger: o.Logger}, nil
}

// Close releases the Migrator's database/sql handle. The pool stays open.
func (m *Migrator) Close() error {
	return m.db.Close()
}

// LatestVersion returns the newest migration version embedded in this binary.
func (m *Migrator) LatestVersion() int64 {
	sources := m.provider.ListSources()
	if len(sources) == 0 {
		return 0
	}
	return sources[len(sources)-1].Version
}

// Up applies every pending migration, then the function files when the database is at the latest version and
// holds a different function hash.
func (m *Migrator) Up(ctx context.Context) (*Result, error) {
	applied, err := m.provider.Up(ctx)
	res := &Result{Migrations: applied}
	if err != nil {
		var partial *goose.PartialError
		if errors.As(err, &partial) {
			res.Migrations = partial.Applied
		}
		return res, interpret(fmt.Errorf("migrate up: %w", err))
	}
	return m.finish(ctx, res)
}

// Down rolls back the most recent migration.
func (m *Migrator) Down(ctx context.Context) (*Result, error) {
	r, err := m.provider.Down(ctx)
	res := &Result{}
	if r != nil {
		res.Migrations = append(res.Migrations, r)
	}
	if err != nil {
		return res, interpret(fmt.Errorf("migrate down: %w", err))
	}
	// Below the latest version the function files may reference objects that are gone; forget the recorded
	// hash so that the next Up applies them again.
	if err := m.forgetFunctions(ctx); err != nil {
		return res, err
	}
	return m.finish(ctx, res)
}

// Redo rolls back the most recent migration and applies it again, then re-applies the functions.
func (m *Migrator) Redo(ctx context.Context) (*Result, error) {
	res, err := m.Down(ctx)
	if err != nil {
		return res, err
	}
	r, err := m.provider.UpByOne(ctx)
	if r != nil {
		res.Migrations = append(res.Migrations, r)
	}
	if err != nil {
		return res, interpret(fmt.Errorf("migrate redo: %w", err))
	}
	return m.finish(ctx, res)
}

// Version returns the database's current migration version.
func (m *Migrator) Version(ctx context.Context) (int64, error) {
	v, err := m.provider.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate version: %w", err)
	}
	return v, nil
}

// Status returns the state of every migration and of the function files.
func (m *Migrator) Status(ctx context.Context) (*Status, error) {
	st, err := m.provider.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate status: %w", err)
	}
	v, err := m.Version(ctx)
	if err != nil {
		return nil, err
	}
	hash, err := RecordedFunctionsHash(ctx, m.pool)
	if err != nil {
		return nil, err
	}
	return &Status{
		Migrations:            st,
		Version:               v,
		LatestVersion:         m.LatestVersion(),
		FunctionsHash:         hash,
		ExpectedFunctionsHash: pgtqsql.FunctionsHash(),
	}, nil
}

// finish applies the function files when the database is at the latest version, and fills in res.Version.
func (m *Migrator) finish(ctx context.Context, res *Result) (*Result, error) {
	v, err := m.Version(ctx)
	if err != nil {
		return res, err
	}
	res.Version = v
	if v != m.LatestVersion() {
		return res, nil
	}
	applied, err := m.applyFunctions(ctx)
	res.FunctionsApplied = applied
	return res, err
}

// applyFunctions runs every function file in one transaction, unless the recorded hash already matches.
// An advisory transaction lock makes concurrent migrators apply them once.
func (m *Migrator) applyFunctions(ctx context.Context) (bool, error) {
	want := pgtqsql.FunctionsHash()
	applied := false
	err := pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", functionsLockKey); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		var have string
		err := tx.QueryRow(ctx, "SELECT hash FROM pgtq.schema_functions").Scan(&have)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("read recorded hash: %w", err)
		}
		if have == want {
			return nil
		}
		for _, f := range pgtqsql.FunctionFiles() {
			// Simple protocol: a file may hold several statements (a function and its overloads).
			if _, err := tx.Conn().PgConn().Exec(ctx, f.Body).ReadAll(); err != nil {
				return fmt.Errorf("apply %s: %w", f.Name, err)
			}
		}
		_, err = tx.Exec(ctx, `INSERT INTO pgtq.schema_functions (singleton, hash, applied_at)
			VALUES (true, $1, now())
			ON CONFLICT (singleton) DO UPDATE SET hash = EXCLUDED.hash, applied_at = EXCLUDED.applied_at`, want)
		if err != nil {
			return fmt.Errorf("record hash: %w", err)
		}
		applied = true
		return nil
	})
	if err != nil {
		return false, interpret(fmt.Errorf("migrate functions: %w", err))
	}
	if applied {
		m.logger.Info("applied function files", slog.String("hash", want))
	}
	return applied, nil
}

// forgetFunctions deletes the recorded function hash, if the table still exists.
func (m *Migrator) forgetFunctions(ctx context.Context) error {
	_, err := m.pool.Exec(ctx, `DO $$
		BEGIN
			IF to_regclass('pgtq.schema_functions') IS NOT NULL THEN
				DELETE FROM pgtq.schema_functions;
			END IF;
		END $$`)
	if err != nil {
		return fmt.Errorf("migrate: forget function hash: %w", err)
	}
	return nil
}

// RecordedFunctionsHash returns the function hash recorded in the database, or "" when there is none.
func RecordedFunctionsHash(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}) (string, error) {
	var hash *string
	err := q.QueryRow(ctx, `SELECT CASE WHEN to_regclass('pgtq.schema_functions') IS NULL THEN NULL
		ELSE (SELECT hash FROM pgtq.schema_functions) END`).Scan(&hash)
	if err != nil {
		return "", fmt.Errorf("migrate: read function hash: %w", err)
	}
	if hash == nil {
		return "", nil
	}
	return *hash, nil
}

// interpret maps the SQLSTATEs this package's callers branch on to sentinels, keeping the original error
// reachable through errors.As.
func interpret(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "PQ006" {
		return fmt.Errorf("%w: %w", ErrPgmqExtension, err)
	}
	return err
}
