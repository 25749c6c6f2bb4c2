package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/internal/pgcluster"
	"github.com/pgtq/pgtq/internal/pgtest"
)

// slowTestsEnv enables the tests that build River (network, minutes on first use) or start extra durable
// clusters; `make test` leaves them out.
const slowTestsEnv = "PGTQ_BENCH_SLOW_TESTS"

func requireSlowTests(t *testing.T) {
	t.Helper()
	if os.Getenv(slowTestsEnv) != "1" {
		t.Skipf("set %s=1 to build River and start clusters with the slow-fsync shim", slowTestsEnv)
	}
}

// TestParseRiverBench parses output captured from `river bench` v0.47.0 (burn-down and --duration).
func TestParseRiverBench(t *testing.T) {
	t.Parallel()
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		require.NoError(t, err)
		return string(data)
	}

	burn, err := parseRiverBench(read("river-bench-burn-down.txt"))
	require.NoError(t, err)
	require.Equal(t, int64(20000), burn.Worked)
	require.Equal(t, int64(20000), burn.Inserted)
	require.InDelta(t, 6944.7, burn.JobsPerSec, 0.01)
	require.InDelta(t, 2.879874827, burn.Running, 1e-9)
	require.Len(t, burn.Samples, 3)
	require.Equal(t, riverSample{Worked: 9082, Inserted: 0, JobsPerSec: 4541.0}, burn.Samples[1])

	cont, err := parseRiverBench(read("river-bench-duration.txt"))
	require.NoError(t, err)
	require.Equal(t, int64(26008), cont.Worked)
	require.Equal(t, int64(100000), cont.Inserted)
	require.InDelta(t, 4558.5, cont.JobsPerSec, 0.01)
	require.Len(t, cont.Samples, 3)
	require.Equal(t, int64(75000), cont.Samples[0].Inserted)

	_, err = parseRiverBench("bench: jobs worked [ 1 ], inserted [ 2 ], job/sec [ 0.5 ] [2s]\n")
	require.ErrorContains(t, err, "no summary line")
}

func TestAccount(t *testing.T) {
	t.Parallel()
	a := account(walCounters{Records: 10, Bytes: 100, Writes: 1, Syncs: 2, Commits: 5},
		walCounters{Records: 1010, Bytes: 100100, Writes: 11, Syncs: 12, Commits: 55}, 100)
	require.Equal(t, int64(10), a.Flushes)
	require.Equal(t, int64(50), a.Commits)
	require.InDelta(t, 10.0, a.TasksPerFlush, 1e-9)
	require.InDelta(t, 0.5, a.CommitsPerTask, 1e-9)
	require.InDelta(t, 10.0, a.RecordsPerTask, 1e-9)
	require.InDelta(t, 1000.0, a.BytesPerTask, 1e-9)
}

// TestRiverSideBySide builds River's CLI (cached) and runs tiny interleaved burn-down and continuous runs of
// both systems, with the commit and WAL accounting.
func TestRiverSideBySide(t *testing.T) {
	requireSlowTests(t)
	jsonPath := filepath.Join(t.TempDir(), "out.json")
	var out strings.Builder
	err := run([]string{
		"-database-url", pgtest.ServerURL(t), "-db-prefix", "pgtq_benchtest_river", "-scale", "0.02", "-runs", "2",
		"-checkpoint=false", "-only", "burn-down,continuous,river", "-json", jsonPath,
	}, &out)
	require.NoError(t, err, out.String())
	t.Log(out.String())
	data, err := os.ReadFile(jsonPath)
	require.NoError(t, err)
	var rep report
	require.NoError(t, json.Unmarshal(data, &rep))
	var names []string
	for _, r := range rep.Results {
		names = append(names, r.Scenario.Name)
		require.Empty(t, r.Error, r.Scenario.Name)
		require.Len(t, r.Runs, 2, r.Scenario.Name)
		require.Positive(t, r.Median.WAL.Tasks, r.Scenario.Name)
		require.Positive(t, r.Median.WAL.Commits, r.Scenario.Name)
		require.Positive(t, r.Median.WAL.Records, r.Scenario.Name)
		if r.Scenario.Kind == kindRiver {
			require.NotNil(t, r.Median.River)
		}
	}
	require.Equal(t, []string{"burn-down", "burn-down c=2000", "river burn-down", "continuous",
		"continuous c=2000, 1500 backlog", "river continuous"}, names)
	require.Len(t, rep.Versus, 4)
	for _, v := range rep.Versus {
		require.Positive(t, v.Ratio, v.Scenario)
	}
	// Interleaved: River's first burn-down run comes before PGTQ's second.
	require.Less(t, strings.Index(out.String(), "river burn-down        run 1"), strings.Index(out.String(), "burn-down              run 2"))
}

// TestSlowFsyncShim starts a durable cluster with and without the slow-fsync shim and checks that the measured
// flush cost goes up by about the configured delay.
func TestSlowFsyncShim(t *testing.T) {
	requireSlowTests(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	src, err := findModuleFile("bench/slowfsync/slowfsync.c")
	require.NoError(t, err)
	lib, err := pgcluster.BuildPreload(ctx, src)
	require.NoError(t, err)

	const delay = 2 * time.Millisecond
	flush := func(opts *pgcluster.Options) flushCost {
		opts.Settings = map[string]string{"fsync": "on", "synchronous_commit": "on"}
		c, err := pgcluster.Start(ctx, opts)
		require.NoError(t, err)
		defer func() { require.NoError(t, c.Stop()) }()
		admin, err := pgxpool.New(ctx, c.URL("postgres"))
		require.NoError(t, err)
		defer admin.Close()
		_, err = admin.Exec(ctx, `CREATE DATABASE probe`)
		require.NoError(t, err)
		fc, err := measureFlush(ctx, admin, c.URL("probe"), "probe")
		require.NoError(t, err)
		return fc
	}
	base := flush(&pgcluster.Options{})
	slow := flush(&pgcluster.Options{Preload: lib,
		Env: []string{pgcluster.FsyncDelayEnv + "=" + "2000"}})
	t.Logf("flush cost without shim %+v, with a %s shim %+v", base, delay, slow)
	added := slow.FlushMs - base.FlushMs
	require.GreaterOrEqual(t, added, 0.8*float64(delay.Milliseconds()))
	require.LessOrEqual(t, added, float64(delay.Milliseconds())+2)
	require.InDelta(t, 1.0, slow.SyncsPerCommit, 0.2)
}
