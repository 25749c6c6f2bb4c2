package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pgtq/pgtq/dashboard"
	"github.com/pgtq/pgtq/driver"
	"github.com/pgtq/pgtq/httpapi"
	"github.com/pgtq/pgtq/internal/migratecli"
	"github.com/pgtq/pgtq/metrics"
)

// Exit codes.
const (
	exitOK       = 0
	exitDatabase = 1
	exitUsage    = 2
	exitNotFound = 3
)

// TokenEnv names the environment variable that holds the bearer token of `pgtq serve --writes`.
const TokenEnv = "PGTQ_API_TOKEN"

// cliError carries an error and its exit code.
type cliError struct {
	code int
	err  error
}

func (e *cliError) Error() string { return e.err.Error() }
func (e *cliError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return &cliError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

func notFoundf(format string, args ...any) error {
	return &cliError{code: exitNotFound, err: fmt.Errorf(format, args...)}
}

// exitCode maps an error to the exit code: driver errors by their sentinel, then cliError's code.
func exitCode(err error) int {
	var ce *cliError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ce):
		return ce.code
	case errors.Is(err, driver.ErrQueueNotFound), errors.Is(err, driver.ErrMessageNotFound):
		return exitNotFound
	case errors.Is(err, driver.ErrInvalidArgument), errors.Is(err, driver.ErrInvalidQueueName):
		return exitUsage
	default:
		return exitDatabase
	}
}

// config is the parsed command line.
type config struct {
	databaseURL    string
	connectTimeout time.Duration
	json           bool
	status, group  string
	after          int64
	limit          int
	all            bool
	errorContains  string
	watch          bool
	interval       time.Duration
	olderThan      string
	addr           string
	writes         bool
	args           []string // the command and its positional arguments
}

func newFlagSet(c *config, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("pgtq", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.databaseURL, "database-url", "", "PostgreSQL connection URL (default: $DATABASE_URL, else the PG* environment variables; one is required)")
	fs.DurationVar(&c.connectTimeout, "connect-timeout", 10*time.Second, "how long to wait for the server")
	fs.BoolVar(&c.json, "json", false, "print JSON instead of tables")
	fs.StringVar(&c.status, "status", "", "tasks: only tasks in this state (queued, delayed, processing, retrying)")
	fs.StringVar(&c.group, "group", "", "tasks, reschedule --all: only tasks of this group")
	fs.Int64Var(&c.after, "after", 0, "tasks: the page after this msg_id (the last msg_id of the previous page)")
	fs.IntVar(&c.limit, "limit", driver.ListLimitDefault, fmt.Sprintf("tasks, dlq: page size (at most %d)", driver.ListLimitMax))
	fs.BoolVar(&c.all, "all", false, "reschedule: every DLQ entry (filtered by --group and --error-contains)")
	fs.StringVar(&c.errorContains, "error-contains", "", "reschedule --all: only entries with an error containing this text")
	fs.BoolVar(&c.watch, "watch", false, "stats: repeat every --interval until interrupted")
	fs.DurationVar(&c.interval, "interval", 2*time.Second, "stats --watch: time between refreshes")
	fs.StringVar(&c.olderThan, "older-than", "", "purge-dlq: age of the entries to delete (Go duration or days, e.g. 72h, 7d; 0 = all)")
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "serve: listen address")
	fs.BoolVar(&c.writes, "writes", false, "serve: enable the write routes; they need the bearer token in $"+TokenEnv)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.PrintDefaults()
	}
	return fs
}

const usageText = `usage: pgtq [flags] COMMAND [ARGS] [flags]
  queues                                every queue's counts and pause state
  stats [QUEUE] [--watch]               counts of one queue (all without QUEUE)
  tasks QUEUE [--status S] [--group G]  tasks in the queue, msg_id ascending (--after, --limit page)
  task QUEUE ID                         a task and its history (ID: msg_id or task id)
  dlq QUEUE                             dead-letter entries, oldest first
  reschedule QUEUE ID|--all             DLQ entries back into the queue
  cancel QUEUE ID                       take a task out of the queue (archived as cancelled)
  retry QUEUE ID                        make a retrying or delayed task due now
  pause QUEUE | resume QUEUE            stop / restart claims (running tasks finish)
  purge-dlq QUEUE --older-than D        delete DLQ entries older than D (72h, 7d, 0 = all)
  serve [--addr ADDR] [--writes]        the dashboard (/), the HTTP API (/api/) and metrics (/metrics);
                                        writes need the bearer token in $PGTQ_API_TOKEN
  migrate up|down|redo|status|version   the schema migrator (same as pgtq-migrate)
The database comes from --database-url, else $DATABASE_URL, else the PG* variables; without any of them pgtq
refuses. Exit codes: 0 success, 1 database error, 2 bad usage, 3 not found (queue, task, or a task no longer in
a state the command applies to).
Flags (before or after the command):
`

// run runs the command line and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c config
	fs := newFlagSet(&c, stderr)
	if rest, ok := migrateArgs(fs, args); ok {
		err := migratecli.Run(ctx, "pgtq migrate", rest, stdout, stderr)
		if err != nil && !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "pgtq migrate:", err)
		}
		return migratecli.ExitCode(err)
	}
	err := parse(fs, &c, args)
	if err == nil {
		err = dispatch(ctx, &c, stdout, stderr)
	}
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stderr, "pgtq:", err)
	}
	return exitCode(err)
}

// migrateArgs reports whether the command is migrate and returns the arguments without the word "migrate"
// (flags before it included), for migratecli.
func migrateArgs(fs *flag.FlagSet, args []string) ([]string, bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return nil, false
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			if a != "migrate" {
				return nil, false
			}
			return append(append([]string{}, args[:i]...), args[i+1:]...), true
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := fs.Lookup(name)
		if f == nil || hasValue {
			continue
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			continue
		}
		i++ // the flag's value
	}
	return nil, false
}

// parse reads flags before and after the command into c.
func parse(fs *flag.FlagSet, c *config, args []string) error {
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return &cliError{code: exitUsage, err: err}
		}
		if fs.NArg() == 0 {
			break
		}
		c.args = append(c.args, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(c.args) == 0 {
		fs.Usage()
		return usagef("no command given")
	}
	if c.limit < 1 || c.limit > driver.ListLimitMax {
		return usagef("--limit must be between 1 and %d, got %d", driver.ListLimitMax, c.limit)
	}
	if c.interval <= 0 {
		return usagef("--interval must be positive, got %s", c.interval)
	}
	return nil
}

// commands maps each command to its number of positional arguments (min, max) and its implementation.
var commands = map[string]struct {
	min, max int
	run      func(ctx context.Context, c *config, cl *driver.Client, out *output) error
}{
	"queues":     {0, 0, cmdQueues},
	"stats":      {0, 1, cmdStats},
	"tasks":      {1, 1, cmdTasks},
	"task":       {2, 2, cmdTask},
	"dlq":        {1, 1, cmdDLQ},
	"reschedule": {1, 2, cmdReschedule},
	"cancel":     {2, 2, cmdCancel},
	"retry":      {2, 2, cmdRetry},
	"pause":      {1, 1, cmdPause},
	"resume":     {1, 1, cmdPause},
	"purge-dlq":  {1, 1, cmdPurgeDLQ},
	"serve":      {0, 0, cmdServe},
}

func dispatch(ctx context.Context, c *config, stdout, stderr io.Writer) error {
	name := c.args[0]
	cmd, ok := commands[name]
	if !ok {
		return usagef("unknown command %q (see pgtq --help)", name)
	}
	if n := len(c.args) - 1; n < cmd.min || n > cmd.max {
		return usagef("%s takes %d to %d arguments, got %d: %q", name, cmd.min, cmd.max, n, c.args[1:])
	}
	if name == "reschedule" && (len(c.args) == 3) == c.all {
		return usagef("reschedule takes either a DLQ msg_id or --all")
	}
	if name == "purge-dlq" && c.olderThan == "" {
		return usagef("purge-dlq needs --older-than (e.g. 72h, 7d, or 0 for all)")
	}
	cl, closeFn, err := connect(ctx, c, stderr)
	if err != nil {
		return err
	}
	defer closeFn()
	return cmd.run(ctx, c, cl, &output{w: stdout, stderr: stderr, json: c.json})
}

// connect opens a pool as pgtq-migrate does: --database-url, else DATABASE_URL, else PG*; refuses without any.
func connect(ctx context.Context, c *config, stderr io.Writer) (*driver.Client, func(), error) {
	url := c.databaseURL
	if url == "" {
		url = os.Getenv("DATABASE_URL")
	}
	if url == "" && !migratecli.AnySet(migratecli.TargetEnv) {
		return nil, nil, usagef("no database given: pass --database-url URL, or set DATABASE_URL or the PG* "+
			"variables (%s)", strings.Join(migratecli.TargetEnv, ", "))
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, nil, usagef("invalid database URL: %w", err)
	}
	cfg.MaxConns = 4
	cctx, cancel := context.WithTimeout(ctx, c.connectTimeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(cctx, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("connect: %w", err)
	}
	if err := pool.Ping(cctx); err != nil {
		pool.Close()
		cc := cfg.ConnConfig
		return nil, nil, fmt.Errorf("connect to %s:%d/%s: %w", cc.Host, cc.Port, cc.Database, err)
	}
	cl, err := driver.New(cctx, pool)
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	return cl, pool.Close, nil
}

// output writes tables or JSON.
type output struct {
	w, stderr io.Writer
	json      bool
}

// emit prints v as JSON, or calls table with an aligned writer.
func (o *output) emit(v any, table func(tw *tabwriter.Writer)) error {
	if o.json {
		enc := json.NewEncoder(o.w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(o.w, 0, 4, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

func ts(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func queueTable(tw *tabwriter.Writer, qs []driver.QueueInfo) {
	fmt.Fprintln(tw, "QUEUE\tQUEUED\tDELAYED\tPROCESSING\tRETRYING\tDLQ\tARCHIVED\tOLDEST\tPAUSED")
	for _, q := range qs {
		oldest := "-"
		if q.OldestQueuedAgeSeconds != nil {
			oldest = (time.Duration(*q.OldestQueuedAgeSeconds * float64(time.Second))).Round(time.Second).String()
		}
		paused := "no"
		if q.Paused {
			paused = "yes"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", q.Queue, q.Queued, q.Delayed, q.Processing,
			q.Retrying, q.DLQ, q.Archived, oldest, paused)
	}
}

func cmdQueues(ctx context.Context, c *config, cl *driver.Client, out *output) error {
	qs, err := cl.ListQueues(ctx)
	if err != nil {
		return err
	}
	if qs == nil {
		qs = []driver.QueueInfo{}
	}
	return out.emit(qs, func(tw *tabwriter.Writer) { queueTable(tw, qs) })
}

func cmdStats(ctx context.Context, c *config, cl *driver.Client, out *output) error {
	once := func() error {
		if len(c.args) == 1 {
			return cmdQueues(ctx, c, cl, out)
		}
		q, err := cl.QueueInfo(ctx, c.args[1])
		if err != nil {
			return err
		}
		return out.emit(q, func(tw *tabwriter.Writer) { queueTable(tw, []driver.QueueInfo{*q}) })
	}
	if !c.watch {
		return once()
	}
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		if !out.json {
			fmt.Fprintf(out.w, "%s\n", time.Now().Format(time.RFC3339))
		}
		if err := once(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil // interrupted: the normal end of --watch
		case <-t.C:
		}
		if !out.json {
			fmt.Fprintln(out.w)
		}
	}
}

func taskTable(tw *tabwriter.Writer, ts []driver.TaskView, withPlace bool) {
	head := "MSG_ID\tSTATUS\tGROUP\tREAD_CT\tENQUEUED\tVISIBLE_AT\tTASK_ID"
	if withPlace {
		head = "PLACE\tMSG_ID\tSTATUS\tGROUP\tREAD_CT\tENQUEUED\tARCHIVED\tTASK_ID"
	}
	fmt.Fprintln(tw, head)
	for _, t := range ts {
		if withPlace {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%s\t%s\t%s\n", t.Place, t.MsgID, orDash(t.Status), orDash(t.GroupKey),
				t.ReadCount, tsv(t.EnqueuedAt), ts2(t.ArchivedAt), orDash(t.TaskID))
			continue
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%s\n", t.MsgID, orDash(t.Status), orDash(t.GroupKey), t.ReadCount,
			tsv(t.EnqueuedAt), tsv(t.VisibleAt), orDash(t.TaskID))
	}
}

func tsv(t time.Time) string  { return ts(&t) }
func ts2(t *time.Time) string { return ts(t) }

func cmdTasks(ctx context.Context, c *config, cl *driver.Client, out *output) error {
	tasks, err := cl.ListTasks(ctx, c.args[1], &driver.ListTasksOptions{
		Status: c.status, Group: c.group, After: c.after, Limit: c.limit,
	})
	if err != nil {
		return err
	}
	if tasks == nil {
		tasks = []driver.TaskView{}
	}
	if err := out.emit(tasks, func(tw *tabwriter.Writer) { taskTable(tw, tasks, false) }); err != nil {
		return err
	}
	if len(tasks) == c.limit {
		fmt.Fprintf(out.stderr, "more: pgtq tasks %s --after %d\n", c.args[1], tasks[len(tasks)-1].MsgID)
	}
	return nil
}

func cmdTask(ctx context.Context, c *config, cl *driver.Client, out *output) error {
	queue, id := c.args[1], c.args[2]
	var (
		hist []driver.TaskView
		err  error
	)
	if n, perr := strconv.ParseInt(id, 10, 64); perr == nil {
		hist, err = cl.GetTask(ctx, queue, n)
	} else {
		hist, err = cl.GetTaskByID(ctx, queue, id)
	}
	if err != nil {
		return err
	}
	return out.emit(hist, func(tw *tabwriter.Writer) {
		taskTable(tw, hist, true)
		last := hist[len(hist)-1]
		fmt.Fprintf(tw, "\nmessage: %s\nheaders: %s\n", last.Message, last.Headers)
	})
}

func cmdDLQ(ctx context.Context, c *config, cl *driver.Client, out *output) error {
	entries, err := cl.ListDLQ(ctx, c.args[1], c.limit)
	if err != nil {
		return err
	}
	js := httpapi.DLQEntries(entries)
	return out.emit(js, func(tw *tabwriter.Writer) {
		fmt.Fprintln(tw, "MSG_ID\tORIGINAL\tGROUP\tDEAD_LETTERED\tLAST_ERROR\tTASK_ID")
		for _, e := range entries {
			last := "-"
			if len(e.Errors) > 0 {
				last = e.Errors[len(e.Errors)-1].Error
			}
			fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\n", e.MsgID, e.OriginalMsgID, orDash(e.GroupKey),
				tsv(e.DeadLetteredAt), strings.ReplaceAll(last, "\n", " "), orDash(e.TaskID))
		}
	})
}

func msgID(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return 0, usagef("ID must be a positive msg_id, got %q", s)
	}
	return n, nil
}

func cmdReschedule(ctx context.Context, c *config, cl *driver.Client, out *output) error {
	queue := c.args[1]
	if c.all {
		n, err := cl.RescheduleAll(ctx, queue, &driver.RescheduleFilter{Group: c.group, ErrorContains: c.errorContains})
		if err != nil {
			return err
		}
		return out.emit(map[string]any{"queue": queue, "rescheduled": n}, func(tw *tabwriter.Writer) {
			fmt.Fprintf(tw, "rescheduled %d entries of %s\n", n, queue)
		})
	}
	id, err := msgID(c.args[2])
	if err != nil {
		return err
	}
	n, err := cl.Reschedule(ctx, queue, id)
	if err != nil {
		return err
	}
	return out.emit(map[string]any{"queue": queue, "dlq_msg_id": id, "msg_id": n}, func(tw *tabwriter.Writer) {
		fmt.Fprintf(tw, "rescheduled DLQ entry %d of %s as msg %d\n", id, queue, n)
	})
}

func cmdCancel(ctx context.Context, c *config, cl *driver.Client, out *output) error {
	queue := c.args[1]
	id, err := msgID(c.args[2])
	if err != nil {
		return err
	}
	ok, status, err := cl.Cancel(ctx, queue, id)
	if err != nil {
		return err
	}
	if err := out.emit(map[string]any{"queue": queue, "msg_id": id, "cancelled": ok, "status": status}, func(tw *tabwriter.Writer) {
		if ok {
			fmt.Fprintf(tw, "cancelled msg %d of %s (was %s)\n", id, queue, status)
		}
	}); err != nil {
		return err
	}
	if !ok {
		return notFoundf("msg %d of %s is no longer in the queue (%s): not cancelled", id, queue, status)
	}
	return nil
}

func cmdRetry(ctx context.Context, c *config, cl *driver.Client, out *output) error {
	queue := c.args[1]
	id, err := msgID(c.args[2])
	if err != nil {
		return err
	}
	ok, status, err := cl.RetryNow(ctx, queue, id)
	if err != nil {
		return err
	}
	if err := out.emit(map[string]any{"queue": queue, "msg_id": id, "made_due": ok, "status": status}, func(tw *tabwriter.Writer) {
		if ok {
			fmt.Fprintf(tw, "msg %d of %s is due now (was %s)\n", id, queue, status)
		}
	}); err != nil {
		return err
	}
	if !ok {
		return notFoundf("msg %d of %s is %s, not retrying or delayed: nothing changed", id, queue, status)
	}
	return nil
}

func cmdPause(ctx context.Context, c *config, cl *driver.Client, out *output) error {
	queue := c.args[1]
	pause := c.args[0] == "pause"
	var (
		changed bool
		err     error
	)
	if pause {
		changed, err = cl.Pause(ctx, queue)
	} else {
		changed, err = cl.Resume(ctx, queue)
	}
	if err != nil {
		return err
	}
	return out.emit(map[string]any{"queue": queue, "paused": pause, "changed": changed}, func(tw *tabwriter.Writer) {
		state := map[bool]string{true: "paused", false: "running"}[pause]
		if changed {
			fmt.Fprintf(tw, "%s is %s\n", queue, state)
		} else {
			fmt.Fprintf(tw, "%s was already %s\n", queue, state)
		}
	})
}

// parseAge parses a Go duration or a whole number of days ("7d").
func parseAge(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err == nil && n >= 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, usagef("--older-than must be a duration >= 0 such as 72h or 7d, got %q", s)
	}
	return d, nil
}

func cmdPurgeDLQ(ctx context.Context, c *config, cl *driver.Client, out *output) error {
	queue := c.args[1]
	age, err := parseAge(c.olderThan)
	if err != nil {
		return err
	}
	n, err := cl.PurgeDLQ(ctx, queue, age)
	if err != nil {
		return err
	}
	return out.emit(map[string]any{"queue": queue, "deleted": n}, func(tw *tabwriter.Writer) {
		fmt.Fprintf(tw, "deleted %d DLQ entries of %s older than %s\n", n, queue, age)
	})
}

func cmdServe(ctx context.Context, c *config, cl *driver.Client, out *output) error {
	opts := &httpapi.Options{Writes: c.writes}
	if c.writes {
		opts.Token = os.Getenv(TokenEnv)
		if opts.Token == "" {
			return usagef("--writes needs a bearer token in $%s", TokenEnv)
		}
	}
	api, err := httpapi.New(cl, opts)
	if err != nil {
		return usagef("%w", err)
	}
	// The dashboard's reschedule buttons follow the API's write rules, with the same token.
	dash, err := dashboard.New(cl, &dashboard.Options{Writes: opts.Writes, Token: opts.Token})
	if err != nil {
		return usagef("%w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewQueueCollector(cl, nil))
	mux := http.NewServeMux()
	mux.Handle("/api/", api)
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/", dash)
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return usagef("listen on %s: %w", c.addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(out.stderr, "pgtq: serving on http://%s (dashboard /, API /api/, metrics /metrics; writes %s)\n",
		ln.Addr(), map[bool]string{true: "enabled", false: "disabled"}[c.writes])
	dctx, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	go func() { _ = dash.Run(dctx) }()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}
