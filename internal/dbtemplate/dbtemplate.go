// Package dbtemplate builds the migrated template database that test helpers clone per test
// (CREATE DATABASE ... TEMPLATE), once per server and schema: internal/pgtest for PGTQ's own tests and the
// public pgtqtest for users' tests share it.
package dbtemplate

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgtq/pgtq/migrate"
	pgtqsql "github.com/pgtq/pgtq/sql"
)

// Ensure returns the name of the migrated template database on the server behind serverURL (a superuser's
// URL), creating it when missing: prefix + the first 16 hex digits of SchemaHash. Test binaries of several
// packages run at once: an advisory lock (keyed by prefix) lets one build it while the others wait. A
// half-built leftover of an interrupted run is rebuilt.
func Ensure(ctx context.Context, serverURL, prefix string) (string, error) {
	name := prefix + SchemaHash()[:16]
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(hashtextextended($1, 0))", prefix); err != nil {
		return "", fmt.Errorf("lock: %w", err)
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock(hashtextextended($1, 0))", prefix)

	var ready bool
	err = conn.QueryRow(ctx, "SELECT datistemplate FROM pg_database WHERE datname = $1", name).Scan(&ready)
	if err == nil && ready {
		return name, nil
	}
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
		return "", fmt.Errorf("drop stale template: %w", err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return "", fmt.Errorf("create template: %w", err)
	}
	pool, err := pgxpool.New(ctx, WithDatabase(serverURL, name))
	if err != nil {
		return "", fmt.Errorf("connect to template: %w", err)
	}
	err = migrate.Up(ctx, pool)
	pool.Close()
	if err != nil {
		return "", fmt.Errorf("migrate template: %w", err)
	}
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+ident+" IS_TEMPLATE true"); err != nil {
		return "", fmt.Errorf("mark template: %w", err)
	}
	return name, nil
}

// Exec runs sql on a connection of its own to url.
func Exec(ctx context.Context, url, sql string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// WithDatabase returns the URL base with its database name replaced by db.
func WithDatabase(base, db string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	u.Path = "/" + db
	return u.String()
}

// SchemaHash identifies the embedded migrations and functions, so a changed schema gets a new template.
func SchemaHash() string {
	h := sha256.New()
	_ = fs.WalkDir(pgtqsql.Migrations, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(pgtqsql.Migrations, path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", path, len(b))
		h.Write(b)
		return nil
	})
	h.Write([]byte(pgtqsql.FunctionsHash()))
	return hex.EncodeToString(h.Sum(nil))
}

// RandomSuffix returns 12 random hex digits, for unique database and role names.
func RandomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
