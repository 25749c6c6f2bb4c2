// Command withpg runs a command against a PostgreSQL server: the one named by PGTQ_DATABASE_URL when it is set,
// otherwise a throwaway cluster started from the local binaries (torn down afterwards, also when the command
// fails or the run is interrupted). The child sees the server's URL in PGTQ_DATABASE_URL.
//
// Usage:
//
//	withpg [-c name=value]... [-durable] -- command [args...]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"

	"github.com/pgtq/pgtq/internal/pgcluster"
)

// settingsFlag collects repeated -c name=value flags.
type settingsFlag map[string]string

func (s settingsFlag) String() string { return fmt.Sprint(map[string]string(s)) }

func (s settingsFlag) Set(v string) error {
	name, value, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return fmt.Errorf("want name=value, got %q", v)
	}
	s[name] = value
	return nil
}

func main() {
	os.Exit(run())
}

func run() int {
	settings := settingsFlag{}
	fs := flag.NewFlagSet("withpg", flag.ContinueOnError)
	fs.Var(settings, "c", "server setting name=value (repeatable)")
	durable := fs.Bool("durable", false, "start from durable settings (fsync and synchronous_commit on) instead of test settings")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return 2
	}
	args := fs.Args()
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "withpg: no command given")
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if os.Getenv("PGTQ_DATABASE_URL") == "" {
		base := map[string]string{}
		if !*durable {
			for k, v := range pgcluster.TestSettings {
				base[k] = v
			}
		} else {
			base["max_connections"] = "400"
		}
		for k, v := range settings {
			base[k] = v
		}
		cluster, err := pgcluster.Start(ctx, &pgcluster.Options{Settings: base})
		if err != nil {
			fmt.Fprintln(os.Stderr, "withpg:", err)
			return 1
		}
		defer func() {
			if err := cluster.Stop(); err != nil {
				fmt.Fprintln(os.Stderr, "withpg:", err)
			}
		}()
		os.Setenv("PGTQ_DATABASE_URL", cluster.URL("postgres"))
		fmt.Fprintf(os.Stderr, "withpg: throwaway PostgreSQL cluster on 127.0.0.1:%d\n", cluster.Port())
	} else if len(settings) > 0 || *durable {
		fmt.Fprintln(os.Stderr, "withpg: PGTQ_DATABASE_URL is set; server settings are not applied to an existing server")
	}

	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "withpg:", err)
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		// Pass the interrupt on and let the child shut down before the cluster goes away.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		err = <-done
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exitErr):
		if code := exitErr.ExitCode(); code > 0 {
			return code
		}
		return 1
	default:
		fmt.Fprintln(os.Stderr, "withpg:", err)
		return 1
	}
}
