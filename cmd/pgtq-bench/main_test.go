package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/internal/pgtest"
)

// TestMain lets the test binary double as the worker child: scenarios re-execute their own binary.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == childArgName {
		os.Exit(childMain(os.Args[2:]))
	}
	pgtest.Main(m)
}

// TestSuiteRunsEndToEnd runs tiny versions of the scenarios with both engines and checks that each one
// drained every task, kept the group guarantees and the queue limit, and reported its measurements.
func TestSuiteRunsEndToEnd(t *testing.T) {
	t.Setenv("BENCH_QUICK", "1")
	for _, engine := range []string{"sql", "worker"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			jsonPath := filepath.Join(dir, "out.json")
			var out strings.Builder
			err := run([]string{
				"-database-url", pgtest.ServerURL(t), "-db-prefix", "pgtq_benchtest_" + engine,
				"-engine", engine, "-scale", "0.01", "-checkpoint=false", "-only", "burn-down,continuous,grouped,limit,latency,raw",
				"-json", jsonPath,
			}, &out)
			require.NoError(t, err, out.String())
			t.Log(out.String())

			data, err := os.ReadFile(jsonPath)
			require.NoError(t, err)
			var rep report
			require.NoError(t, json.Unmarshal(data, &rep))
			kinds := map[string]int{}
			for _, r := range rep.Results {
				kinds[r.Scenario.Kind]++
				require.Empty(t, r.Error, r.Scenario.Name)
				require.Len(t, r.Runs, 1, r.Scenario.Name)
				m := r.Median
				switch r.Scenario.Kind {
				case kindContinuous:
					// A tiny window may archive nothing; what matters is that the run and the JSON work.
					require.GreaterOrEqual(t, m.Tasks, int64(0), r.Scenario.Name)
				case kindLatency:
					require.Positive(t, m.Tasks, r.Scenario.Name)
					require.GreaterOrEqual(t, m.P50Ms, 0.0, r.Scenario.Name)
					require.GreaterOrEqual(t, m.P99Ms, m.P50Ms, r.Scenario.Name)
				default:
					require.Equal(t, int64(r.Scenario.Tasks), m.Tasks, r.Scenario.Name)
					require.Positive(t, m.TasksPerSec, r.Scenario.Name)
				}
				if r.Scenario.Kind != kindRaw {
					require.Positive(t, m.WorkerRSSMiB, r.Scenario.Name)
					require.NotEmpty(t, m.Tables, r.Scenario.Name)
				}
				require.Zero(t, m.GroupOverlaps+m.OrderErrors, r.Scenario.Name)
				if r.Scenario.Limit > 0 {
					require.LessOrEqual(t, m.MaxProcessing, int64(r.Scenario.Limit), r.Scenario.Name)
				}
			}
			require.Equal(t, map[string]int{kindBurnDown: 1, kindContinuous: 1, kindGrouped: 2, kindLimit: 1, kindLatency: 1, kindRaw: 1}, kinds)
			require.Positive(t, rep.Results[0].RawRatio)
			require.Contains(t, out.String(), "burn-down")
		})
	}
}
