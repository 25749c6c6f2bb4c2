package gotest

import (
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestWorkerMainMetricsAddr runs a worker binary built with metrics.Main with --metrics-addr: /metrics
// reports the tasks it completed; and a binary built with plain worker.Main refuses the flag (exit 2).
func TestWorkerMainMetricsAddr(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "metricsworker")
	out, err := exec.Command("go", "build", "-o", bin, "./internal/metricsworker").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	plain := filepath.Join(dir, "testworker")
	out, err = exec.Command("go", "build", "-o", plain, "./internal/testworker").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	t.Parallel()

	b := setupWorker(t)
	q := b.newQueue(t, false)
	p := startTestWorker(t, bin, b.url, map[string]string{"PGTQ_TEST_QUEUE": q}, "--metrics-addr", "127.0.0.1:0")
	addr := regexp.MustCompile(`msg="pgtq: serving metrics" addr=(\S+)`)
	var url string
	p.waitUntil(t, 20*time.Second, "the metrics address in the log", func() bool {
		if m := addr.FindStringSubmatch(p.stderr.String()); m != nil {
			url = "http://" + m[1] + "/metrics"
			return true
		}
		return false
	})
	for i := 0; i < 7; i++ {
		b.enqueue(t, q, numPayload{N: i}, nil)
	}
	want := `pgtq_tasks_completed_total{queue="` + q + `"} 7`
	p.waitUntil(t, 20*time.Second, "7 completions in /metrics", func() bool {
		resp, err := http.Get(url)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return strings.Contains(string(body), want)
	})

	r := startTestWorker(t, plain, b.url, map[string]string{"PGTQ_TEST_QUEUES": q}, "--metrics-addr", "127.0.0.1:0")
	require.Equal(t, 2, r.wait(t, 20*time.Second))
	require.Contains(t, r.stderr.String(), "--metrics-addr needs a worker binary whose main calls metrics.Main")
}
