package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// River runs side by side with PGTQ: the river scenarios build River's own CLI (its `river bench` command)
// from the module proxy, in a throwaway module outside ours whose go.mod and go.sum live in riverModDir
// (River library v0.51.2, CLI v0.47.0), and run it against a fresh database on the same cluster.

// riverModDir holds the throwaway module's go.mod and go.sum, relative to the module root.
const riverModDir = "bench/river"

// The shape of `river bench` (fixed in River's CLI, riverbench/river_bench.go): its client runs riverWorkers
// workers, and its continuous mode inserts batches of riverInsertBatch jobs every 250 ms until at least
// riverBacklog jobs are waiting.
const (
	riverWorkers     = 2000
	riverInsertBatch = 5000
	riverBacklog     = 75_000
)

// riverCLI is the package built from the throwaway module.
const riverCLI = "github.com/riverqueue/river/cmd/river"

// riverOutput is what `river bench` printed: its final summary and the samples it prints every 2 s.
type riverOutput struct {
	Worked     int64         `json:"jobs_worked"`
	Inserted   int64         `json:"jobs_inserted"`
	JobsPerSec float64       `json:"jobs_per_sec"` // River's "overall job/sec": worked / (last job worked - client start)
	Running    float64       `json:"running_seconds"`
	Samples    []riverSample `json:"samples,omitempty"`
}

// riverSample is one periodic line: jobs worked and inserted since the previous one.
type riverSample struct {
	Worked     int64   `json:"worked"`
	Inserted   int64   `json:"inserted"`
	JobsPerSec float64 `json:"jobs_per_sec"`
}

var (
	riverTotalRe  = regexp.MustCompile(`bench: total jobs worked \[\s*(\d+)\s*\], total jobs inserted \[\s*(\d+)\s*\], overall job/sec \[\s*([\d.]+)\s*\], running (\S+)`)
	riverSampleRe = regexp.MustCompile(`bench: jobs worked \[\s*(\d+)\s*\], inserted \[\s*(\d+)\s*\], job/sec \[\s*([\d.]+)\s*\]`)
)

// parseRiverBench parses the standard output of `river bench`.
func parseRiverBench(out string) (riverOutput, error) {
	var r riverOutput
	for _, m := range riverSampleRe.FindAllStringSubmatch(out, -1) {
		w, _ := strconv.ParseInt(m[1], 10, 64)
		ins, _ := strconv.ParseInt(m[2], 10, 64)
		rate, _ := strconv.ParseFloat(m[3], 64)
		r.Samples = append(r.Samples, riverSample{Worked: w, Inserted: ins, JobsPerSec: rate})
	}
	m := riverTotalRe.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("no summary line in river bench output:\n%s", tail(out, 2000))
	}
	r.Worked, _ = strconv.ParseInt(m[1], 10, 64)
	r.Inserted, _ = strconv.ParseInt(m[2], 10, 64)
	r.JobsPerSec, _ = strconv.ParseFloat(m[3], 64)
	d, err := time.ParseDuration(m[4])
	if err != nil {
		return r, fmt.Errorf("river bench running time %q: %w", m[4], err)
	}
	r.Running = d.Seconds()
	return r, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// riverBuild builds River's CLI once per process.
var riverBuild struct {
	once sync.Once
	path string
	err  error
}

// riverBinary returns the path of River's CLI, building it on first use. The binary is cached under the
// user cache directory by the hash of the throwaway module's go.mod and go.sum and the Go version, so
// repeated runs do not rebuild (the first build takes a few minutes).
func riverBinary(ctx context.Context, log func(string)) (string, error) {
	riverBuild.once.Do(func() { riverBuild.path, riverBuild.err = buildRiver(ctx, log) })
	return riverBuild.path, riverBuild.err
}

func buildRiver(ctx context.Context, log func(string)) (string, error) {
	src, err := findModuleFile(riverModDir)
	if err != nil {
		return "", err
	}
	goVersion, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOVERSION: %w", err)
	}
	h := sha256.New()
	h.Write(bytes.TrimSpace(goVersion))
	files := map[string][]byte{}
	for _, f := range []string{"go.mod", "go.sum"} {
		data, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			return "", fmt.Errorf("river module: %w", err)
		}
		files[f] = data
		h.Write(data)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	bin := filepath.Join(cache, "pgtq", "river", "river-"+hex.EncodeToString(h.Sum(nil)[:6]))
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	log(fmt.Sprintf("building River's CLI into %s (first time only: a few minutes)", bin))
	tmp, err := os.MkdirTemp("", "pgtq-river-build-")
	if err != nil {
		return "", fmt.Errorf("river build dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
			return "", fmt.Errorf("river build dir: %w", err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", fmt.Errorf("river cache: %w", err)
	}
	out := bin + ".tmp" + strconv.Itoa(os.Getpid())
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, riverCLI)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	if msg, err := cmd.CombinedOutput(); err != nil {
		os.Remove(out)
		return "", fmt.Errorf("build River CLI: %w\n%s", err, msg)
	}
	if err := os.Rename(out, bin); err != nil {
		return "", fmt.Errorf("river cache: %w", err)
	}
	return bin, nil
}

// findModuleFile finds rel in the working directory or one of its parents (the bench runs from the module
// root with make, from cmd/pgtq-bench in go test).
func findModuleFile(rel string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, rel)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%s not found in the working directory or its parents", rel)
		}
		dir = parent
	}
}

// runRiverCLI runs River's CLI with args against url and returns its standard output.
func runRiverCLI(ctx context.Context, bin, url string, timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(args, "--database-url", url)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// River's bench stops cleanly on SIGINT; give it a moment before the kill.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("river %s: %w\n%s%s", strings.Join(args, " "), err,
			tail(stdout.String(), 1000), tail(stderr.String(), 2000))
	}
	return stdout.String(), nil
}

// runRiver runs one River scenario: a fresh database, `river migrate-up`, then `river bench -n N` (burn-down)
// or `river bench --duration D` (continuous), with the same accounting as PGTQ's runs and the adjacent raw
// drain after it.
func (b *bench) runRiver(ctx context.Context, sc scenario) (runResult, error) {
	bin, err := riverBinary(ctx, func(s string) { fmt.Fprintln(os.Stderr, "pgtq-bench:", s) })
	if err != nil {
		return runResult{}, err
	}
	r, err := b.openEmpty(ctx, "river")
	if err != nil {
		return runResult{}, err
	}
	defer b.closeRun(context.WithoutCancel(ctx), r)
	if _, err := runRiverCLI(ctx, bin, r.url, 2*time.Minute, "migrate-up"); err != nil {
		return runResult{}, err
	}
	if err := prepareForRun(ctx, r.pool, b.cfg.checkpoint); err != nil {
		return runResult{}, err
	}
	args := []string{"bench"}
	timeout := 15 * time.Minute
	if sc.Tasks > 0 {
		args = append(args, "--num-total-jobs", strconv.Itoa(sc.Tasks))
	} else {
		// River's bench counts whole 2 s iterations.
		d := max(2*time.Second, sc.Duration.Round(2*time.Second))
		args = append(args, "--duration", d.String())
		timeout = d + 2*time.Minute
	}
	if b.pgss {
		if err := resetStatements(ctx, r.pool); err != nil {
			return runResult{}, err
		}
	}
	if err := r.measure(ctx); err != nil {
		return runResult{}, err
	}
	out, err := runRiverCLI(ctx, bin, r.url, timeout, args...)
	if err != nil {
		return runResult{}, err
	}
	ro, err := parseRiverBench(out)
	if err != nil {
		return runResult{}, err
	}
	if sc.Tasks > 0 && ro.Worked != int64(sc.Tasks) {
		return runResult{}, fmt.Errorf("river worked %d jobs, wanted %d", ro.Worked, sc.Tasks)
	}
	if ro.Worked == 0 {
		return runResult{}, errors.New("river worked no job")
	}
	res := runResult{Tasks: ro.Worked, Seconds: ro.Running, TasksPerSec: ro.JobsPerSec, P50Ms: -1, P95Ms: -1, P99Ms: -1,
		River: &ro}
	return b.finishRun(ctx, r, sc, res, ro.Worked)
}

// versus compares PGTQ with River in one interleaved pair of scenarios.
type versus struct {
	Scenario   string  `json:"scenario"`
	PGTQ       float64 `json:"pgtq_tasks_per_sec"`
	River      float64 `json:"river_jobs_per_sec"`
	Ratio      float64 `json:"ratio"` // median of the per-run ratios PGTQ / River (run i of each, back to back)
	PGTQFlush  float64 `json:"pgtq_tasks_per_flush"`
	RiverFlush float64 `json:"river_jobs_per_flush"`
}

// compareRiver pairs every River scenario with PGTQ's scenario of the same Interleave key.
func compareRiver(results []result) []versus {
	var out []versus
	for _, rv := range results {
		if rv.Scenario.Kind != kindRiver || len(rv.Runs) == 0 {
			continue
		}
		for _, pq := range results {
			if pq.Scenario.Kind == kindRiver || pq.Scenario.Interleave != rv.Scenario.Interleave || len(pq.Runs) == 0 {
				continue
			}
			var ratios []float64
			for i := range min(len(pq.Runs), len(rv.Runs)) {
				if rv.Runs[i].TasksPerSec > 0 {
					ratios = append(ratios, pq.Runs[i].TasksPerSec/rv.Runs[i].TasksPerSec)
				}
			}
			out = append(out, versus{Scenario: pq.Scenario.Name, PGTQ: pq.Median.TasksPerSec, River: rv.Median.TasksPerSec,
				Ratio: median(ratios), PGTQFlush: pq.Median.WAL.TasksPerFlush, RiverFlush: rv.Median.WAL.TasksPerFlush})
		}
	}
	return out
}

// versusRows renders the PGTQ/River table.
func versusRows(rep report) [][]string {
	rows := [][]string{{"PGTQ vs River", "PGTQ tasks/s", "River jobs/s", "PGTQ/River", "PGTQ tasks/flush", "River jobs/flush"}}
	for _, v := range rep.Versus {
		rows = append(rows, []string{v.Scenario, fmt.Sprintf("%.0f", v.PGTQ), fmt.Sprintf("%.0f", v.River),
			fmt.Sprintf("%.2f", v.Ratio), fmt.Sprintf("%.1f", v.PGTQFlush), fmt.Sprintf("%.1f", v.RiverFlush)})
	}
	return rows
}
