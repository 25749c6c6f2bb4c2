// Package pgtest gives Go tests an isolated, migrated PostgreSQL database each.
//
// The server is the one named by PGTQ_DATABASE_URL, or else a throwaway cluster that Main starts for the test
// binary. Once per server and schema version, a template database is created and migrated; every NewDB call
// clones it with CREATE DATABASE ... TEMPLATE (milliseconds) and drops the clone when the test ends. Databases
// do not share NOTIFY channels, so tests that commit, listen or race cannot see each other.
package pgtest

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgtq/pgtq/internal/dbtemplate"
	"github.com/pgtq/pgtq/internal/pgcluster"
)

// URLEnv names the environment variable holding the server's URL (any database on it; the superuser's).
const URLEnv = "PGTQ_DATABASE_URL"

var (
	serverURL    string // set by Main
	templateOnce sync.Once
	templateName string
	templateErr  error
)

// Main runs the tests of a package: func TestMain(m *testing.M) { pgtest.Main(m) }. Without PGTQ_DATABASE_URL
// it starts a throwaway cluster for the package's tests and removes it afterwards.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	serverURL = os.Getenv(URLEnv)
	if serverURL == "" {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cluster, err := pgcluster.Start(ctx, nil)
		cancel()
		if err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
			return 1
		}
		defer cluster.Stop()
		serverURL = cluster.URL("postgres")
		// Subprocesses started by tests (worker binaries) find the server the same way.
		os.Setenv(URLEnv, serverURL)
	}
	return m.Run()
}

// ServerURL returns the URL of the server's maintenance database (for tests that create databases themselves).
func ServerURL(t testing.TB) string {
	t.Helper()
	if serverURL == "" {
		t.Fatal("pgtest: call pgtest.Main from TestMain")
	}
	return serverURL
}

// NewDB returns a pool on a fresh migrated database that is dropped when the test ends.
func NewDB(t testing.TB) *pgxpool.Pool {
	t.Helper()
	dbURL := NewDBURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	// Registered after NewDBURL's cleanup, so it runs before the database is dropped.
	t.Cleanup(pool.Close)
	return pool
}

// NewDBURL creates a fresh migrated database and returns its URL; the database is dropped when the test ends
// (connections still open then are terminated).
func NewDBURL(t testing.TB) string {
	t.Helper()
	tmpl, err := template()
	if err != nil {
		t.Fatalf("pgtest: template database: %v", err)
	}
	return newDatabase(t, tmpl)
}

// NewEmptyDBURL creates an empty, unmigrated database and returns its URL; it is dropped when the test ends.
func NewEmptyDBURL(t testing.TB) string {
	t.Helper()
	if serverURL == "" {
		t.Fatal("pgtest: call pgtest.Main from TestMain")
	}
	return newDatabase(t, "template0")
}

func newDatabase(t testing.TB, tmpl string) string {
	t.Helper()
	name := "pgtq_test_" + randomSuffix()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := adminExec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", pgx.Identifier{name}.Sanitize(),
		pgx.Identifier{tmpl}.Sanitize())); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := adminExec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return WithDatabase(serverURL, name)
}

// template returns the name of the migrated template database, creating it once per server and schema hash.
func template() (string, error) {
	templateOnce.Do(func() {
		templateName, templateErr = ensureTemplate()
	})
	return templateName, templateErr
}

func ensureTemplate() (string, error) {
	if serverURL == "" {
		return "", fmt.Errorf("call pgtest.Main from TestMain")
	}
	name, err := dbtemplate.Ensure(context.Background(), serverURL, "pgtq_template_")
	if err != nil {
		return "", fmt.Errorf("%s: %w", URLEnv, err)
	}
	return name, nil
}

func adminExec(ctx context.Context, sql string) error {
	return dbtemplate.Exec(ctx, serverURL, sql)
}

// WithDatabase returns the URL base with its database name replaced by db.
func WithDatabase(base, db string) string { return dbtemplate.WithDatabase(base, db) }

func randomSuffix() string { return dbtemplate.RandomSuffix() }
