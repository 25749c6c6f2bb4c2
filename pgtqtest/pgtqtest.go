// Package pgtqtest helps test code that uses PGTQ: a fresh migrated database per test, assertions on the tasks
// a piece of code enqueued, Drain to run a worker until its queues are empty, and (in package worker)
// worker.ContextWithTask to call a handler directly, without a database.
//
//	func TestMain(m *testing.M) { pgtqtest.Main(m) }
//
//	func TestSignupEnqueuesWelcome(t *testing.T) {
//		t.Parallel()
//		client := pgtqtest.NewClient(t) // a migrated database of its own, dropped after the test
//		require.NoError(t, client.CreateQueue(ctx, "emails", nil))
//		require.NoError(t, signup(ctx, client, "a@b.c"))
//		pgtqtest.RequireEnqueued(t, client, "emails", Email{To: "a@b.c"}, &pgtqtest.RequireOpts{Delay: time.Minute})
//		require.NoError(t, pgtqtest.Drain(ctx, client, &worker.Options{Processors: []*worker.Processor{emails}}))
//	}
//
// Where the databases come from, in this order:
//  1. PGTQ_DATABASE_URL: a PostgreSQL server (13 or newer) and a role that may create databases;
//  2. with Main: a throwaway cluster started from the local PostgreSQL binaries (initdb, pg_ctl; as the
//     postgres OS user when the tests run as root), removed when the tests end;
//  3. with Main, when no binaries are found and a Docker daemon is reachable: a postgres:15 container, removed
//     when the tests end.
//
// Without any of them, NewDB and NewClient skip the test with a message saying what to set up. Once per server
// and schema, a template database is migrated; each NewDB clones it (CREATE DATABASE ... TEMPLATE, a few
// milliseconds) and drops the clone when the test ends, so tests can run in parallel, commit and LISTEN
// without seeing each other.
package pgtqtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgtq/pgtq/driver"
	"github.com/pgtq/pgtq/internal/dbtemplate"
	"github.com/pgtq/pgtq/internal/pgcluster"
)

// URLEnv names the environment variable with the URL of the server to create test databases on.
const URLEnv = "PGTQ_DATABASE_URL"

var (
	mu        sync.Mutex
	serverURL string // chosen by Main, or URLEnv read lazily
	noServer  string // why there is none (set by Main)

	templateOnce sync.Once
	templateName string
	templateErr  error
)

// Main runs a package's tests (call it from TestMain) with a PostgreSQL server for NewDB: PGTQ_DATABASE_URL,
// else a throwaway cluster from the local binaries, else a postgres:15 Docker container; whatever it started
// is removed when the tests end. When none is available the tests still run, and those that call NewDB skip
// with the reasons.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	stop, err := startServer()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgtqtest:", err)
	}
	defer stop()
	return m.Run()
}

// startServer chooses the server and returns what stops it.
func startServer() (stop func(), err error) {
	mu.Lock()
	defer mu.Unlock()
	if u := os.Getenv(URLEnv); u != "" {
		serverURL = u
		return func() {}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cluster, clusterErr := pgcluster.Start(ctx, nil)
	if clusterErr == nil {
		serverURL = cluster.URL("postgres")
		return func() { _ = cluster.Stop() }, nil
	}
	u, stopDocker, dockerErr := startDocker(ctx)
	if dockerErr == nil {
		serverURL = u
		return stopDocker, nil
	}
	noServer = fmt.Sprintf("no PostgreSQL for the tests: %s is not set; local binaries: %v; Docker: %v",
		URLEnv, clusterErr, dockerErr)
	return func() {}, errors.New(noServer)
}

// server returns the server's URL, or why there is none.
func server() (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if serverURL == "" {
		serverURL = os.Getenv(URLEnv)
	}
	if serverURL != "" {
		return serverURL, nil
	}
	if noServer != "" {
		return "", errors.New(noServer)
	}
	return "", fmt.Errorf("no PostgreSQL for the tests: set %s, or call pgtqtest.Main from TestMain to start one "+
		"from the local binaries or Docker", URLEnv)
}

// NewDB returns a pool on a fresh migrated database, dropped when the test ends. It skips the test when no
// server is available (see the package documentation).
func NewDB(t testing.TB) *pgxpool.Pool {
	t.Helper()
	u := NewDBURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, u)
	if err != nil {
		t.Fatalf("pgtqtest: connect: %v", err)
	}
	t.Cleanup(pool.Close) // runs before the drop registered by NewDBURL
	return pool
}

// NewDBURL is NewDB returning the database's URL instead of a pool (for subprocesses or custom pools).
func NewDBURL(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	u, drop, err := CreateDB(ctx)
	if errors.Is(err, errNoServer) {
		t.Skipf("pgtqtest: %v", err)
	}
	if err != nil {
		t.Fatalf("pgtqtest: %v", err)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Errorf("pgtqtest: %v", err)
		}
	})
	return u
}

// NewClient returns a driver.Client on a fresh migrated database (NewDB).
func NewClient(t testing.TB) *driver.Client {
	t.Helper()
	client, err := driver.New(context.Background(), NewDB(t))
	if err != nil {
		t.Fatalf("pgtqtest: %v", err)
	}
	return client
}

var errNoServer = errors.New("no server")

// CreateDB creates a fresh migrated database and returns its URL and the function that drops it (closing
// the connections still open). It is NewDBURL for code without a testing.TB, such as TestMain or Examples.
// Without a server it returns an error that says what to set up.
func CreateDB(ctx context.Context) (dbURL string, drop func() error, err error) {
	base, err := server()
	if err != nil {
		return "", nil, fmt.Errorf("%w: %w", errNoServer, err)
	}
	tmpl, err := template(base)
	if err != nil {
		return "", nil, fmt.Errorf("template database: %w", err)
	}
	name := "pgtqtest_" + randomSuffix()
	if err := exec(ctx, base, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE "+
		pgx.Identifier{tmpl}.Sanitize()); err != nil {
		return "", nil, fmt.Errorf("create database: %w", err)
	}
	drop = func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := exec(ctx, base, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		return nil
	}
	return withDatabase(base, name), drop, nil
}

// template returns the migrated template database of this schema, creating it once per process.
func template(base string) (string, error) {
	templateOnce.Do(func() { templateName, templateErr = ensureTemplate(base) })
	return templateName, templateErr
}

func ensureTemplate(base string) (string, error) {
	return dbtemplate.Ensure(context.Background(), base, "pgtqtest_template_")
}

func exec(ctx context.Context, base, sql string) error { return dbtemplate.Exec(ctx, base, sql) }

func withDatabase(base, db string) string { return dbtemplate.WithDatabase(base, db) }

func randomSuffix() string { return dbtemplate.RandomSuffix() }
