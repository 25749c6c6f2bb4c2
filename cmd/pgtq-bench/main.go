// Command pgtq-bench measures PGTQ's throughput and latency against a PostgreSQL cluster and compares
// every scenario with the cheapest claim-and-delete loop the same machine can run.
//
// It reads the server from PGTQ_DATABASE_URL (the Makefile's `make bench` starts a throwaway cluster with
// durable settings and sets it), creates scratch databases whose names start with -db-prefix, migrates a
// template with package migrate and clones it for every run. Each scenario runs -runs times and the table
// shows the median of every column; -json writes all runs. BENCH_QUICK=1 shrinks every size so that the
// whole suite finishes in under two minutes.
//
// The river scenarios run River's own `river bench` (built from the module proxy in a throwaway module, see
// river.go) on the same cluster, interleaved with PGTQ's burn-down and continuous runs. Every run of either
// system also reports its WAL flushes, commits and WAL records and bytes per task, and the cluster's flush
// cost measured just before it (wal.go).
//
// Usage:
//
//	pgtq-bench [-only burn-down,latency] [-runs 3] [-json bench.json] [-engine worker|sql]
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgtq/pgtq/internal/pgcluster"
)

// config is the parsed command line.
type config struct {
	url         string
	prefix      string
	only        []string
	runs        int
	jsonPath    string
	quick       bool
	engine      string
	concurrency int
	conns       int
	keepDBs     bool
	extraSQL    string
	mdPath      string
	verbose     bool
	scale       float64
	checkpoint  bool
	profileDir  string
}

// defaultEngine is the engine used when -engine is not given: the real driver and worker packages.
const defaultEngine = "worker"

// producers per engine: how continuous and latency scenarios enqueue.
var producers = map[string]func(pool *pgxpool.Pool) producer{
	"sql": func(pool *pgxpool.Pool) producer { return sqlProducer{pool} },
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == childArgName {
		os.Exit(childMain(os.Args[2:]))
	}
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "pgtq-bench:", err)
		os.Exit(1)
	}
}

func parseConfig(args []string) (config, error) {
	var c config
	var only string
	fs := flag.NewFlagSet("pgtq-bench", flag.ContinueOnError)
	fs.StringVar(&c.url, "database-url", os.Getenv("PGTQ_DATABASE_URL"), "server to benchmark (default $PGTQ_DATABASE_URL)")
	fs.StringVar(&c.prefix, "db-prefix", "pgtq_bench", "name prefix of the scratch databases")
	fs.StringVar(&only, "only", "", "comma-separated scenario kinds to run: "+strings.Join(allKinds, ","))
	fs.IntVar(&c.runs, "runs", 0, "runs per scenario, the median is reported (default 3, 1 with BENCH_QUICK=1)")
	fs.StringVar(&c.jsonPath, "json", "bench-results.json", "write all results as JSON to this file (empty: don't)")
	fs.StringVar(&c.engine, "engine", defaultEngine, "worker engine: worker (packages driver and worker) or sql (direct pgtq.* calls)")
	fs.IntVar(&c.concurrency, "concurrency", 64, "worker concurrency of the scenarios that do not vary it")
	fs.IntVar(&c.conns, "conns", 4, "database connections of the sql engine and the raw baseline")
	fs.BoolVar(&c.keepDBs, "keep-dbs", false, "keep the scratch databases after each run")
	fs.Float64Var(&c.scale, "scale", 1, "multiply every task count and duration by this factor")
	fs.BoolVar(&c.checkpoint, "checkpoint", os.Getenv("BENCH_QUICK") != "1", "CHECKPOINT before every run so that no checkpoint from the load lands inside it (default off with BENCH_QUICK=1)")
	fs.StringVar(&c.profileDir, "cpuprofile-dir", "", "write a CPU profile of every worker process into this directory")
	fs.BoolVar(&c.verbose, "v", false, "print wait states and top statements after every run")
	fs.StringVar(&c.mdPath, "markdown", "", "also write the table as Markdown to this file")
	fs.StringVar(&c.extraSQL, "extra-sql", "", "SQL file applied to the template after migrating (to try a changed function)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	c.quick = os.Getenv("BENCH_QUICK") == "1"
	if c.url == "" {
		return c, errors.New("no server: set PGTQ_DATABASE_URL or -database-url")
	}
	if c.runs == 0 {
		c.runs = 3
		if c.quick {
			c.runs = 1
		}
	}
	if c.runs < 1 || c.concurrency < 1 || c.conns < 1 {
		return c, errors.New("-runs, -concurrency and -conns must be at least 1")
	}
	if c.scale <= 0 {
		return c, fmt.Errorf("-scale must be > 0, got %g", c.scale)
	}
	if _, ok := childEngines[c.engine]; !ok {
		return c, fmt.Errorf("-engine: unknown engine %q", c.engine)
	}
	if only != "" {
		for _, k := range strings.Split(only, ",") {
			k = strings.TrimSpace(k)
			if !slices.Contains(allKinds, k) {
				return c, fmt.Errorf("-only: unknown scenario %q (have %s)", k, strings.Join(allKinds, ","))
			}
			c.only = append(c.only, k)
		}
	}
	return c, nil
}

// scenarios lists the suite for the configured sizes.
func scenarios(c config) []scenario {
	n, cont, lat, grp, small, big, lifo, lim := 200_000, 60*time.Second, 30*time.Second, 200_000, 1000, 100_000, 200_000, 100_000
	backlogs, concN := []int{10_000, 100_000, 1_000_000}, 100_000
	if c.quick {
		n, cont, lat, grp, small, big, lifo, lim = 5_000, 5*time.Second, 3*time.Second, 4_000, 200, 2_000, 5_000, 5_000
		backlogs, concN = []int{1_000, 4_000, 16_000}, 5_000
	}
	cc := c.concurrency
	backlog := scaled(riverBacklog, c.scale)
	list := []scenario{
		{Name: "burn-down", Kind: kindBurnDown, Tasks: n, Workers: 1, Concurrency: cc, Interleave: kindBurnDown},
		// River's shape (river.go): as many slots as River's workers, and for continuous River's producer.
		{Name: fmt.Sprintf("burn-down c=%d", riverWorkers), Kind: kindBurnDown, Tasks: n, Workers: 1,
			Concurrency: riverWorkers, Interleave: kindBurnDown, RiverShape: true},
		// Concurrency only shapes the River rows' adjacent raw drain.
		{Name: "river burn-down", Kind: kindRiver, Tasks: n, Workers: 1, Concurrency: cc, Interleave: kindBurnDown},
		{Name: "continuous", Kind: kindContinuous, Duration: cont, Workers: 1, Concurrency: cc, Interleave: kindContinuous},
		{Name: fmt.Sprintf("continuous c=%d, %s backlog", riverWorkers, short(backlog)), Kind: kindContinuous,
			Duration: cont, Workers: 1, Concurrency: riverWorkers, Interleave: kindContinuous,
			Backlog: backlog, ProducerBatch: riverInsertBatch, RiverShape: true},
		{Name: "river continuous", Kind: kindRiver, Duration: cont, Workers: 1, Concurrency: cc, Interleave: kindContinuous},
		{Name: "latency idle", Kind: kindLatency, Duration: lat, Rate: 200, Workers: 1, Concurrency: cc},
		{Name: fmt.Sprintf("grouped %s groups", short(small)), Kind: kindGrouped, Tasks: grp, Groups: small, Workers: 1, Concurrency: cc},
		{Name: fmt.Sprintf("grouped %s groups", short(big)), Kind: kindGrouped, Tasks: grp, Groups: big, Workers: 1, Concurrency: cc},
		{Name: "lifo", Kind: kindLIFO, Tasks: lifo, LIFO: true, Workers: 1, Concurrency: cc},
		{Name: "limit 50, 2 workers", Kind: kindLimit, Tasks: lim, Limit: 50, Workers: 2, Concurrency: cc},
	}
	for _, b := range backlogs {
		list = append(list, scenario{Name: "backlog " + short(b), Kind: kindScaling, Tasks: b, Workers: 1, Concurrency: cc})
	}
	for _, w := range []int{16, 64, 256} {
		list = append(list, scenario{Name: fmt.Sprintf("concurrency %d", w), Kind: kindScaling, Tasks: concN, Workers: 1, Concurrency: w})
	}
	if len(c.only) > 0 {
		// The River-shaped rows run only with River's, which they are compared with.
		list = slices.DeleteFunc(list, func(s scenario) bool {
			return !slices.Contains(c.only, s.Kind) || s.RiverShape && !slices.Contains(c.only, kindRiver)
		})
	}
	// One raw baseline per concurrency in use, with the burn-down's backlog.
	var seen []int
	for _, s := range list {
		if s.Kind != kindRiver && !slices.Contains(seen, s.Concurrency) {
			seen = append(seen, s.Concurrency)
		}
	}
	slices.Sort(seen)
	if len(seen) == 0 {
		seen = []int{cc}
	}
	if len(c.only) == 0 || slices.Contains(c.only, kindRaw) {
		for _, w := range seen {
			list = append(list, scenario{Name: fmt.Sprintf("raw c=%d", w), Kind: kindRaw, Tasks: n, Workers: 1, Concurrency: w})
		}
	}
	list = append(list, pruneScenarios(c)...) // after the raw baselines: prune runs no claims (prune.go)
	for i := range list {
		list[i].Runs = c.runs
		list[i].Tasks = scaled(list[i].Tasks, c.scale)
		list[i].Duration = time.Duration(float64(list[i].Duration) * c.scale)
		if list[i].Groups > 0 {
			list[i].Groups = max(1, min(list[i].Groups, list[i].Tasks/2))
			list[i].Name = fmt.Sprintf("grouped %s groups", short(list[i].Groups))
		}
		if strings.HasPrefix(list[i].Name, "backlog ") {
			list[i].Name = "backlog " + short(list[i].Tasks)
		}
	}
	return list
}

func scaled(n int, f float64) int {
	if n == 0 {
		return 0
	}
	return max(1, int(float64(n)*f))
}

func short(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

// result is one scenario's runs and their medians.
type result struct {
	Scenario scenario    `json:"scenario"`
	Runs     []runResult `json:"runs"`
	Median   runResult   `json:"median"`
	RawRatio float64     `json:"raw_ratio,omitempty"`
	Error    string      `json:"error,omitempty"`
}

// report is the JSON document.
type report struct {
	Started  time.Time `json:"started"`
	Quick    bool      `json:"quick"`
	Engine   string    `json:"engine"`
	Machine  machine   `json:"machine"`
	Results  []result  `json:"results"`
	Versus   []versus  `json:"versus_river,omitempty"`
	Duration float64   `json:"duration_seconds"`
}

type machine struct {
	CPUs       int               `json:"cpus"`
	GoVersion  string            `json:"go_version"`
	PgVersion  string            `json:"pg_version"`
	PgSettings map[string]string `json:"pg_settings"`
	// FsyncDelayUS is the slow-fsync shim's delay when the cluster was started with it (withpg
	// -fsync-delay sets PGTQ_FSYNC_DELAY_US); 0 for the machine's own disk.
	FsyncDelayUS int64 `json:"fsync_delay_us"`
	// FlushCost is the cluster's flush cost measured before the first scenario.
	FlushCost flushCost `json:"flush_cost"`
}

func run(args []string, out io.Writer) error {
	c, err := parseConfig(args)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	rep := report{Started: time.Now(), Quick: c.quick, Engine: c.engine}
	var extra string
	if c.extraSQL != "" {
		data, err := os.ReadFile(c.extraSQL)
		if err != nil {
			return fmt.Errorf("-extra-sql: %w", err)
		}
		extra = string(data)
	}
	dbs, err := newDBSet(ctx, c.url, c.prefix, extra)
	if err != nil {
		return err
	}
	defer dbs.close(context.WithoutCancel(ctx))
	if rep.Machine, err = describeMachine(ctx, dbs.admin); err != nil {
		return err
	}
	b := &bench{cfg: c, dbs: dbs, prod: producers[c.engine], pgss: hasStatements(ctx, dbs.admin)}
	fmt.Fprintf(out, "pgtq-bench: engine %s, %d run(s) per scenario, quick=%v, %d CPUs, %s\n",
		c.engine, c.runs, c.quick, rep.Machine.CPUs, rep.Machine.PgVersion)
	if rep.Machine.FlushCost, err = b.probeFlush(ctx); err != nil {
		return err
	}
	fmt.Fprintf(out, "%s\n", flushLine(rep.Machine))
	list := scenarios(c)
	for start := 0; start < len(list) && ctx.Err() == nil; {
		// A run of consecutive scenarios with the same Interleave key alternates run by run.
		end := start + 1
		for end < len(list) && list[start].Interleave != "" && list[end].Interleave == list[start].Interleave {
			end++
		}
		group := make([]result, end-start)
		for j := range group {
			group[j].Scenario = list[start+j]
		}
		for i := range c.runs {
			for j := range group {
				res := &group[j]
				if res.Error != "" || ctx.Err() != nil {
					continue
				}
				sc := res.Scenario
				t0 := time.Now()
				runOnce := b.runOnce
				if sc.Kind == kindPrune {
					runOnce = b.runPrune
				}
				r, err := runOnce(ctx, sc)
				if err != nil {
					res.Error = fmt.Sprintf("run %d: %v", i+1, err)
					fmt.Fprintf(os.Stderr, "pgtq-bench: %s: %s\n", sc.Name, res.Error)
					continue
				}
				res.Runs = append(res.Runs, r)
				fmt.Fprintf(out, "  %-22s run %d: %s [%.1fs]\n", sc.Name, i+1, oneLine(r), time.Since(t0).Seconds())
				if c.verbose {
					printInsight(out, r)
				}
			}
		}
		for j := range group {
			group[j].Median = medianResult(group[j].Runs)
		}
		rep.Results = append(rep.Results, group...)
		start = end
	}
	fillRatios(rep.Results)
	rep.Versus = compareRiver(rep.Results)
	rep.Duration = time.Since(rep.Started).Seconds()
	printTable(out, rep)
	if c.jsonPath != "" {
		data, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return fmt.Errorf("encode json: %w", err)
		}
		if err := os.WriteFile(c.jsonPath, data, 0o644); err != nil {
			return fmt.Errorf("write json: %w", err)
		}
		fmt.Fprintf(out, "results written to %s\n", c.jsonPath)
	}
	if c.mdPath != "" {
		if err := os.WriteFile(c.mdPath, []byte(markdownTable(rep)), 0o644); err != nil {
			return fmt.Errorf("write markdown: %w", err)
		}
	}
	for _, r := range rep.Results {
		if r.Error != "" {
			return fmt.Errorf("%s failed: %s", r.Scenario.Name, r.Error)
		}
	}
	return ctx.Err()
}

func describeMachine(ctx context.Context, pool *pgxpool.Pool) (machine, error) {
	m := machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), PgSettings: map[string]string{}}
	m.FsyncDelayUS, _ = strconv.ParseInt(os.Getenv(pgcluster.FsyncDelayEnv), 10, 64)
	if err := pool.QueryRow(ctx, `SHOW server_version`).Scan(&m.PgVersion); err != nil {
		return m, fmt.Errorf("server version: %w", err)
	}
	for _, s := range []string{"fsync", "synchronous_commit", "shared_buffers", "max_connections", "wal_level", "max_wal_size"} {
		var v string
		if err := pool.QueryRow(ctx, `SELECT current_setting($1)`, s).Scan(&v); err != nil {
			return m, fmt.Errorf("setting %s: %w", s, err)
		}
		m.PgSettings[s] = v
	}
	return m, nil
}

func oneLine(r runResult) string {
	s := fmt.Sprintf("%d tasks in %.2fs", r.Tasks, r.Seconds)
	if r.TasksPerSec > 0 {
		s += fmt.Sprintf(", %.0f tasks/s", r.TasksPerSec)
	}
	if r.P50Ms >= 0 {
		s += fmt.Sprintf(", enqueue-to-start p50 %.2fms p99 %.2fms", r.P50Ms, r.P99Ms)
	}
	if r.RawRatio > 0 {
		s += fmt.Sprintf(" (raw drain right after: %.0f tasks/s, ratio %.2f)", r.RawTasksPerSec, r.RawRatio)
	}
	if r.EnqueueP50Ms > 0 {
		s += fmt.Sprintf(" (enqueue call itself p50 %.2fms p99 %.2fms)", r.EnqueueP50Ms, r.EnqueueP99Ms)
	}
	if w := r.WAL; w.Tasks > 0 {
		s += fmt.Sprintf("; %d WAL flushes, %d commits for %d tasks: %.1f tasks/flush, %.3f commits/task, %.1f WAL records and %.0f B/task; flush %.2fms",
			w.Flushes, w.Commits, w.Tasks, w.TasksPerFlush, w.CommitsPerTask, w.RecordsPerTask, w.BytesPerTask, w.Flush.FlushMs)
	}
	return s
}

// medianResult takes the median of every numeric column separately; the table statistics come from the
// run with the median throughput.
func medianResult(runs []runResult) runResult {
	if len(runs) == 0 {
		return runResult{}
	}
	col := func(f func(r runResult) float64) float64 {
		xs := make([]float64, len(runs))
		for i, r := range runs {
			xs[i] = f(r)
		}
		return median(xs)
	}
	byRate := slices.Clone(runs)
	slices.SortFunc(byRate, func(a, b runResult) int { return cmp.Compare(a.TasksPerSec, b.TasksPerSec) })
	m := byRate[len(byRate)/2]
	m.Tasks = int64(col(func(r runResult) float64 { return float64(r.Tasks) }))
	m.Seconds = col(func(r runResult) float64 { return r.Seconds })
	m.TasksPerSec = col(func(r runResult) float64 { return r.TasksPerSec })
	m.P50Ms = col(func(r runResult) float64 { return r.P50Ms })
	m.P95Ms = col(func(r runResult) float64 { return r.P95Ms })
	m.P99Ms = col(func(r runResult) float64 { return r.P99Ms })
	m.WorkerRSSMiB = col(func(r runResult) float64 { return r.WorkerRSSMiB })
	m.RawTasksPerSec = col(func(r runResult) float64 { return r.RawTasksPerSec })
	m.RawRatio = col(func(r runResult) float64 { return r.RawRatio })
	m.WAL = medianWAL(runs)
	// Violations and maxima: the worst run counts, not the median.
	for _, r := range runs {
		m.GroupOverlaps = max(m.GroupOverlaps, r.GroupOverlaps)
		m.OrderErrors = max(m.OrderErrors, r.OrderErrors)
		m.MaxProcessing = max(m.MaxProcessing, r.MaxProcessing)
		m.MaxInflight = max(m.MaxInflight, r.MaxInflight)
	}
	return m
}

// fillRatios sets every scenario's ratio to the raw baseline: the median of the per-run ratios to the raw
// drain run right after each run (same moment, same machine load); failing that, the raw scenario row
// with the same concurrency.
func fillRatios(results []result) {
	raw := map[int]float64{}
	for _, r := range results {
		if r.Scenario.Kind == kindRaw && r.Median.TasksPerSec > 0 {
			raw[r.Scenario.Concurrency] = r.Median.TasksPerSec
		}
	}
	for i, r := range results {
		switch {
		case r.Scenario.Kind == kindRaw || r.Median.TasksPerSec <= 0:
		case r.Median.RawRatio > 0:
			results[i].RawRatio = r.Median.RawRatio
		case raw[r.Scenario.Concurrency] > 0:
			results[i].RawRatio = r.Median.TasksPerSec / raw[r.Scenario.Concurrency]
		}
	}
}

// tableRows renders the result table: a header row and one row per scenario.
func tableRows(rep report) [][]string {
	rows := [][]string{{"scenario", "tasks", "tasks/s", "µs/task", "raw/s", "vs raw", "p50 ms", "p95 ms", "p99 ms",
		"max proc", "RSS MiB", "q dead", "q MiB", "arch MiB", "violations"}}
	for _, r := range rep.Results {
		m := r.Median
		if r.Error != "" && len(r.Runs) == 0 {
			row := make([]string, len(rows[0]))
			row[0], row[1] = r.Scenario.Name, "FAILED: "+firstLine(r.Error)
			rows = append(rows, row)
			continue
		}
		rate, per, ratio, rawRate := "-", "-", "-", "-"
		if m.RawTasksPerSec > 0 {
			rawRate = fmt.Sprintf("%.0f", m.RawTasksPerSec)
		}
		if m.TasksPerSec > 0 {
			rate = fmt.Sprintf("%.0f", m.TasksPerSec)
			per = fmt.Sprintf("%.1f", 1e6/m.TasksPerSec)
		}
		if r.RawRatio > 0 {
			ratio = fmt.Sprintf("%.2f", r.RawRatio)
		}
		lat := func(v float64) string {
			if v < 0 {
				return "-"
			}
			return fmt.Sprintf("%.2f", v)
		}
		proc := "-"
		if r.Scenario.Limit > 0 {
			proc = fmt.Sprint(m.MaxProcessing)
		}
		rss := "-"
		if m.WorkerRSSMiB > 0 {
			rss = fmt.Sprintf("%.0f", m.WorkerRSSMiB)
		}
		row := []string{r.Scenario.Name, fmt.Sprint(m.Tasks), rate, per, rawRate, ratio,
			lat(m.P50Ms), lat(m.P95Ms), lat(m.P99Ms), proc, rss, fmt.Sprint(m.QueueDeadTup),
			fmt.Sprintf("%.1f", mib(m.QueueBytes)), fmt.Sprintf("%.1f", mib(m.ArchiveBytes)),
			fmt.Sprint(m.GroupOverlaps + m.OrderErrors)}
		if r.Scenario.Kind == kindRiver {
			for i := 11; i < len(row); i++ {
				row[i] = "-" // River's own tables and checks are not PGTQ's
			}
		}
		rows = append(rows, row)
	}
	return rows
}

func tableTitle(rep report) string {
	runs := 0
	if len(rep.Results) > 0 {
		runs = rep.Results[0].Scenario.Runs
	}
	return fmt.Sprintf("median of %d run(s); engine %s; quick=%v; PostgreSQL %s, %d CPUs, fsync=%s synchronous_commit=%s shared_buffers=%s",
		runs, rep.Engine, rep.Quick, rep.Machine.PgVersion, rep.Machine.CPUs,
		rep.Machine.PgSettings["fsync"], rep.Machine.PgSettings["synchronous_commit"], rep.Machine.PgSettings["shared_buffers"])
}

func printTable(out io.Writer, rep report) {
	fmt.Fprintf(out, "\n%s\n", tableTitle(rep))
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, row := range tableRows(rep) {
		fmt.Fprintf(tw, "%-22s\t%s\t\n", row[0], strings.Join(row[1:], "\t"))
	}
	_ = tw.Flush()
	fmt.Fprintf(out, "\n%s\n", flushLine(rep.Machine))
	for _, t := range [][][]string{walRows(rep), versusRows(rep)} {
		if len(t) < 2 {
			continue
		}
		fmt.Fprintln(out)
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
		for _, row := range t {
			fmt.Fprintf(tw, "%-22s\t%s\t\n", row[0], strings.Join(row[1:], "\t"))
		}
		_ = tw.Flush()
	}
	fmt.Fprintf(out, "total %.0fs\n", rep.Duration)
}

// markdownTable renders the result table for BENCHMARKS.md.
func markdownTable(rep report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n", tableTitle(rep))
	for k, t := range [][][]string{tableRows(rep), walRows(rep), versusRows(rep)} {
		if len(t) < 2 {
			continue
		}
		if k > 0 {
			b.WriteString("\n")
		}
		for i, row := range t {
			fmt.Fprintf(&b, "| %s |\n", strings.Join(row, " | "))
			if i == 0 {
				fmt.Fprintf(&b, "|%s\n", strings.Repeat("---|", len(row)))
			}
		}
	}
	fmt.Fprintf(&b, "\n%s\n", flushLine(rep.Machine))
	return b.String()
}

// printInsight prints where a run's time went: the worker backends' wait states and the statements with
// the most execution time (with pg_stat_statements).
func printInsight(out io.Writer, r runResult) {
	var ws []string
	for _, w := range r.Waits[:min(len(r.Waits), 6)] {
		ws = append(ws, fmt.Sprintf("%s %.2f", w.State, w.Backends))
	}
	fmt.Fprintf(out, "      backends by state: %s\n", strings.Join(ws, ", "))
	for _, s := range r.Statements[:min(len(r.Statements), 6)] {
		fmt.Fprintf(out, "      %9.0f ms %8d calls %7.3f ms/call  %s\n", s.TotalMs, s.Calls, s.MeanMs, s.Query[:min(len(s.Query), 110)])
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
