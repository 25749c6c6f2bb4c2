// Package migrate installs and upgrades PGTQ's schemas (pgmq and pgtq) in a PostgreSQL database.
//
// It runs the numbered goose migrations embedded in github.com/pgtq/pgtq/sql, holding a Postgres session
// advisory lock so that two migrators cannot race, and then re-applies every function file (CREATE OR REPLACE)
// and records their hash and schema version in pgtq.schema_functions, so that a binary can tell whether the
// database holds the function bodies it was built with. Running Up twice changes nothing the second time.
//
// # Schema versions
//
// A schema version "S.P" (sql.Version) names what a binary installs: S is its newest migration, P its function
// patch number (sql.FunctionsPatch). Up records S, P, sql.CompatibleSince and the hash when it applies the
// functions, and refuses (ErrSchemaNewer, changing nothing) a database whose recorded version is newer than the
// binary's, so that an old binary cannot replace newer function bodies with older ones. The same S.P with a
// different hash (a development build) is re-applied with a warning on the Logger.
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
	"strings"
	"time"

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
	pool         *pgxpool.Pool
	db           *sql.DB
	provider     *goose.Provider
	logger       *slog.Logger
	versionTable string
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
	// Version is the database's current migration version (0 when nothing is applied, including a database
	// without goose's version table).
	Version int64
	// LatestVersion is the newest migration this binary knows.
	LatestVersion int64
	// FunctionsHash is the hash recorded in the database ("" when none).
	FunctionsHash string
	// ExpectedFunctionsHash is the hash of this binary's function files.
	ExpectedFunctionsHash string
	// Recorded is what the database records about its function files; nil when they were never applied.
	Recorded *Recorded
	// BinaryVersion is this binary's schema version (sql.CurrentVersion).
	BinaryVersion pgtqsql.Version
}

// Migrated reports whether any migration is applied.
func (s *Status) Migrated() bool {
	return s.Version > 0
}

// UpToDate reports whether the database holds every migration and the function bodies of this binary.
func (s *Status) UpToDate() bool {
	return s.Version == s.LatestVersion && s.FunctionsHash == s.ExpectedFunctionsHash
}

// Newer reports whether the database holds a newer schema than this binary: a migration it does not know, or
// functions recorded with a newer version. Up refuses such a database.
func (s *Status) Newer() bool {
	return s.Version > s.LatestVersion || (s.Recorded != nil && s.Recorded.Versioned &&
		s.Recorded.Version.Compare(s.BinaryVersion) > 0)
}

// Recorded is the row of pgtq.schema_functions: which function files the database holds.
type Recorded struct {
	// Version is the schema version of the binary that applied the functions. Zero when Versioned is false.
	Version pgtqsql.Version
	// CompatibleSince is the oldest migration number whose clients work with these functions (sql.CompatibleSince
	// of the binary that applied them). Zero when Versioned is false.
	CompatibleSince int64
	// Versioned is false for a row written before schema versions were recorded (migration 6).
	Versioned bool
	// Hash is the SHA-256 of the applied function and statement files (sql.FunctionsHash).
	Hash string
	// AppliedAt is when they were applied.
	AppliedAt time.Time
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
	return &Migrator{pool: pool, db: db, provider: provider, logger: o.Logger, versionTable: o.VersionTable}, nil
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
// holds a different function hash. It returns ErrSchemaNewer, and changes nothing, when the database holds a
// newer schema than this binary.
func (m *Migrator) Up(ctx context.Context) (*Result, error) {
	if err := m.refuseNewer(ctx); err != nil {
		return &Result{}, err
	}
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

// Version returns the database's current migration version: 0 when nothing is applied, including when goose's
// version table does not exist (Version does not create it).
func (m *Migrator) Version(ctx context.Context) (int64, error) {
	exists, err := m.versionTableExists(ctx)
	if err != nil || !exists {
		return 0, err
	}
	v, err := m.provider.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate version: %w", err)
	}
	return v, nil
}

// Status returns the state of every migration and of the function files. It changes nothing: on a database
// without goose's version table every migration is pending and Version is 0. It needs only read access: a
// member of pgtq_admin may call it.
func (m *Migrator) Status(ctx context.Context) (*Status, error) {
	res := &Status{
		LatestVersion:         m.LatestVersion(),
		ExpectedFunctionsHash: pgtqsql.FunctionsHash(),
		BinaryVersion:         pgtqsql.CurrentVersion(),
	}
	exists, err := m.versionTableExists(ctx)
	if err != nil {
		return nil, err
	}
	if !exists {
		for _, src := range m.provider.ListSources() {
			res.Migrations = append(res.Migrations, &goose.MigrationStatus{Source: src, State: goose.StatePending})
		}
		return res, nil
	}
	if res.Migrations, err = m.provider.Status(ctx); err != nil {
		return nil, fmt.Errorf("migrate status: %w", err)
	}
	if res.Version, err = m.Version(ctx); err != nil {
		return nil, err
	}
	if res.Recorded, err = ReadRecorded(ctx, m.pool); err != nil {
		return nil, err
	}
	if res.Recorded != nil {
		res.FunctionsHash = res.Recorded.Hash
	}
	return res, nil
}

// versionTableExists reports whether goose's version table exists.
func (m *Migrator) versionTableExists(ctx context.Context) (bool, error) {
	var exists bool
	if err := m.pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", m.versionTable).Scan(&exists); err != nil {
		return false, fmt.Errorf("migrate: look up %s: %w", m.versionTable, err)
	}
	return exists, nil
}

// refuseNewer returns ErrSchemaNewer when the database holds a migration this binary does not know or functions
// recorded with a newer schema version. applyFunctions checks the recorded version again under its lock.
func (m *Migrator) refuseNewer(ctx context.Context) error {
	v, err := m.Version(ctx)
	if err != nil {
		return err
	}
	rec, err := ReadRecorded(ctx, m.pool)
	if err != nil {
		return err
	}
	if err := newerError(rec); err != nil {
		return err
	}
	if latest := m.LatestVersion(); v > latest {
		return fmt.Errorf("migrate up: %w: database at migration %d, binary schema %s knows migrations up to %d: "+
			"upgrade pgtq-migrate (nothing was changed)", ErrSchemaNewer, v, pgtqsql.CurrentVersion(), latest)
	}
	return nil
}

// newerError returns ErrSchemaNewer, naming both versions, when rec records a newer version than this binary's.
func newerError(rec *Recorded) error {
	bin := pgtqsql.CurrentVersion()
	if rec == nil || !rec.Versioned || rec.Version.Compare(bin) <= 0 {
		return nil
	}
	return fmt.Errorf("migrate up: %w: database schema %s, binary schema %s: "+
		"upgrade pgtq-migrate (nothing was changed)", ErrSchemaNewer, rec.Version, bin)
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

// applyFunctions loads the statement templates and runs every function file in one transaction, then records
// the hash and schema version. It does nothing when the database records this binary's version and hash, and
// refuses (ErrSchemaNewer) a newer recorded version. An advisory transaction lock makes concurrent migrators
// apply them once.
func (m *Migrator) applyFunctions(ctx context.Context) (bool, error) {
	want := pgtqsql.FunctionsHash()
	bin := pgtqsql.CurrentVersion()
	applied := false
	err := pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", functionsLockKey); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		rec, err := ReadRecorded(ctx, tx)
		if err != nil {
			return err
		}
		if err := newerError(rec); err != nil {
			return err
		}
		if rec != nil && rec.Versioned && rec.Version == bin {
			if rec.Hash == want {
				return nil
			}
			// Released versions never share a number (TestFunctionsHashIsRecorded): this is a development build.
			m.logger.Warn("re-applying function files of the same schema version with a different hash; "+
				"bump sql.FunctionsPatch before releasing changed SQL",
				slog.String("version", bin.String()), slog.String("database_hash", short(rec.Hash)),
				slog.String("binary_hash", short(want)))
		}
		if err := loadStatementTemplates(ctx, tx); err != nil {
			return err
		}
		for _, f := range pgtqsql.FunctionFiles() {
			// Simple protocol: a file may hold several statements (a function and its overloads).
			if _, err := tx.Conn().PgConn().Exec(ctx, f.Body).ReadAll(); err != nil {
				return fmt.Errorf("apply %s: %w", f.Name, err)
			}
		}
		_, err = tx.Exec(ctx, `INSERT INTO pgtq.schema_functions (singleton, hash, migration, patch, compatible_since, applied_at)
			VALUES (true, $1, $2, $3, $4, now())
			ON CONFLICT (singleton) DO UPDATE SET hash = EXCLUDED.hash, migration = EXCLUDED.migration,
				patch = EXCLUDED.patch, compatible_since = EXCLUDED.compatible_since, applied_at = EXCLUDED.applied_at`,
			want, bin.Migration, bin.Patch, pgtqsql.CompatibleSince)
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
		m.logger.Info("applied function files", slog.String("version", bin.String()), slog.String("hash", short(want)))
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

// loadStatementTemplates replaces the content of pgtq.statement_templates with the embedded templates
// (sql.StatementFiles), when that table exists, so that the function files that follow can install them.
func loadStatementTemplates(ctx context.Context, tx pgx.Tx) error {
	var exists bool
	if err := tx.QueryRow(ctx, "SELECT to_regclass('pgtq.statement_templates') IS NOT NULL").Scan(&exists); err != nil {
		return fmt.Errorf("look up pgtq.statement_templates: %w", err)
	}
	if !exists {
		return nil
	}
	files := pgtqsql.StatementFiles()
	names, bodies := make([]string, len(files)), make([]string, len(files))
	for i, f := range files {
		names[i], bodies[i] = strings.TrimSuffix(f.Name, ".sql"), f.Body
	}
	if _, err := tx.Exec(ctx, "DELETE FROM pgtq.statement_templates"); err != nil {
		return fmt.Errorf("clear statement templates: %w", err)
	}
	_, err := tx.Exec(ctx, `INSERT INTO pgtq.statement_templates (stmt, body)
		SELECT * FROM unnest($1::text[], $2::text[])`, names, bodies)
	if err != nil {
		return fmt.Errorf("load statement templates: %w", err)
	}
	return nil
}

// Querier is what ReadRecorded needs: *pgxpool.Pool, pgx.Tx and *pgx.Conn satisfy it.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// ReadRecorded returns the row of pgtq.schema_functions, or nil when the table or the row does not exist.
// It reads any version of the table (before and after migration 6), so it needs SELECT on it (pgtq_admin has it).
func ReadRecorded(ctx context.Context, q Querier) (*Recorded, error) {
	var exists bool
	if err := q.QueryRow(ctx, "SELECT to_regclass('pgtq.schema_functions') IS NOT NULL").Scan(&exists); err != nil {
		return nil, fmt.Errorf("migrate: look up pgtq.schema_functions: %w", err)
	}
	if !exists {
		return nil, nil
	}
	// to_jsonb of the whole row: columns added by later migrations are simply absent in older databases.
	var row struct {
		Hash            string    `json:"hash"`
		AppliedAt       time.Time `json:"applied_at"`
		Migration       *int64    `json:"migration"`
		Patch           *int64    `json:"patch"`
		CompatibleSince *int64    `json:"compatible_since"`
	}
	err := q.QueryRow(ctx, "SELECT to_jsonb(s) FROM pgtq.schema_functions AS s").Scan(&row)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("migrate: read pgtq.schema_functions: %w", err)
	}
	rec := &Recorded{Hash: row.Hash, AppliedAt: row.AppliedAt}
	if row.Migration != nil && row.Patch != nil {
		rec.Versioned = true
		rec.Version = pgtqsql.Version{Migration: *row.Migration, Patch: *row.Patch}
		if row.CompatibleSince != nil {
			rec.CompatibleSince = *row.CompatibleSince
		}
	}
	return rec, nil
}

// RecordedFunctionsHash returns the function hash recorded in the database, or "" when there is none.
func RecordedFunctionsHash(ctx context.Context, q Querier) (string, error) {
	rec, err := ReadRecorded(ctx, q)
	if err != nil || rec == nil {
		return "", err
	}
	return rec.Hash, nil
}

// short abbreviates a hash for messages.
func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
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
