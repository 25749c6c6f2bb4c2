package gotest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/driver"
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

// functionBody returns the source of a function, to tell whether a migration replaced it.
func functionBody(t *testing.T, pool *pgxpool.Pool, fn string) string {
	t.Helper()
	var src string
	require.NoError(t, pool.QueryRow(context.Background(), "SELECT prosrc FROM pg_proc WHERE oid = $1::regprocedure", fn).Scan(&src))
	return src
}

// recordVersion makes the database look migrated by a binary of schema S.P whose clients go back to since.
func recordVersion(t *testing.T, pool *pgxpool.Pool, v pgtqsql.Version, since int64, hash string) {
	t.Helper()
	_, err := pool.Exec(context.Background(), `UPDATE pgtq.schema_functions
		SET migration = $1, patch = $2, compatible_since = $3, hash = $4`, v.Migration, v.Patch, since, hash)
	require.NoError(t, err)
}

func TestMigrateRecordsSchemaVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewDB(t)

	var migration, since int64
	var patch int32
	var hash string
	require.NoError(t, pool.QueryRow(ctx, "SELECT migration, patch, compatible_since, hash FROM pgtq.schema_version()").
		Scan(&migration, &patch, &since, &hash))
	bin := pgtqsql.CurrentVersion()
	require.Equal(t, bin, pgtqsql.Version{Migration: migration, Patch: int64(patch)})
	require.Equal(t, int64(pgtqsql.CompatibleSince), since)
	require.Equal(t, pgtqsql.FunctionsHash(), hash)

	m, err := migrate.New(pool, nil)
	require.NoError(t, err)
	defer m.Close()
	require.Equal(t, m.LatestVersion(), bin.Migration, "S is the newest embedded migration")
	st, err := m.Status(ctx)
	require.NoError(t, err)
	require.NotNil(t, st.Recorded)
	require.True(t, st.Recorded.Versioned)
	require.Equal(t, bin, st.Recorded.Version)
	require.False(t, st.Newer())
}

func TestMigrateUpRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	bin := pgtqsql.CurrentVersion()
	for _, tc := range []struct {
		name  string
		newer pgtqsql.Version
	}{
		{"NewerPatch", pgtqsql.Version{Migration: bin.Migration, Patch: bin.Patch + 1}},
		{"NewerMigration", pgtqsql.Version{Migration: bin.Migration + 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			pool := pgtest.NewDB(t)
			// The newer binary installed other function bodies, under another hash.
			def := ""
			require.NoError(t, pool.QueryRow(ctx, "SELECT pg_get_functiondef('pgtq.next_due(text)'::regprocedure)").Scan(&def))
			_, err := pool.Exec(ctx, strings.Replace(def, "BEGIN", "BEGIN\n    -- newer body", 1))
			require.NoError(t, err)
			recordVersion(t, pool, tc.newer, bin.Migration, "newer-binary")
			before := schemaFingerprint(t, pool)

			m, err := migrate.New(pool, nil)
			require.NoError(t, err)
			defer m.Close()
			st, err := m.Status(ctx)
			require.NoError(t, err)
			require.True(t, st.Newer())

			res, err := m.Up(ctx)
			require.ErrorIs(t, err, migrate.ErrSchemaNewer)
			require.ErrorContains(t, err, tc.newer.String())
			require.ErrorContains(t, err, bin.String())
			require.False(t, res.FunctionsApplied)
			require.Contains(t, functionBody(t, pool, "pgtq.next_due(text)"), "newer body")
			require.Equal(t, before, schemaFingerprint(t, pool))
			hash, err := migrate.RecordedFunctionsHash(ctx, pool)
			require.NoError(t, err)
			require.Equal(t, "newer-binary", hash)
		})
	}

	t.Run("UnknownMigration", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		pool := pgtest.NewDB(t)
		_, err := pool.Exec(ctx, `INSERT INTO public.pgtq_migrations (version_id, is_applied) VALUES ($1, true)`,
			bin.Migration+1)
		require.NoError(t, err)
		m, err := migrate.New(pool, nil)
		require.NoError(t, err)
		defer m.Close()
		_, err = m.Up(ctx)
		require.ErrorIs(t, err, migrate.ErrSchemaNewer)
		require.ErrorContains(t, err, fmt.Sprintf("migration %d", bin.Migration+1))
	})
}

func TestMigrateUpOlderOrSameVersion(t *testing.T) {
	t.Parallel()
	bin := pgtqsql.CurrentVersion()

	t.Run("OlderIsApplied", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		pool := pgtest.NewDB(t)
		recordVersion(t, pool, pgtqsql.Version{Migration: bin.Migration - 1, Patch: 3}, 1, "older-binary")
		m, err := migrate.New(pool, nil)
		require.NoError(t, err)
		defer m.Close()
		res, err := m.Up(ctx)
		require.NoError(t, err)
		require.True(t, res.FunctionsApplied)
		st, err := m.Status(ctx)
		require.NoError(t, err)
		require.Equal(t, bin, st.Recorded.Version)
		require.True(t, st.UpToDate())
	})

	t.Run("SameVersionOtherHashIsReappliedWithWarning", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		pool := pgtest.NewDB(t)
		recordVersion(t, pool, bin, pgtqsql.CompatibleSince, "development-build")
		var log strings.Builder
		var mu sync.Mutex
		m, err := migrate.New(pool, &migrate.Options{Logger: slog.New(slog.NewTextHandler(lockedWriter{&mu, &log}, nil))})
		require.NoError(t, err)
		defer m.Close()
		res, err := m.Up(ctx)
		require.NoError(t, err)
		require.True(t, res.FunctionsApplied)
		mu.Lock()
		defer mu.Unlock()
		require.Contains(t, log.String(), "level=WARN")
		require.Contains(t, log.String(), "FunctionsPatch")
	})
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *strings.Builder
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestMigrateLoadsStatementTemplates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	// A leftover of an older binary, and a changed hash so that up re-applies.
	_, err := pool.Exec(ctx, `INSERT INTO pgtq.statement_templates (stmt, body) VALUES ('gone', 'SELECT 1')`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `UPDATE pgtq.schema_functions SET hash = 'other', migration = migration - 1`)
	require.NoError(t, err)
	require.NoError(t, migrate.Up(ctx, pool))

	want := map[string]string{}
	for _, f := range pgtqsql.StatementFiles() {
		want[strings.TrimSuffix(f.Name, ".sql")] = f.Body
	}
	rows, err := pool.Query(ctx, `SELECT stmt, body FROM pgtq.statement_templates`)
	require.NoError(t, err)
	have := map[string]string{}
	for rows.Next() {
		var stmt, body string
		require.NoError(t, rows.Scan(&stmt, &body))
		have[stmt] = body
	}
	require.NoError(t, rows.Err())
	require.NotEmpty(t, want)
	require.Equal(t, want, have)
}

func TestMigrateStatusOnEmptyDatabaseChangesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := emptyPool(t)
	m, err := migrate.New(pool, nil)
	require.NoError(t, err)
	defer m.Close()

	st, err := m.Status(ctx)
	require.NoError(t, err)
	require.False(t, st.Migrated())
	require.Nil(t, st.Recorded)
	require.Len(t, st.Migrations, int(m.LatestVersion()))
	v, err := m.Version(ctx)
	require.NoError(t, err)
	require.Zero(t, v)
	var created bool
	require.NoError(t, pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, migrate.VersionTableDefault).Scan(&created))
	require.False(t, created, "status must not create goose's version table")
}

func TestMigrateStatusAsAdminRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.NewRoleURL(t, pgtest.NewDBURL(t), "pgtq_admin")
	pool, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	m, err := migrate.New(pool, nil)
	require.NoError(t, err)
	defer m.Close()
	st, err := m.Status(ctx)
	require.NoError(t, err)
	require.True(t, st.UpToDate())
	require.Equal(t, pgtqsql.CurrentVersion(), st.Recorded.Version)
}

func TestMigrateDriverNewAsEachRole(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDBURL(t)
	for _, group := range pgtest.Groups {
		t.Run(group, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			pool, err := pgxpool.New(ctx, pgtest.NewRoleURL(t, dbURL, group))
			require.NoError(t, err)
			t.Cleanup(pool.Close)
			var user string
			require.NoError(t, pool.QueryRow(ctx, "SELECT current_user").Scan(&user))
			require.NotEqual(t, "postgres", user)
			_, err = driver.New(ctx, pool)
			require.NoError(t, err)
		})
	}
}

func TestMigrateDriverNewSchemaWindow(t *testing.T) {
	t.Parallel()
	bin := pgtqsql.CurrentVersion()
	s := bin.Migration
	for _, tc := range []struct {
		name     string
		version  pgtqsql.Version
		since    int64
		wantErr  error
		contains []string
	}{
		{name: "Same", version: bin, since: pgtqsql.CompatibleSince},
		{name: "NewerPatch", version: pgtqsql.Version{Migration: s, Patch: bin.Patch + 1}, since: s},
		{name: "NewerSchemaServingThisBinary", version: pgtqsql.Version{Migration: s + 1, Patch: 2}, since: s},
		{name: "NewerSchemaDroppingThisBinary", version: pgtqsql.Version{Migration: s + 1}, since: s + 1,
			wantErr: driver.ErrSchemaMismatch, contains: []string{fmt.Sprintf("%d.0", s+1), bin.String(), "upgrade this binary"}},
		{name: "OlderSchema", version: pgtqsql.Version{Migration: s - 1, Patch: 9}, since: 1,
			wantErr: driver.ErrSchemaMismatch, contains: []string{fmt.Sprintf("%d.9", s-1), bin.String(), "upgrade the database"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dbURL := pgtest.NewDBURL(t)
			owner, err := pgxpool.New(ctx, dbURL)
			require.NoError(t, err)
			t.Cleanup(owner.Close)
			recordVersion(t, owner, tc.version, tc.since, "some-other-hash")
			// The check runs as a worker would: through pgtq.schema_version(), without rights on any table.
			pool, err := pgxpool.New(ctx, pgtest.NewRoleURL(t, dbURL, "pgtq_worker"))
			require.NoError(t, err)
			t.Cleanup(pool.Close)

			_, err = driver.New(ctx, pool)
			if tc.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.wantErr)
			for _, s := range tc.contains {
				require.ErrorContains(t, err, s)
			}
		})
	}

	t.Run("Unversioned", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		pool := pgtest.NewDB(t)
		_, err := pool.Exec(ctx, `UPDATE pgtq.schema_functions SET migration = NULL, patch = NULL, compatible_since = NULL`)
		require.NoError(t, err)
		_, err = driver.New(ctx, pool)
		require.ErrorIs(t, err, driver.ErrSchemaMismatch)
		require.ErrorContains(t, err, "upgrade the database")
	})
}
