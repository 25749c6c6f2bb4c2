package worker

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgtq/pgtq/driver"
)

// Exit codes of Main.
const (
	// ExitOK: the worker shut down cleanly after SIGINT or SIGTERM.
	ExitOK = 0
	// ExitFailure: the database is unreachable, not migrated, or the worker failed.
	ExitFailure = 1
	// ExitUsage: bad flags or arguments.
	ExitUsage = 2
)

// connectTimeout bounds the start-up connection check of Main.
const connectTimeout = 15 * time.Second

// Main is the command line of a worker binary: a user's main package builds its processors and calls
//
//	func main() { worker.Main(emailProcessor, reportProcessor) }
//
// Main parses the flags (run the binary with --help), connects to --database-url (else DATABASE_URL,
// else the standard PG* variables), runs a Worker until SIGINT or SIGTERM, shuts it down gracefully and
// exits: 0 after a clean shutdown, 2 for bad flags, 1 when the database is unreachable or not migrated.
// A second signal during shutdown kills the process at once.
func Main(processors ...*Processor) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal gets the default behaviour: exit at once
	}()
	os.Exit(runMain(ctx, os.Args[0], os.Args[1:], os.Getenv, os.Stderr, processors))
}

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }

func (s *stringList) Set(v string) error {
	for part := range strings.SplitSeq(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*s = append(*s, part)
		}
	}
	return nil
}

// cliConfig is what the flags of Main set.
type cliConfig struct {
	databaseURL      string
	concurrency      int
	pollSeconds      float64
	pollErrSeconds   float64
	pruneMinutes     float64
	pruneBatch       int
	retentionHours   float64
	shutdownSeconds  float64
	include, exclude stringList
}

func parseFlags(name string, args []string, stderr io.Writer) (*cliConfig, error) {
	c := &cliConfig{}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.databaseURL, "database-url", "", "PostgreSQL connection URL (default: $DATABASE_URL, else the PG* variables)")
	fs.IntVar(&c.concurrency, "concurrency-limit", ConcurrencyLimitDefault, "tasks this worker runs at once, across all its queues")
	fs.Float64Var(&c.pollSeconds, "poll-interval-seconds", PollIntervalDefault.Seconds(), "fallback poll interval; LISTEN/NOTIFY wakes the worker at once")
	fs.Float64Var(&c.pollErrSeconds, "poll-exception-interval-seconds", PollExceptionIntervalDefault.Seconds(), "wait after a database error, doubled (with jitter) on repeated errors")
	fs.Float64Var(&c.pruneMinutes, "prune-interval", PruneIntervalDefault.Minutes(), "minutes between prunes of archived tasks per queue; 0 disables pruning")
	fs.IntVar(&c.pruneBatch, "prune-batch-size", PruneBatchSizeDefault, "archived rows deleted per prune batch")
	fs.Float64Var(&c.retentionHours, "archive-retention-hours", ArchiveRetentionDefault.Hours(), "age in hours after which archived tasks are pruned")
	fs.Float64Var(&c.shutdownSeconds, "shutdown-timeout-seconds", ShutdownTimeoutDefault.Seconds(), "how long running tasks may finish after SIGINT/SIGTERM before they are cancelled and released")
	fs.Var(&c.include, "include", "serve only this queue (repeatable, or comma-separated)")
	fs.Var(&c.exclude, "exclude", "do not serve this queue (repeatable, or comma-separated)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s [flags]\n\nRuns a PGTQ worker for this binary's processors until SIGINT or SIGTERM.\n\nFlags:\n", name)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case c.concurrency < 1:
		return nil, fmt.Errorf("--concurrency-limit must be >= 1, got %d", c.concurrency)
	case !positive(c.pollSeconds):
		return nil, fmt.Errorf("--poll-interval-seconds must be > 0, got %g", c.pollSeconds)
	case !positive(c.pollErrSeconds):
		return nil, fmt.Errorf("--poll-exception-interval-seconds must be > 0, got %g", c.pollErrSeconds)
	case c.pruneMinutes != 0 && !positive(c.pruneMinutes):
		return nil, fmt.Errorf("--prune-interval must be >= 0, got %g", c.pruneMinutes)
	case c.pruneBatch < 1:
		return nil, fmt.Errorf("--prune-batch-size must be >= 1, got %d", c.pruneBatch)
	case !positive(c.retentionHours):
		return nil, fmt.Errorf("--archive-retention-hours must be > 0, got %g", c.retentionHours)
	case c.shutdownSeconds != 0 && !positive(c.shutdownSeconds):
		return nil, fmt.Errorf("--shutdown-timeout-seconds must be >= 0, got %g", c.shutdownSeconds)
	}
	return c, nil
}

func positive(f float64) bool { return f > 0 && !math.IsInf(f, 0) && !math.IsNaN(f) }

func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

// selectProcessors applies --include and --exclude.
func selectProcessors(all []*Processor, include, exclude []string) ([]*Processor, error) {
	known := make([]string, 0, len(all))
	for _, p := range all {
		known = append(known, p.queue)
	}
	for _, q := range slices.Concat(include, exclude) {
		if !slices.Contains(known, q) {
			return nil, fmt.Errorf("unknown queue %q (this binary serves: %s)", q, strings.Join(known, ", "))
		}
	}
	var out []*Processor
	for _, p := range all {
		if (len(include) == 0 || slices.Contains(include, p.queue)) && !slices.Contains(exclude, p.queue) {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("--include/--exclude leave no queue to serve")
	}
	return out, nil
}

// runMain is Main without the process: it returns the exit code.
func runMain(ctx context.Context, name string, args []string, getenv func(string) string, stderr io.Writer, processors []*Processor) int {
	c, err := parseFlags(name, args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\nRun %s --help for usage.\n", name, err, name)
		return ExitUsage
	}
	procs, err := selectProcessors(processors, c.include, c.exclude)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return ExitUsage
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	pruneInterval := time.Duration(c.pruneMinutes * float64(time.Minute))
	if pruneInterval == 0 {
		pruneInterval = PruneDisabled
	}
	opts := &Options{
		Processors:            procs,
		ConcurrencyLimit:      c.concurrency,
		PollInterval:          seconds(c.pollSeconds),
		PollExceptionInterval: seconds(c.pollErrSeconds),
		PruneInterval:         pruneInterval,
		PruneBatchSize:        c.pruneBatch,
		ArchiveRetention:      time.Duration(c.retentionHours * float64(time.Hour)),
		ShutdownTimeout:       max(seconds(c.shutdownSeconds), time.Nanosecond),
		Logger:                logger,
	}
	// Catch processor configuration errors before touching the network.
	if err := opts.validate(); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return ExitUsage
	}

	url := cmp.Or(c.databaseURL, getenv("DATABASE_URL")) // "" lets pgx read the PG* variables
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		fmt.Fprintf(stderr, "%s: bad database URL: %v\n", name, err)
		return ExitUsage
	}
	// The worker claims, completes and records failures on connections of its own (PoolConnsMin) and the
	// handlers may use the pool too: pgxpool's default (max(4, NumCPU)) would make them queue for
	// connections. A pool_max_conns in the URL still wins when it is larger.
	cfg.MaxConns = max(cfg.MaxConns, int32(min(c.concurrency+PoolConnsMin+1, 64)))
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "%s: connect: %v\n", name, err)
		return ExitFailure
	}
	defer pool.Close()
	pctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		fmt.Fprintf(stderr, "%s: cannot reach the database at %s:%d: %v\n", name, cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
		return ExitFailure
	}
	client, err := driver.New(pctx, pool)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return ExitFailure
	}
	w, err := New(client, opts)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return ExitUsage
	}
	queues := make([]string, len(procs))
	for i, p := range procs {
		queues[i] = p.queue
	}
	logger.Info("pgtq: worker started", "queues", strings.Join(queues, ","), "concurrency_limit", c.concurrency, "pid", os.Getpid())
	if err := w.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return ExitFailure
	}
	logger.Info("pgtq: worker stopped")
	return ExitOK
}
