package gotest

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/worker"
)

// workerTestTimeout bounds every worker test so that a hang fails the test, not the whole run.
const workerTestTimeout = 60 * time.Second

// workerBundle is what a worker test works with: a driverBundle (fresh migrated database, pool, Client) and the
// database URL (for worker subprocesses and pools of their own).
type workerBundle struct {
	*driverBundle
	url string
}

// setupWorker clones a migrated database for the test and opens a Client on it.
func setupWorker(t *testing.T) *workerBundle {
	t.Helper()
	b := newDriverBundle(t, workerTestTimeout)
	return &workerBundle{driverBundle: b, url: b.pool.Config().ConnString()}
}

// archived returns the number of archived rows of queue with header x-pgtq-status = status.
func (b *workerBundle) archived(t *testing.T, queue, status string) int64 {
	t.Helper()
	return b.count(t, `SELECT count(*) FROM `+table("a", queue)+` WHERE headers->>'x-pgtq-status' = $1`, status)
}

// waitUntil polls cond every 10 ms until it holds, failing the test after within.
func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond) // poll interval, not synchronisation
	}
}

// testLogger returns a logger that writes into the test log (warnings and up unless verbose).
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

var _ io.Writer = tWriter{}

// runWorker starts a worker with opts and stops it at the end of the test. It returns the worker and a
// stop func that cancels Run and waits for it to return.
func (b *workerBundle) runWorker(t *testing.T, opts *worker.Options) (*worker.Worker, func()) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	w, err := worker.New(b.client, opts)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(workerTestTimeout):
				t.Errorf("worker did not stop")
			}
		})
	}
	t.Cleanup(stop)
	return w, stop
}

// waitReady waits until w listens for notifications.
func waitReady(t *testing.T, w *worker.Worker) {
	t.Helper()
	select {
	case <-w.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("worker listener not ready after 10s")
	}
}

// span is one handler run as the test saw it.
type span struct {
	msgID      int64
	attempt    int
	group      string
	seq        int
	start, end time.Time
}

// spans records handler runs from many goroutines.
type spans struct {
	mu  sync.Mutex
	all []span
}

func (s *spans) add(sp span) {
	s.mu.Lock()
	s.all = append(s.all, sp)
	s.mu.Unlock()
}

func (s *spans) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.all)
}

func (s *spans) snapshot() []span {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.all)
}

// gauge tracks a current and a maximum level (tasks in flight).
type gauge struct {
	mu       sync.Mutex
	cur, max int
}

func (g *gauge) inc() {
	g.mu.Lock()
	g.cur++
	g.max = max(g.max, g.cur)
	g.mu.Unlock()
}

func (g *gauge) dec() {
	g.mu.Lock()
	g.cur--
	g.mu.Unlock()
}

func (g *gauge) peak() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.max
}

// percentile returns the p-th percentile (0..100) of ds by nearest rank.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}
