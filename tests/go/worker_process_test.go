package gotest

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestWorkerProcess builds tests/go/internal/testworker once and runs real worker processes: killed with
// SIGKILL, stopped with SIGTERM, and driven through worker.Main's flags.
func TestWorkerProcess(t *testing.T) {
	// Built before t.Parallel, so early in the run: the binary must embed the same SQL as this test binary.
	bin := filepath.Join(t.TempDir(), "testworker")
	build := exec.Command("go", "build", "-o", bin, "./internal/testworker")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	t.Parallel()

	t.Run("SIGKILL mid-task: runs again after the lease, completes once", func(t *testing.T) {
		t.Parallel()
		b := setupProcessDB(t)
		q := b.newQueue(t, false)
		// Timeout 1 s: the lease is 1 s + 5 s grace, so the dead worker's task is back in ~6 s.
		p1 := startTestWorker(t, bin, b.url, map[string]string{"PGTQ_TEST_QUEUES": q, "PGTQ_TEST_MODE": "block",
			"PGTQ_TEST_TIMEOUT_MS": "1000"}, "--poll-interval-seconds", "0.2")
		id := b.enqueue(t, q, numPayload{N: 1}, nil)
		p1.waitUntil(t, 10*time.Second, "task started", func() bool { return b.runCount(t, q, "start") == 1 })
		require.NoError(t, p1.cmd.Process.Signal(syscall.SIGKILL))
		p1.wait(t, 5*time.Second)

		p2 := startTestWorker(t, bin, b.url, map[string]string{"PGTQ_TEST_QUEUES": q, "PGTQ_TEST_TIMEOUT_MS": "1000"},
			"--poll-interval-seconds", "0.2")
		p2.waitUntil(t, 20*time.Second, "task completed", func() bool { return b.archived(t, q, "completed") == 1 })
		require.EqualValues(t, 1, b.runCount(t, q, "done"), "completed exactly once")
		require.EqualValues(t, 0, b.queueRows(t, q))
		var attempt int
		require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT attempt FROM worker_runs WHERE event = 'done' AND msg_id = $1`, id).Scan(&attempt))
		require.Equal(t, 2, attempt, "the killed attempt counts")
	})

	t.Run("SIGTERM: running tasks finish, queued ones stay untouched", func(t *testing.T) {
		t.Parallel()
		b := setupProcessDB(t)
		q := b.newQueue(t, false)
		p := startTestWorker(t, bin, b.url, map[string]string{"PGTQ_TEST_QUEUES": q, "PGTQ_TEST_WORK_MS": "1500"},
			"--concurrency-limit", "3", "--shutdown-timeout-seconds", "20")
		payloads := make([]any, 8)
		for i := range payloads {
			payloads[i] = numPayload{N: i}
		}
		_, err := b.client.EnqueueBatch(b.ctx, q, payloads, nil)
		require.NoError(t, err)
		p.waitUntil(t, 10*time.Second, "3 tasks running", func() bool { return b.runCount(t, q, "start") == 3 })
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
		code := p.wait(t, 15*time.Second)
		require.Equal(t, 0, code, "stderr: %s", p.stderr.String())
		require.EqualValues(t, 3, b.runCount(t, q, "done"), "running tasks finished")
		require.EqualValues(t, 3, b.archived(t, q, "completed"))
		require.EqualValues(t, 5, b.count(t, `SELECT count(*) FROM `+table("q", q)+` WHERE read_ct = 0 AND vt <= clock_timestamp()`),
			"the rest is still queued, unclaimed")
	})

	t.Run("SIGTERM past the shutdown timeout: unfinished tasks released, attempt not burned", func(t *testing.T) {
		t.Parallel()
		b := setupProcessDB(t)
		q := b.newQueue(t, false)
		p := startTestWorker(t, bin, b.url, map[string]string{"PGTQ_TEST_QUEUES": q, "PGTQ_TEST_MODE": "block"},
			"--concurrency-limit", "2", "--shutdown-timeout-seconds", "0.5")
		b.enqueue(t, q, numPayload{N: 1}, nil)
		b.enqueue(t, q, numPayload{N: 2}, nil)
		p.waitUntil(t, 10*time.Second, "2 tasks running", func() bool { return b.runCount(t, q, "start") == 2 })
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
		require.Equal(t, 0, p.wait(t, 15*time.Second), "stderr: %s", p.stderr.String())
		require.EqualValues(t, 2, b.count(t, `SELECT count(*) FROM `+table("q", q)+` WHERE read_ct = 0 AND vt <= clock_timestamp()`),
			"both tasks visible again with their attempt given back")
		require.EqualValues(t, 0, b.archiveRows(t, q))
	})

	t.Run("include and exclude", func(t *testing.T) {
		t.Parallel()
		b := setupProcessDB(t)
		qa, qb, qc := b.newQueue(t, false), b.newQueue(t, false), b.newQueue(t, false)
		queues := strings.Join([]string{qa, qb, qc}, ",")
		p := startTestWorker(t, bin, b.url, map[string]string{"PGTQ_TEST_QUEUES": queues},
			"--include", qa, "--include", qb, "--exclude", qb, "--poll-interval-seconds", "0.1")
		for _, q := range []string{qc, qb, qa} {
			b.enqueue(t, q, numPayload{}, nil)
		}
		p.waitUntil(t, 10*time.Second, "included queue served", func() bool { return b.archived(t, qa, "completed") == 1 })
		// A second round on the included queue: the worker has claimed again while qb and qc held visible
		// tasks the whole time, so a wrong claim would have happened by now.
		b.enqueue(t, qa, numPayload{}, nil)
		p.waitUntil(t, 10*time.Second, "included queue served twice", func() bool { return b.archived(t, qa, "completed") == 2 })
		require.EqualValues(t, 0, b.count(t, `SELECT count(*) FROM worker_runs WHERE queue <> $1`, qa))
		for _, q := range []string{qb, qc} {
			require.EqualValues(t, 1, b.count(t, `SELECT count(*) FROM `+table("q", q)+` WHERE read_ct = 0`), q)
		}
	})

	t.Run("CLI errors", func(t *testing.T) {
		t.Parallel()
		cases := []struct {
			args []string
			env  string
			code int
			msg  string
		}{
			{[]string{"--concurrency-limit", "0"}, "", 2, "--concurrency-limit must be >= 1"},
			{[]string{"--no-such-flag"}, "", 2, "flag provided but not defined"},
			{[]string{"--poll-interval-seconds", "abc"}, "", 2, "invalid value"},
			{[]string{"--include", "nope"}, "", 2, `unknown queue "nope"`},
			{[]string{"extra"}, "", 2, "unexpected argument"},
			{[]string{"--database-url", "postgres://u@h:notaport/db"}, "", 2, "bad database URL"},
			{[]string{"--database-url", "postgres://postgres@127.0.0.1:1/x?connect_timeout=2"}, "", 1, "cannot reach the database"},
			{nil, "postgres://postgres@127.0.0.1:1/x?connect_timeout=2", 1, "cannot reach the database"},
			{[]string{"--help"}, "", 0, "-prune-batch-size"},
		}
		for _, c := range cases {
			cmd := exec.Command(bin, c.args...)
			cmd.Env = append(os.Environ(), "PGTQ_TEST_QUEUES=proc", "DATABASE_URL="+c.env)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, c.code, code, "args %v: %s", c.args, stderr.String())
			require.Contains(t, stderr.String(), c.msg, "args %v", c.args)
		}
	})
}

// setupProcessDB is setupWorker plus the worker_runs table the test worker binary writes to.
func setupProcessDB(t *testing.T) *workerBundle {
	b := setupWorker(t)
	_, err := b.pool.Exec(b.ctx, `CREATE TABLE worker_runs (
		queue text, msg_id bigint, task_id text, attempt int, pid int, event text,
		at timestamptz DEFAULT clock_timestamp())`)
	require.NoError(t, err)
	return b
}

// runCount counts worker_runs rows of queue with event.
func (b *workerBundle) runCount(t *testing.T, queue, event string) int64 {
	t.Helper()
	return b.count(t, `SELECT count(*) FROM worker_runs WHERE queue = $1 AND event = $2`, queue, event)
}

// testProcess is a running test worker binary.
type testProcess struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{}
	code   int
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startTestWorker starts the test worker binary on url with extra env and flags; it is killed at the end
// of the test if still running.
func startTestWorker(t *testing.T, bin, url string, env map[string]string, args ...string) *testProcess {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+url, "PGTQ_TEST_MIGRATE=1")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &testProcess{cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	require.NoError(t, cmd.Start())
	go func() {
		_ = cmd.Wait()
		p.code = cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("worker pid %d stderr:\n%s", cmd.Process.Pid, p.stderr.String())
		}
	})
	return p
}

// waitUntil is the package's waitUntil that also fails at once, with the worker's stderr, when the
// process exits.
func (p *testProcess) waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	waitUntil(t, within, what, func() bool {
		select {
		case <-p.done:
			t.Fatalf("worker exited with code %d while waiting for %s; stderr:\n%s", p.code, what, p.stderr.String())
		default:
		}
		return cond()
	})
}

// wait waits for the process to exit and returns its exit code (-1 when killed by a signal).
func (p *testProcess) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(within):
		t.Fatalf("worker pid %d still running after %s", p.cmd.Process.Pid, within)
		return 0
	}
}
