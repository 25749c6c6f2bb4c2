package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
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
	pgtqsql "github.com/pgtq/pgtq/sql"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// build compiles the command once per test binary.
var build = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "pgtq-migrate-test-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "pgtq-migrate")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", errors.New(string(out))
	}
	return bin, nil
})

// result is one run of the command.
type result struct {
	stdout, stderr string
	code           int
}

// runCLI runs the command with only env in its environment (no DATABASE_URL or PG* unless given).
func runCLI(t *testing.T, env []string, args ...string) result {
	t.Helper()
	bin, err := build()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append([]string{"HOME=" + t.TempDir()}, env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		res.code = exitErr.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return res
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

func TestFlagsAfterTheCommand(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewEmptyDBURL(t)

	r := runCLI(t, nil, "up", "--database-url", dbURL, "-v")
	require.Equal(t, 0, r.code, r)
	require.Contains(t, r.stdout, "functions applied")
	require.Contains(t, r.stderr, "level=INFO", "-v after the command is honoured")

	r = runCLI(t, nil, "--connect-timeout", "20s", "status", "--database-url="+dbURL)
	require.Equal(t, 0, r.code, r)
	require.Contains(t, r.stdout, "functions: up to date")

	r = runCLI(t, nil, "status", "--database-url", dbURL, "up")
	require.Equal(t, 2, r.code, r)
	require.Contains(t, r.stderr, "exactly one command")
}

func TestStatusOnEmptyDatabase(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewEmptyDBURL(t)

	r := runCLI(t, nil, "status", "--database-url", dbURL)
	require.Equal(t, 0, r.code, r)
	require.Contains(t, r.stdout, "not migrated")
	require.Contains(t, r.stdout, pgtqsql.CurrentVersion().String())

	r = runCLI(t, nil, "version", "--database-url", dbURL)
	require.Equal(t, 0, r.code, r)
	require.Equal(t, "0", strings.TrimSpace(r.stdout))

	// Neither created anything.
	pool, err := pgxpool.New(context.Background(), dbURL)
	require.NoError(t, err)
	defer pool.Close()
	var tables int
	require.NoError(t, pool.QueryRow(context.Background(),
		`SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace`).Scan(&tables))
	require.Zero(t, tables)
}

func TestPrintsTargetWithoutPassword(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDBURL(t)
	roleURL := pgtest.NewRoleURL(t, dbURL, "pgtq_admin")
	u, err := url.Parse(roleURL)
	require.NoError(t, err)
	password, _ := u.User.Password()
	require.NotEmpty(t, password)
	target := fmt.Sprintf("host=%s port=%s database=%s user=%s", u.Hostname(), u.Port(), strings.TrimPrefix(u.Path, "/"),
		u.User.Username())

	for _, args := range [][]string{{"status"}, {"version"}, {"up"}} {
		r := runCLI(t, nil, append(args, "--database-url", roleURL)...)
		require.Contains(t, r.stderr, target, "%s", r)
		require.True(t, strings.HasPrefix(r.stderr, "pgtq-migrate: "+args[0]+": "+target), "target first: %s", r)
		require.NotContains(t, r.stdout+r.stderr, password)
	}

	// Unreachable: the target is named before the failure.
	r := runCLI(t, nil, "up", "--connect-timeout", "5s", "--database-url", "postgres://someone:hunter2@127.0.0.1:1/nowhere")
	require.Equal(t, 1, r.code, r)
	require.Contains(t, r.stderr, "host=127.0.0.1 port=1 database=nowhere user=someone")
	require.NotContains(t, r.stdout+r.stderr, "hunter2")
}

func TestStatusAsAdminRole(t *testing.T) {
	t.Parallel()
	roleURL := pgtest.NewRoleURL(t, pgtest.NewDBURL(t), "pgtq_admin")
	r := runCLI(t, nil, "status", "--database-url", roleURL)
	require.Equal(t, 0, r.code, r)
	require.Contains(t, r.stdout, "functions: up to date")
	require.Contains(t, r.stdout, "schema: database "+pgtqsql.CurrentVersion().String())
}

func TestRefusesWithoutDatabase(t *testing.T) {
	t.Parallel()
	for _, command := range []string{"up", "status", "version"} {
		r := runCLI(t, nil, command)
		require.Equal(t, 2, r.code, r)
		require.Contains(t, r.stderr, "--database-url")
		require.Empty(t, r.stdout)
	}

	// The PG* variables alone are a target.
	dbURL := pgtest.NewDBURL(t)
	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	env := []string{"PGHOST=" + u.Hostname(), "PGPORT=" + u.Port(), "PGDATABASE=" + strings.TrimPrefix(u.Path, "/"),
		"PGUSER=" + u.User.Username()}
	if p, ok := u.User.Password(); ok {
		env = append(env, "PGPASSWORD="+p)
	}
	r := runCLI(t, env, "status")
	require.Equal(t, 0, r.code, r)
	require.Contains(t, r.stdout, "functions: up to date")
	require.Contains(t, r.stderr, "database="+strings.TrimPrefix(u.Path, "/"))
}

func TestUpRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := pgtest.NewDBURL(t)
	pool, err := pgxpool.New(ctx, dbURL)
	require.NoError(t, err)
	defer pool.Close()
	bin := pgtqsql.CurrentVersion()
	newer := pgtqsql.Version{Migration: bin.Migration, Patch: bin.Patch + 1}
	// As if a binary one patch newer had migrated the database.
	_, err = pool.Exec(ctx, `UPDATE pgtq.schema_functions SET migration = $1, patch = $2, hash = 'newer'`,
		newer.Migration, newer.Patch)
	require.NoError(t, err)

	r := runCLI(t, nil, "up", "--database-url", dbURL)
	require.Equal(t, 1, r.code, r)
	require.Contains(t, r.stderr, "schema "+newer.String())
	require.Contains(t, r.stderr, "schema "+bin.String())
	require.Contains(t, r.stderr, "nothing was changed")
	var hash string
	require.NoError(t, pool.QueryRow(ctx, `SELECT hash FROM pgtq.schema_functions`).Scan(&hash))
	require.Equal(t, "newer", hash)

	r = runCLI(t, nil, "status", "--database-url", dbURL)
	require.Equal(t, 0, r.code, r)
	require.Contains(t, r.stdout, "newer than this binary")
}
