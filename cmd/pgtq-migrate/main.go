// Command pgtq-migrate installs and upgrades PGTQ's schemas (pgmq and pgtq) in a PostgreSQL database.
//
// Usage:
//
//	pgtq-migrate [flags] up|down|redo|status|version [flags]
//
// Flags may come before or after the command. The connection comes from --database-url, else DATABASE_URL,
// else the standard PG* environment variables (PGHOST, PGPORT, PGUSER, PGDATABASE, PGSERVICE, ...); with none
// of them pgtq-migrate refuses to guess. Every command first prints its target on standard error: host, port,
// database and user (never the password).
//
// Exit codes: 0 success (status also exits 0 on a database that is not migrated, and says so), 1 the database
// failed (unreachable, a migration failed, or up refused a database that holds a newer schema than this
// binary), 2 bad usage, a malformed URL or no database given.
//
// The same commands are `pgtq migrate ...` in the pgtq admin CLI (both run package internal/migratecli).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/pgtq/pgtq/internal/migratecli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := migratecli.Run(ctx, "pgtq-migrate", os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "pgtq-migrate:", err)
	}
	os.Exit(migratecli.ExitCode(err))
}
