package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/driver"
	"github.com/pgtq/pgtq/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// build compiles the command once per test binary.
var build = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "pgtq-test-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "pgtq")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", errors.New(string(out))
	}
	return bin, nil
})

type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// command returns the command with only env in its environment (no DATABASE_URL or PG* unless given).
func command(t *testing.T, ctx context.Context, env []string, args ...string) *exec.Cmd {
	t.Helper()
	bin, err := build()
	require.NoError(t, err)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append([]string{"HOME=" + t.TempDir()}, env...)
	return cmd
}

func runCLI(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := command(t, ctx, env, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		res.code = exitErr.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return res
}

// testBundle is a migrated database with a queue holding a queued, a delayed and a processing task.
type testBundle struct {
	ctx                         context.Context
	url                         string
	client                      *driver.Client
	queue                       string
	queued, delayed, processing int64
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	url := pgtest.NewDBURL(t)
	pool, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	client, err := driver.New(ctx, pool)
	require.NoError(t, err)
	b := &testBundle{ctx: ctx, url: url, client: client, queue: "emails"}
	require.NoError(t, client.CreateQueue(ctx, b.queue, nil))
	enq := func(n int, opts *driver.EnqueueOptions) int64 {
		id, err := client.Enqueue(ctx, b.queue, map[string]int{"n": n}, opts)
		require.NoError(t, err)
		return id
	}
	b.processing = enq(1, &driver.EnqueueOptions{Group: "g1"})
	_, err = client.Read(ctx, b.queue, 1, time.Hour, nil)
	require.NoError(t, err)
	b.queued = enq(2, &driver.EnqueueOptions{Group: "g2"})
	b.delayed = enq(3, &driver.EnqueueOptions{Delay: time.Hour})
	return b
}

func TestTablesAndJSON(t *testing.T) {
	t.Parallel()
	b := setup(t)

	r := runCLI(t, nil, "queues", "--database-url", b.url)
	require.Equal(t, 0, r.code, r)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 2, r)
	require.Regexp(t, `^QUEUE\s+QUEUED\s+DELAYED\s+PROCESSING\s+RETRYING\s+DLQ\s+ARCHIVED\s+OLDEST\s+PAUSED$`, lines[0])
	require.Regexp(t, `^emails\s+1\s+1\s+1\s+0\s+0\s+0\s+\S+\s+no$`, lines[1])
	require.Equal(t, strings.Index(lines[0], "QUEUED"), strings.Index(lines[1], "1"), "columns aligned")

	// Flags before the command, DATABASE_URL from the environment.
	r = runCLI(t, []string{"DATABASE_URL=" + b.url}, "--json", "stats", "emails")
	require.Equal(t, 0, r.code, r)
	var qi driver.QueueInfo
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &qi), r)
	require.Equal(t, driver.QueueInfo{Queue: "emails", Queued: 1, Delayed: 1, Processing: 1,
		OldestQueuedAgeSeconds: qi.OldestQueuedAgeSeconds}, qi)

	r = runCLI(t, nil, "tasks", "emails", "--status", "delayed", "--json", "--database-url="+b.url)
	require.Equal(t, 0, r.code, r)
	var tasks []driver.TaskView
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &tasks), r)
	require.Len(t, tasks, 1)
	require.Equal(t, b.delayed, tasks[0].MsgID)

	r = runCLI(t, nil, "tasks", "emails", "--database-url", b.url, "--limit", "2")
	require.Equal(t, 0, r.code, r)
	require.Regexp(t, `(?m)^MSG_ID\s+STATUS\s+GROUP`, r.stdout)
	require.Regexp(t, fmt.Sprintf(`(?m)^%d\s+processing\s+g1\s+1\s`, b.processing), r.stdout)
	require.Regexp(t, fmt.Sprintf(`(?m)^%d\s+queued\s+g2\s+0\s`, b.queued), r.stdout)
	require.Contains(t, r.stderr, fmt.Sprintf("--after %d", b.queued), "a full page points at the next")

	r = runCLI(t, nil, "task", "emails", fmt.Sprint(b.queued), "--database-url", b.url)
	require.Equal(t, 0, r.code, r)
	require.Regexp(t, fmt.Sprintf(`(?m)^queue\s+%d\s+queued\s+g2`, b.queued), r.stdout)
	require.Contains(t, r.stdout, `message: {"n": 2}`)

	r = runCLI(t, nil, "dlq", "emails", "--json", "--database-url", b.url)
	require.Equal(t, 0, r.code, r)
	require.JSONEq(t, `[]`, r.stdout)
}

func TestWritesAndExitCodes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	db := []string{"--database-url", b.url}
	cli := func(args ...string) result { return runCLI(t, nil, append(args, db...)...) }

	r := cli("cancel", "emails", fmt.Sprint(b.processing))
	require.Equal(t, 0, r.code, r)
	require.Contains(t, r.stdout, "was processing")
	r = cli("cancel", "emails", fmt.Sprint(b.processing), "--json")
	require.Equal(t, 3, r.code, "cancel of a task that left the queue: %s", r)
	require.JSONEq(t, fmt.Sprintf(`{"queue":"emails","msg_id":%d,"cancelled":false,"status":"cancelled"}`, b.processing), r.stdout)
	r = cli("cancel", "emails", "999")
	require.Equal(t, 3, r.code, "unknown task: %s", r)
	r = cli("stats", "nope")
	require.Equal(t, 3, r.code, "unknown queue: %s", r)
	require.Contains(t, r.stderr, "does not exist")

	r = cli("retry", "emails", fmt.Sprint(b.delayed))
	require.Equal(t, 0, r.code, r)
	require.Contains(t, r.stdout, "was delayed")

	r = cli("pause", "emails")
	require.Equal(t, 0, r.code, r)
	r = cli("queues", "--json")
	require.Equal(t, 0, r.code, r)
	var qs []driver.QueueInfo
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &qs))
	require.True(t, qs[0].Paused)
	r = cli("resume", "emails")
	require.Equal(t, 0, r.code, r)
	require.Contains(t, r.stdout, "emails is running")

	tasks, err := b.client.Read(b.ctx, "emails", 10, time.Hour, nil)
	require.NoError(t, err)
	for _, tk := range tasks {
		_, err := b.client.Fail(b.ctx, "emails", tk.MsgID, tk.Attempt, "boom", &driver.FailOptions{NonRetryable: true})
		require.NoError(t, err)
	}
	r = cli("reschedule", "emails", "--all", "--error-contains", "boom", "--json")
	require.Equal(t, 0, r.code, r)
	require.JSONEq(t, fmt.Sprintf(`{"queue":"emails","rescheduled":%d}`, len(tasks)), r.stdout)
	r = cli("purge-dlq", "emails", "--older-than", "7d")
	require.Equal(t, 0, r.code, r)
	require.Contains(t, r.stdout, "deleted 0 DLQ entries")

	// Usage: exit 2.
	for _, args := range [][]string{{"bogus"}, {"tasks"}, {"cancel", "emails", "x"}, {"reschedule", "emails"},
		{"purge-dlq", "emails"}, {"purge-dlq", "emails", "--older-than", "soon"}, {"tasks", "emails", "--limit", "5000"},
		{"tasks", "emails", "--status", "done"}, {"queues", "--no-such-flag"}} {
		r := cli(args...)
		require.Equal(t, 2, r.code, "%v: %s", args, r)
	}
	r = runCLI(t, nil, "queues")
	require.Equal(t, 2, r.code, r)
	require.Contains(t, r.stderr, "--database-url")

	// Database errors: exit 1.
	r = runCLI(t, nil, "queues", "--database-url", "postgres://nobody@127.0.0.1:1/none", "--connect-timeout", "2s")
	require.Equal(t, 1, r.code, r)
}

// TestMigrate: `pgtq migrate` is pgtq-migrate's code: flags anywhere, its output and exit codes.
func TestMigrate(t *testing.T) {
	t.Parallel()
	url := pgtest.NewEmptyDBURL(t)
	r := runCLI(t, nil, "--database-url", url, "migrate", "up")
	require.Equal(t, 0, r.code, r)
	require.Contains(t, r.stdout, "functions applied")
	require.True(t, strings.HasPrefix(r.stderr, "pgtq migrate: up: host="), r)
	r = runCLI(t, nil, "migrate", "version", "--database-url", url)
	require.Equal(t, 0, r.code, r)
	require.Regexp(t, `^\d+\n$`, r.stdout)
	r = runCLI(t, nil, "migrate", "status", "--database-url", url)
	require.Equal(t, 0, r.code, r)
	require.Contains(t, r.stdout, "functions: up to date")
	r = runCLI(t, nil, "migrate", "sideways", "--database-url", url)
	require.Equal(t, 2, r.code, r)
	r = runCLI(t, nil, "migrate", "status")
	require.Equal(t, 2, r.code, r)
}

// TestServe: `pgtq serve` answers reads and, with --writes, writes with the token from PGTQ_API_TOKEN.
func TestServe(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	cmd := command(t, ctx, []string{"PGTQ_API_TOKEN=tok", "DATABASE_URL=" + b.url}, "serve", "--addr", "127.0.0.1:0", "--writes")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stderr).ReadString('\n')
	require.NoError(t, err)
	_, base, ok := strings.Cut(strings.TrimSpace(line), "on ")
	require.True(t, ok, line)
	base, _, _ = strings.Cut(base, " ")

	resp, err := http.Get(base + "/api/queues/emails")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	require.Contains(t, string(body), `"queue":"emails"`)

	// The dashboard at / and the queue gauges at /metrics, beside the API.
	for path, want := range map[string]string{
		"/":              `href="/queues/emails"`,
		"/metrics":       `pgtq_queue_tasks{queue="emails",status="queued"}`,
		"/static/app.js": "pgtqCharts",
	} {
		resp, err := http.Get(base + path)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", path, body)
		require.Contains(t, string(body), want, path)
	}

	req, _ := http.NewRequest("POST", base+"/api/queues/emails/pause", nil)
	req.Header.Set("Authorization", "Bearer tok")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	info, err := b.client.QueueInfo(b.ctx, "emails")
	require.NoError(t, err)
	require.True(t, info.Paused)

	r := runCLI(t, []string{"DATABASE_URL=" + b.url}, "serve", "--writes")
	require.Equal(t, 2, r.code, "--writes without a token: %s", r)
	require.Contains(t, r.stderr, "PGTQ_API_TOKEN")
}
