package gotest

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/worker"
)

// TestWorkerFaults builds tests/go/internal/testworker once and runs real worker processes with the
// default retry options through crashes: SIGKILL mid-run, handlers that kill their own process, and a
// worker started for queues that do not exist.
func TestWorkerFaults(t *testing.T) {
	// Built before t.Parallel, so early in the run: the binary must embed the same SQL as this test binary.
	bin := filepath.Join(t.TempDir(), "testworker")
	out, err := exec.Command("go", "build", "-o", bin, "./internal/testworker").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	t.Parallel()

	t.Run("SIGKILL mid-run of 1,000 tasks: none dead-lettered, none lost, each completed once", func(t *testing.T) {
		t.Parallel()
		b := setupProcessDB(t)
		q := b.newQueue(t, false)
		const n = 1000
		payloads := make([]any, n)
		for i := range payloads {
			payloads[i] = numPayload{N: i}
		}
		_, err := b.client.EnqueueBatch(b.ctx, q, payloads, nil)
		require.NoError(t, err)
		// Timeout 1 s: leases of 6 s, so the killed worker's tasks are back soon. Retry options: the defaults.
		env := map[string]string{"PGTQ_TEST_QUEUES": q, "PGTQ_TEST_WORK_MS": "5", "PGTQ_TEST_TIMEOUT_MS": "1000",
			"PGTQ_TEST_MAX_RETRIES": "0"}
		p1 := startTestWorker(t, bin, b.url, env, "--concurrency-limit", "8", "--poll-interval-seconds", "0.2")
		p1.waitUntil(t, 30*time.Second, "300 tasks done", func() bool { return b.runCount(t, q, "done") >= 300 })
		require.NoError(t, p1.cmd.Process.Signal(syscall.SIGKILL))
		p1.wait(t, 5*time.Second)
		killed := b.count(t, `SELECT count(*) FROM `+table("q", q)+` WHERE read_ct > 0`)
		t.Logf("tasks leased by the killed worker: %d", killed)

		p2 := startTestWorker(t, bin, b.url, env, "--concurrency-limit", "8", "--poll-interval-seconds", "0.2")
		p2.waitUntil(t, 45*time.Second, "every task archived", func() bool { return b.archiveRows(t, q) == n })
		require.EqualValues(t, n, b.archived(t, q, "completed"), "every task completed")
		require.EqualValues(t, n, b.count(t, `SELECT count(DISTINCT msg_id) FROM `+table("a", q)), "each once")
		require.EqualValues(t, 0, b.queueRows(t, q), "none left")
		require.EqualValues(t, 0, b.queueRows(t, q+"_dlq"), "none dead-lettered")
		require.EqualValues(t, 0, b.archiveRows(t, q+"_dlq"))
	})

	t.Run("a handler that kills its worker every time: DLQ after MaxLostLeases lost leases", func(t *testing.T) {
		t.Parallel()
		b := setupProcessDB(t)
		q := b.newQueue(t, false)
		id := b.enqueue(t, q, numPayload{N: 1}, nil)
		env := map[string]string{"PGTQ_TEST_QUEUES": q, "PGTQ_TEST_MODE": "suicide", "PGTQ_TEST_TIMEOUT_MS": "1000",
			"PGTQ_TEST_MAX_RETRIES": "0"}
		for i := 1; i <= worker.MaxLostLeasesDefault; i++ {
			p := startTestWorker(t, bin, b.url, env, "--poll-interval-seconds", "0.2")
			select {
			case <-p.done:
			case <-time.After(20 * time.Second):
				t.Fatalf("worker %d did not kill itself; stderr:\n%s", i, p.stderr.String())
			}
			require.Equal(t, -1, p.code, "killed by its handler")
			require.EqualValues(t, i, b.runCount(t, q, "start"))
			// The lease ends now instead of in 6 s: the attempt lost its lease with no recorded outcome.
			_, err := b.pool.Exec(b.ctx, `UPDATE `+table("q", q)+` SET vt = clock_timestamp() - interval '1 second' WHERE msg_id = $1`, id)
			require.NoError(t, err)
		}
		// The next read finds the third lost lease: the budget is used up, the task goes to the DLQ unrun.
		p := startTestWorker(t, bin, b.url, env, "--poll-interval-seconds", "0.2")
		p.waitUntil(t, 20*time.Second, "task dead-lettered", func() bool { return b.archived(t, q, "dead_lettered") == 1 })
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
		require.Equal(t, 0, p.wait(t, 15*time.Second), "stderr: %s", p.stderr.String())
		require.EqualValues(t, worker.MaxLostLeasesDefault, b.runCount(t, q, "start"), "not run again")
		require.EqualValues(t, 1, b.queueRows(t, q+"_dlq"))

		var raw []byte
		require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT headers FROM `+table("q", q+"_dlq")).Scan(&raw))
		var h struct {
			LostLeases int `json:"x-pgtq-lost-leases"`
			Log        []struct {
				Attempt int    `json:"attempt"`
				Kind    string `json:"kind"`
				Error   string `json:"error"`
			} `json:"x-pgtq-error-log"`
		}
		require.NoError(t, json.Unmarshal(raw, &h), "%s", raw)
		require.Equal(t, worker.MaxLostLeasesDefault, h.LostLeases, "%s", raw)
		require.Len(t, h.Log, worker.MaxLostLeasesDefault, "%s", raw)
		for i, e := range h.Log {
			require.Equal(t, "lease_expired", e.Kind, "%s", raw)
			require.Equal(t, i+1, e.Attempt, "%s", raw)
		}
	})

	t.Run("missing queues: exit 2 naming each", func(t *testing.T) {
		t.Parallel()
		b := setupProcessDB(t)
		q := b.newQueue(t, false)
		p := startTestWorker(t, bin, b.url, map[string]string{"PGTQ_TEST_QUEUES": q + ",flt_missing_a,flt_missing_b"})
		code := p.wait(t, 20*time.Second) // the old worker ran forever, logging claim errors
		out := p.stderr.String()
		require.Equal(t, worker.ExitUsage, code, "output: %s", out)
		require.Contains(t, out, "queue not found")
		require.Contains(t, out, `"flt_missing_a"`)
		require.Contains(t, out, `"flt_missing_b"`)
		require.NotContains(t, out, `"`+q+`"`, "an existing queue is not named")
		require.False(t, strings.Contains(out, "worker started"), "output: %s", out)
	})
}
