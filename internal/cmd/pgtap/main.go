// Command pgtap runs the pgTAP suite with pg_prove against a fresh, migrated database on the server named by
// PGTQ_DATABASE_URL. The database is created with the pgtap extension before the run and dropped after it.
//
// Usage:
//
//	pgtap [pg_prove flags] tests/pgtap/*.sql
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgtq/pgtq/migrate"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "pgtap:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	base := os.Getenv("PGTQ_DATABASE_URL")
	if base == "" {
		return fmt.Errorf("PGTQ_DATABASE_URL is not set (run through internal/cmd/withpg or make test)")
	}
	if len(args) == 0 {
		return fmt.Errorf("no test files given")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "pgtq_pgtap_" + hex.EncodeToString(b)
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer admin.Close(context.Background())
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	defer admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)")

	u, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("parse PGTQ_DATABASE_URL: %w", err)
	}
	u.Path = "/" + name
	pool, err := pgxpool.New(ctx, u.String())
	if err != nil {
		return fmt.Errorf("connect %s: %w", name, err)
	}
	err = migrate.Up(ctx, pool)
	if err == nil {
		_, err = pool.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pgtap")
		if err != nil {
			err = fmt.Errorf("create extension pgtap (is postgresql-15-pgtap installed?): %w", err)
		}
	}
	cfg := pool.Config().ConnConfig
	pool.Close()
	if err != nil {
		return err
	}

	cmd := exec.Command("pg_prove", args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(),
		"PGHOST="+cfg.Host,
		fmt.Sprintf("PGPORT=%d", cfg.Port),
		"PGUSER="+cfg.User,
		"PGDATABASE="+name,
		"PGOPTIONS=--client-min-messages=warning",
	)
	if cfg.Password != "" {
		cmd.Env = append(cmd.Env, "PGPASSWORD="+cfg.Password)
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pg_prove %s: %w", strings.Join(args, " "), err)
	}
	return nil
}
