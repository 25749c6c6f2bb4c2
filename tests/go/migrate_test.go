package gotest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/internal/pgtest"
	"github.com/pgtq/pgtq/migrate"
	pgtqsql "github.com/pgtq/pgtq/sql"
)

func emptyPool(t *testing.T) (*pgxpool.Pool, string) {
	t.Helper()
	url := pgtest.NewEmptyDBURL(t)
	pool, err := pgxpool.New(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool, url
}

// schemaFingerprint lists every function, table and type of schemas pgmq and pgtq, so two states can be
// compared.
func schemaFingerprint(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var fp string
	err := pool.QueryRow(context.Background(), `
		SELECT coalesce(string_agg(x, E'\n' ORDER BY x), '') FROM (
			SELECT n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ') ' ||
			       md5(p.prosrc) AS x
			FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
			WHERE n.nspname IN ('pgmq', 'pgtq')
			UNION ALL
			SELECT c.relkind::text || ' ' || n.nspname || '.' || c.relname
			FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname IN ('pgmq', 'pgtq')
		) s`).Scan(&fp)
	require.NoError(t, err)
	return fp
}

func TestMigrateFreshInstallsSchemaAndRecordsHash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := emptyPool(t)

	m, err := migrate.New(pool, nil)
	require.NoError(t, err)
	defer m.Close()

	res, err := m.Up(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, res.Migrations)
	require.True(t, res.FunctionsApplied)
	require.Equal(t, m.LatestVersion(), res.Version)

	st, err := m.Status(ctx)
	require.NoError(t, err)
	require.True(t, st.UpToDate())
	require.Equal(t, pgtqsql.FunctionsHash(), st.FunctionsHash)

	// Both schemas work: a pgmq queue round trip.
	_, err = pool.Exec(ctx, "SELECT pgmq.create('fresh')")
	require.NoError(t, err)
	var id int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT * FROM pgmq.send('fresh', '{"a":1}')`).Scan(&id))
	require.Positive(t, id)
}

func TestMigrateUpTwiceChangesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := emptyPool(t)
	require.NoError(t, migrate.Up(ctx, pool))
	before := schemaFingerprint(t, pool)

	m, err := migrate.New(pool, nil)
	require.NoError(t, err)
	defer m.Close()
	res, err := m.Up(ctx)
	require.NoError(t, err)
	require.Empty(t, res.Migrations, "second up applied migrations")
	require.False(t, res.FunctionsApplied, "second up re-applied the functions")
	require.Equal(t, before, schemaFingerprint(t, pool))
}

func TestMigrateConcurrentMigratorsDoNotRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, url := emptyPool(t)

	const n = 4
	var (
		wg        sync.WaitGroup
		start     = make(chan struct{})
		errs      = make([]error, n)
		functions = make([]bool, n)
	)
	for i := range n {
		// Separate pools: separate sessions, as separate processes would have.
		p, err := pgxpool.New(ctx, url)
		require.NoError(t, err)
		defer p.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := migrate.New(p, nil)
			if err != nil {
				errs[i] = err
				return
			}
			defer m.Close()
			<-start
			res, err := m.Up(ctx)
			errs[i] = err
			if res != nil {
				functions[i] = res.FunctionsApplied
			}
		}()
	}
	close(start)
	wg.Wait()
	applied := 0
	for i := range n {
		require.NoError(t, errs[i], "migrator %d", i)
		if functions[i] {
			applied++
		}
	}
	require.Equal(t, 1, applied, "function files must be applied by exactly one migrator")

	m, err := migrate.New(pool, nil)
	require.NoError(t, err)
	defer m.Close()
	st, err := m.Status(ctx)
	require.NoError(t, err)
	require.True(t, st.UpToDate())
}

func TestMigrateDownAndUpAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := emptyPool(t)
	require.NoError(t, migrate.Up(ctx, pool))
	full := schemaFingerprint(t, pool)

	m, err := migrate.New(pool, nil)
	require.NoError(t, err)
	defer m.Close()
	latest := m.LatestVersion()

	// Down one: below the latest version the recorded hash is forgotten.
	res, err := m.Down(ctx)
	require.NoError(t, err)
	require.Less(t, res.Version, latest)

	// Redo at a lower version and then all the way down to nothing.
	for {
		v, err := m.Version(ctx)
		require.NoError(t, err)
		if v == 0 {
			break
		}
		_, err = m.Down(ctx)
		require.NoError(t, err)
	}
	var schemas int
	require.NoError(t, pool.QueryRow(ctx,
		"SELECT count(*) FROM pg_namespace WHERE nspname IN ('pgmq', 'pgtq')").Scan(&schemas))
	require.Zero(t, schemas, "down to 0 must remove both schemas")

	res, err = m.Up(ctx)
	require.NoError(t, err)
	require.True(t, res.FunctionsApplied)
	require.Equal(t, full, schemaFingerprint(t, pool), "down then up must restore the same schema")

	// Redo of the last migration ends at the latest version with the functions in place.
	res, err = m.Redo(ctx)
	require.NoError(t, err)
	require.Equal(t, latest, res.Version)
	require.Equal(t, full, schemaFingerprint(t, pool))
}

func TestMigrateReappliesChangedFunctions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := emptyPool(t)
	require.NoError(t, migrate.Up(ctx, pool))

	// A queue whose statement functions an older binary generated: one of them is stale (here: broken).
	_, err := pool.Exec(ctx, `SELECT pgtq.create_queue('mq')`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `CREATE OR REPLACE FUNCTION pgtq._q_mq_complete(msg_ids bigint[], attempts integer[],
		OUT done_ids bigint[], OUT group_keys text[], OUT group_ids bigint[])
		LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'stale statement function'; END $$`)
	require.NoError(t, err)
	// A database migrated by another binary holds another hash (and other bodies).
	_, err = pool.Exec(ctx, "UPDATE pgtq.schema_functions SET hash = 'other-binary'")
	require.NoError(t, err)
	m, err := migrate.New(pool, nil)
	require.NoError(t, err)
	defer m.Close()
	st, err := m.Status(ctx)
	require.NoError(t, err)
	require.False(t, st.UpToDate())

	res, err := m.Up(ctx)
	require.NoError(t, err)
	require.True(t, res.FunctionsApplied)
	hash, err := migrate.RecordedFunctionsHash(ctx, pool)
	require.NoError(t, err)
	require.Equal(t, pgtqsql.FunctionsHash(), hash)

	// The migration re-generated the queue's statement functions from the current code.
	_, err = pool.Exec(ctx, `SELECT pgtq.enqueue('mq', '{}')`)
	require.NoError(t, err)
	var id int64
	var attempt int32
	require.NoError(t, pool.QueryRow(ctx, `SELECT msg_id, attempt FROM pgtq.read('mq', 1, 30)`).Scan(&id, &attempt))
	var completed bool
	require.NoError(t, pool.QueryRow(ctx, `SELECT pgtq.complete('mq', $1::bigint, $2::integer)`, id, attempt).Scan(&completed))
	require.True(t, completed)
}

// buildMigrateCLI compiles cmd/pgtq-migrate once per test binary.
var buildMigrateCLI = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "pgtq-migrate-cli-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "pgtq-migrate")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/pgtq/pgtq/cmd/pgtq-migrate").CombinedOutput()
	if err != nil {
		return "", errors.New(string(out))
	}
	return bin, nil
})

func TestMigrateCLI(t *testing.T) {
	t.Parallel()
	bin, err := buildMigrateCLI()
	require.NoError(t, err)
	_, url := emptyPool(t)

	run := func(env []string, args ...string) (string, int) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=/tmp"}, env...)
		out, err := cmd.CombinedOutput()
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return string(out), exitErr.ExitCode()
		}
		require.NoError(t, err)
		return string(out), 0
	}

	out, code := run(nil, "--database-url", url, "up")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "functions applied")

	// DATABASE_URL is the fallback, and a second up is a no-op.
	out, code = run([]string{"DATABASE_URL=" + url}, "up")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "no change")

	out, code = run(nil, "--database-url", url, "status")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "functions: up to date")

	out, code = run(nil, "--database-url", url, "version")
	require.Equal(t, 0, code, out)
	require.NotEqual(t, "0", strings.TrimSpace(out))

	out, code = run(nil, "--database-url", "postgres://%zz", "up")
	require.Equal(t, 2, code, out)
	require.Contains(t, out, "invalid database URL")

	out, code = run(nil, "--database-url", url, "sideways")
	require.Equal(t, 2, code, out)
	require.Contains(t, out, `unknown command "sideways"`)

	// Nothing listens on port 1.
	out, code = run(nil, "--connect-timeout", "5s", "--database-url", "postgres://postgres@127.0.0.1:1/x?sslmode=disable", "up")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "connect")
}

func TestMigrateRefusesBesideThePgmqExtension(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := emptyPool(t)

	// The real extension's files are not on this machine; a catalog row is what the migration checks.
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, "SET allow_system_table_mods = on")
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `INSERT INTO pg_extension (oid, extname, extowner, extnamespace, extrelocatable, extversion)
		VALUES (pg_nextoid('pg_extension', 'oid', 'pg_extension_oid_index'), 'pgmq', 10, 2200, false, '1.11.0')`)
	require.NoError(t, err)
	conn.Release()

	err = migrate.Up(ctx, pool)
	require.ErrorIs(t, err, migrate.ErrPgmqExtension)
	require.ErrorContains(t, err, "pgmq extension")

	var schemas int
	require.NoError(t, pool.QueryRow(ctx,
		"SELECT count(*) FROM pg_namespace WHERE nspname IN ('pgmq', 'pgtq')").Scan(&schemas))
	require.Zero(t, schemas, "a refused migration must leave no schema behind")
}
