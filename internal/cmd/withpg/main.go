// Command withpg runs a command against a PostgreSQL server: the one named by PGTQ_DATABASE_URL when it is set,
// otherwise a throwaway cluster started from the local binaries (torn down afterwards, also when the command
// fails or the run is interrupted). The child sees the server's URL in PGTQ_DATABASE_URL.
//
// -fsync-delay d loads the slow-fsync shim (bench/slowfsync/slowfsync.c, compiled with gcc on first use) into
// the throwaway cluster's server processes: every fsync/fdatasync then takes d longer, a simulated cloud disk.
// The child then also sees the delay in microseconds in PGTQ_FSYNC_DELAY_US.
//
// Usage:
//
//	withpg [-c name=value]... [-durable] [-fsync-delay 1ms [-fsync-shim file.c]] -- command [args...]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

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

// shimPath is the slow-fsync shim's source, relative to the module root.
const shimPath = "bench/slowfsync/slowfsync.c"

// buildShim compiles the slow-fsync shim (cached) and returns the library's path. Without an explicit
// source it looks for shimPath in the working directory and its parents (make runs from the module root).
func buildShim(ctx context.Context, src string) (string, error) {
	if src == "" {
		dir, err := os.Getwd()
		if err != nil {
			return "", err
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, shimPath)); err == nil {
				src = filepath.Join(dir, shimPath)
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				return "", fmt.Errorf("%s not found from the working directory; pass -fsync-shim", shimPath)
			}
			dir = parent
		}
	}
	bctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return pgcluster.BuildPreload(bctx, src)
}

func run() int {
	settings := settingsFlag{}
	fs := flag.NewFlagSet("withpg", flag.ContinueOnError)
	fs.Var(settings, "c", "server setting name=value (repeatable)")
	durable := fs.Bool("durable", false, "start from durable settings (fsync and synchronous_commit on) instead of test settings")
	fsyncDelay := fs.Duration("fsync-delay", 0, "load the slow-fsync shim into the server: every fsync/fdatasync takes this much longer (0: off)")
	shimSrc := fs.String("fsync-shim", "", "C source of the slow-fsync shim (default bench/slowfsync/slowfsync.c of the module)")
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
		opts := &pgcluster.Options{Settings: base}
		if *fsyncDelay > 0 {
			lib, err := buildShim(ctx, *shimSrc)
			if err != nil {
				fmt.Fprintln(os.Stderr, "withpg:", err)
				return 1
			}
			us := strconv.FormatInt(fsyncDelay.Microseconds(), 10)
			opts.Preload = lib
			opts.Env = []string{pgcluster.FsyncDelayEnv + "=" + us}
			os.Setenv(pgcluster.FsyncDelayEnv, us)
		}
		cluster, err := pgcluster.Start(ctx, opts)
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
		if *fsyncDelay > 0 {
			fmt.Fprintf(os.Stderr, "withpg: slow-fsync shim loaded: every fsync/fdatasync of the server takes %s longer\n", *fsyncDelay)
		}
	} else if len(settings) > 0 || *durable || *fsyncDelay > 0 {
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
