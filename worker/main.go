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
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
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
// exits: 0 after a clean shutdown, 2 for bad flags or when a processor's queue does not exist in the
// database (the message names each missing queue), 1 when the database is unreachable or not migrated.
// A second signal during shutdown kills the process at once. The time flags take a number in the unit of
// their name (the seed's form) or a Go duration ("90s", "12h"); logs go to stderr as --log-format at
// --log-level.
func Main(processors ...*Processor) {
	MainWith(nil, processors...)
}

// MainOptions extends Main. A nil *MainOptions is Main.
type MainOptions struct {
	// Metrics, when set, makes --metrics-addr serve the handler it returns. It is called once, before the
	// worker is created, with the worker's options (to add lifecycle hooks) and a function that reports the
	// worker's slots in use (Worker.SlotsInUse). The metrics package's Main sets it (package worker does not
	// depend on Prometheus). Defaults to nil: --metrics-addr is then refused.
	Metrics func(opts *Options, slotsInUse func() int) http.Handler
}

// MainWith is Main with options: metrics.Main calls it so that --metrics-addr serves Prometheus metrics.
func MainWith(mo *MainOptions, processors ...*Processor) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal gets the default behaviour: exit at once
	}()
	os.Exit(runMain(ctx, os.Args[0], os.Args[1:], os.Getenv, os.Stderr, processors, mo))
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

// durationFlag is a time flag that takes a number in its unit (the seed's form: "1.5" seconds) or a Go
// duration ("1500ms", "12h").
type durationFlag struct {
	d    *time.Duration
	unit time.Duration
}

func (f durationFlag) String() string {
	if f.d == nil || f.unit == 0 {
		return ""
	}
	return strconv.FormatFloat(float64(*f.d)/float64(f.unit), 'g', -1, 64)
}

func (f durationFlag) Set(v string) error {
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		if math.IsInf(n, 0) || math.IsNaN(n) || math.Abs(n*float64(f.unit)) > math.MaxInt64 {
			return errors.New("out of range")
		}
		*f.d = time.Duration(n * float64(f.unit))
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("want a number of %s or a Go duration such as 90s or 12h", unitName(f.unit))
	}
	*f.d = d
	return nil
}

func unitName(unit time.Duration) string {
	switch unit {
	case time.Minute:
		return "minutes"
	case time.Hour:
		return "hours"
	default:
		return "seconds"
	}
}

// cliConfig is what the flags of Main set.
type cliConfig struct {
	databaseURL      string
	concurrency      int
	pollInterval     time.Duration
	pollErrInterval  time.Duration
	pruneInterval    time.Duration
	pruneBatch       int
	retention        time.Duration
	shutdownTimeout  time.Duration
	include, exclude stringList
	logFormat        string
	logLevel         slog.Level
	metricsAddr      string
}

// durationVar defines a durationFlag with default def and unit.
func durationVar(fs *flag.FlagSet, d *time.Duration, name string, def, unit time.Duration, usage string) {
	*d = def
	fs.Var(durationFlag{d: d, unit: unit}, name, usage+" ("+unitName(unit)+", or a Go duration such as 90s or 12h)")
}

func parseFlags(name string, args []string, stderr io.Writer) (*cliConfig, error) {
	c := &cliConfig{}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.databaseURL, "database-url", "", "PostgreSQL connection URL (default: $DATABASE_URL, else the PG* variables)")
	fs.IntVar(&c.concurrency, "concurrency-limit", ConcurrencyLimitDefault, "tasks this worker runs at once, across all its queues")
	durationVar(fs, &c.pollInterval, "poll-interval-seconds", PollIntervalDefault, time.Second, "fallback poll interval; LISTEN/NOTIFY wakes the worker at once")
	durationVar(fs, &c.pollErrInterval, "poll-exception-interval-seconds", PollExceptionIntervalDefault, time.Second, "wait after a database error, doubled (with jitter) on repeated errors")
	durationVar(fs, &c.pruneInterval, "prune-interval", PruneIntervalDefault, time.Minute, "time between prunes of archived tasks per queue; 0 disables pruning")
	fs.IntVar(&c.pruneBatch, "prune-batch-size", PruneBatchSizeDefault, "archived rows deleted per prune batch")
	durationVar(fs, &c.retention, "archive-retention-hours", ArchiveRetentionDefault, time.Hour, "age after which archived tasks are pruned")
	durationVar(fs, &c.shutdownTimeout, "shutdown-timeout-seconds", ShutdownTimeoutDefault, time.Second, "how long running tasks may finish after SIGINT/SIGTERM before they are cancelled and released")
	fs.Var(&c.include, "include", "serve only this queue (repeatable, or comma-separated)")
	fs.Var(&c.exclude, "exclude", "do not serve this queue (repeatable, or comma-separated)")
	fs.StringVar(&c.logFormat, "log-format", "text", "log format on stderr: text or json")
	level := fs.String("log-level", "info", "least level logged: debug, info, warn or error")
	fs.StringVar(&c.metricsAddr, "metrics-addr", "", "serve Prometheus metrics on this address (host:port, path /metrics); needs a binary built with metrics.Main")
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
	case c.pollInterval <= 0:
		return nil, fmt.Errorf("--poll-interval-seconds must be > 0, got %s", c.pollInterval)
	case c.pollErrInterval <= 0:
		return nil, fmt.Errorf("--poll-exception-interval-seconds must be > 0, got %s", c.pollErrInterval)
	case c.pruneInterval < 0:
		return nil, fmt.Errorf("--prune-interval must be >= 0, got %s", c.pruneInterval)
	case c.pruneBatch < 1:
		return nil, fmt.Errorf("--prune-batch-size must be >= 1, got %d", c.pruneBatch)
	case c.retention <= 0:
		return nil, fmt.Errorf("--archive-retention-hours must be > 0, got %s", c.retention)
	case c.shutdownTimeout < 0:
		return nil, fmt.Errorf("--shutdown-timeout-seconds must be >= 0, got %s", c.shutdownTimeout)
	case c.logFormat != "text" && c.logFormat != "json":
		return nil, fmt.Errorf("--log-format must be text or json, got %q", c.logFormat)
	}
	switch strings.ToLower(*level) {
	case "debug":
		c.logLevel = slog.LevelDebug
	case "info":
		c.logLevel = slog.LevelInfo
	case "warn", "warning":
		c.logLevel = slog.LevelWarn
	case "error":
		c.logLevel = slog.LevelError
	default:
		return nil, fmt.Errorf("--log-level must be debug, info, warn or error, got %q", *level)
	}
	return c, nil
}

// newLogger returns the logger of Main: format "text" or "json" on w, from level up.
func newLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	o := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}

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
func runMain(ctx context.Context, name string, args []string, getenv func(string) string, stderr io.Writer, processors []*Processor, mo *MainOptions) int {
	c, err := parseFlags(name, args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err == nil && c.metricsAddr != "" && (mo == nil || mo.Metrics == nil) {
		err = errors.New("--metrics-addr needs a worker binary whose main calls metrics.Main (package github.com/pgtq/pgtq/metrics) instead of worker.Main")
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
	logger := newLogger(stderr, c.logFormat, c.logLevel)
	pruneInterval := c.pruneInterval
	if pruneInterval == 0 {
		pruneInterval = PruneDisabled
	}
	opts := &Options{
		Processors:            procs,
		ConcurrencyLimit:      c.concurrency,
		PollInterval:          c.pollInterval,
		PollExceptionInterval: c.pollErrInterval,
		PruneInterval:         pruneInterval,
		PruneBatchSize:        c.pruneBatch,
		ArchiveRetention:      c.retention,
		ShutdownTimeout:       max(c.shutdownTimeout, time.Nanosecond),
		Logger:                logger,
	}
	// Catch processor configuration errors before touching the network.
	if err := opts.validate(); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return ExitUsage
	}
	// The worker exists only later; the metrics read its slots through this pointer.
	var running atomic.Pointer[Worker]
	if c.metricsAddr != "" {
		h := mo.Metrics(opts, func() int {
			if w := running.Load(); w != nil {
				return w.SlotsInUse()
			}
			return 0
		})
		ln, err := net.Listen("tcp", c.metricsAddr)
		if err != nil {
			fmt.Fprintf(stderr, "%s: --metrics-addr: %v\n", name, err)
			return ExitUsage
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", h)
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		logger.Info("pgtq: serving metrics", "addr", ln.Addr().String(), "path", "/metrics")
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
	running.Store(w)
	queues := make([]string, len(procs))
	for i, p := range procs {
		queues[i] = p.queue
	}
	stopped := make(chan struct{})
	go func() {
		select {
		case <-w.Ready(): // after Run's start-up checks
			logger.Info("pgtq: worker started", "queues", strings.Join(queues, ","), "concurrency_limit", c.concurrency, "pid", os.Getpid())
		case <-stopped:
		}
	}()
	err = w.Run(ctx)
	close(stopped)
	if errors.Is(err, driver.ErrQueueNotFound) {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return ExitUsage
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return ExitFailure
	}
	logger.Info("pgtq: worker stopped")
	return ExitOK
}
