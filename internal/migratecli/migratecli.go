// Package migratecli is the command line of the migrator, shared by pgtq-migrate and `pgtq migrate`:
//
//	[flags] up|down|redo|status|version [flags]
//
// Flags may come before or after the command. The connection comes from --database-url, else DATABASE_URL,
// else the standard PG* environment variables (PGHOST, PGPORT, PGUSER, PGDATABASE, PGSERVICE, ...); with none
// of them the command refuses to guess. Every command first prints its target on standard error: host, port,
// database and user (never the password).
//
// Exit codes (ExitCode): 0 success (status also exits 0 on a database that is not migrated, and says so), 1
// the database failed (unreachable, a migration failed, or up refused a database that holds a newer schema
// than this binary), 2 bad usage, a malformed URL or no database given.
package migratecli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgtq/pgtq/migrate"
	pgtqsql "github.com/pgtq/pgtq/sql"
)

// TargetEnv lists the environment variables that name a connection target for libpq and pgx; without one of
// them (or a URL) the connection would silently go to the defaults (local socket, database = OS user).
var TargetEnv = []string{"PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE"}

// UsageError marks errors that exit with code 2.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// ExitCode returns the exit code for an error returned by Run: 0 for nil and for a help request, 2 for bad
// usage (UsageError), 1 for anything else.
func ExitCode(err error) int {
	var ue UsageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		return 2
	default:
		return 1
	}
}

// AnySet reports whether one of names is set to a non-empty value.
func AnySet(names []string) bool {
	for _, n := range names {
		if os.Getenv(n) != "" {
			return true
		}
	}
	return false
}

// Run runs one migrator command with its flags (args: what follows the program name, or "migrate" for the
// pgtq CLI). name is the program name used in messages (e.g. "pgtq-migrate" or "pgtq migrate"). A nil error
// is success; ExitCode maps any other to the process's exit code.
func Run(ctx context.Context, name string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	databaseURL := fs.String("database-url", "", "PostgreSQL connection URL (default: $DATABASE_URL, else the PG* environment variables; one is required)")
	timeout := fs.Duration("connect-timeout", 10*time.Second, "how long to wait for the server")
	verbose := fs.Bool("v", false, "log each migration")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s [flags] up|down|redo|status|version [flags]\n", name)
		fmt.Fprintln(stderr, "  up       apply pending migrations and the function files (idempotent); refuses a database")
		fmt.Fprintln(stderr, "           whose schema is newer than this binary's, changing nothing")
		fmt.Fprintln(stderr, "  down     roll back the most recent migration")
		fmt.Fprintln(stderr, "  redo     roll back the most recent migration and apply it again")
		fmt.Fprintln(stderr, "  status   list migrations and the schema versions of the database and this binary")
		fmt.Fprintln(stderr, "  version  print the current migration version (0 when not migrated)")
		fmt.Fprintln(stderr, "The database comes from --database-url, else $DATABASE_URL, else the PG* variables")
		fmt.Fprintf(stderr, "(PGHOST, PGPORT, PGDATABASE, PGUSER, PGSERVICE, ...); without any of them %s refuses.\n", name)
		fmt.Fprintln(stderr, "Every command first prints its target (host, port, database, user) on standard error.")
		fmt.Fprintln(stderr, "Exit codes: 0 success (status: also when the database is not migrated),")
		fmt.Fprintln(stderr, "1 database error or refused upgrade, 2 bad usage or no database given.")
		fmt.Fprintln(stderr, "Flags (before or after the command):")
		fs.PrintDefaults()
	}
	// Flags may follow the command: parse, take the next positional argument, parse the rest.
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return UsageError{err}
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(positional) != 1 {
		fs.Usage()
		return UsageError{errors.New("expected exactly one command: up, down, redo, status or version")}
	}
	command := positional[0]
	switch command {
	case "up", "down", "redo", "status", "version":
	default:
		fs.Usage()
		return UsageError{fmt.Errorf("unknown command %q", command)}
	}

	url := *databaseURL
	if url == "" {
		url = os.Getenv("DATABASE_URL")
	}
	if url == "" && !AnySet(TargetEnv) {
		return UsageError{fmt.Errorf("no database given: pass --database-url URL, or set DATABASE_URL or the PG* "+
			"variables (%s)", strings.Join(TargetEnv, ", "))}
	}
	// An empty string makes pgx read the PG* environment variables.
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return UsageError{fmt.Errorf("invalid database URL: %w", err)}
	}
	cc := cfg.ConnConfig
	fmt.Fprintf(stderr, "%s: %s: host=%s port=%d database=%s user=%s\n", name, command, cc.Host, cc.Port, cc.Database, cc.User)
	cfg.MaxConns = 2
	connectCtx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(connectCtx, cfg)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer pool.Close()
	if err := pool.Ping(connectCtx); err != nil {
		return fmt.Errorf("connect to %s:%d/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, err)
	}

	// Warnings (e.g. functions re-applied at an unchanged version) always; each migration with -v.
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	m, err := migrate.New(pool, &migrate.Options{Logger: logger})
	if err != nil {
		return err
	}
	defer m.Close()

	switch command {
	case "up", "down", "redo":
		var res *migrate.Result
		switch command {
		case "up":
			res, err = m.Up(ctx)
		case "down":
			res, err = m.Down(ctx)
		default:
			res, err = m.Redo(ctx)
		}
		if err != nil {
			// Report what did get applied before the failure; goose runs each migration in its own transaction.
			if res != nil {
				for _, r := range res.Migrations {
					if r.Error == nil {
						fmt.Fprintf(stdout, "%-4s %s (applied before the failure)\n", r.Direction, r.Source.Path)
					}
				}
			}
			return err
		}
		printResult(stdout, command, res)
		return nil
	case "version":
		v, err := m.Version(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, v)
		return nil
	default:
		st, err := m.Status(ctx)
		if err != nil {
			return err
		}
		printStatus(stdout, st)
		return nil
	}
}

func printResult(w io.Writer, command string, res *migrate.Result) {
	for _, r := range res.Migrations {
		if r.Error != nil {
			fmt.Fprintf(w, "FAILED %s %s: %v\n", r.Direction, r.Source.Path, r.Error)
			continue
		}
		fmt.Fprintf(w, "%-4s %s (%s)\n", r.Direction, r.Source.Path, r.Duration.Round(time.Millisecond))
	}
	switch {
	case res.FunctionsApplied:
		fmt.Fprintln(w, "functions applied")
	case len(res.Migrations) == 0 && command == "up":
		fmt.Fprintln(w, "no change: schema is up to date")
	}
	fmt.Fprintf(w, "version %d\n", res.Version)
}

func printStatus(w io.Writer, st *migrate.Status) {
	if !st.Migrated() {
		fmt.Fprintf(w, "not migrated: no PGTQ migration is applied; this binary installs schema %s (run up)\n", st.BinaryVersion)
		return
	}
	for _, s := range st.Migrations {
		applied := "pending"
		if s.State == "applied" {
			applied = "applied " + s.AppliedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%-40s %s\n", s.Source.Path, applied)
	}
	fmt.Fprintf(w, "version %d of %d\n", st.Version, st.LatestVersion)
	rec := st.Recorded
	dbVersion := "none"
	if rec != nil && rec.Versioned {
		dbVersion = fmt.Sprintf("%s (serves clients of schema %d and newer)", rec.Version, rec.CompatibleSince)
	} else if rec != nil {
		dbVersion = "unversioned"
	}
	fmt.Fprintf(w, "schema: database %s, this binary %s (serves clients of schema %d and newer)\n",
		dbVersion, st.BinaryVersion, pgtqsql.CompatibleSince)
	switch {
	case st.Newer():
		fmt.Fprintln(w, "functions: the database is newer than this binary (upgrade pgtq-migrate; up would refuse)")
	case st.FunctionsHash == "":
		fmt.Fprintln(w, "functions: not applied (run up)")
	case st.FunctionsHash == st.ExpectedFunctionsHash:
		fmt.Fprintln(w, "functions: up to date")
	default:
		fmt.Fprintf(w, "functions: database holds %.12s, this binary has %.12s (run up)\n", st.FunctionsHash, st.ExpectedFunctionsHash)
	}
}
