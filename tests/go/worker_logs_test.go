package gotest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/worker"
)

// logRecord is one log record as a logRecorder saw it.
type logRecord struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

// logRecorder is a slog.Handler that keeps every record (all levels) and also writes warnings and up
// into the test log.
type logRecorder struct {
	t     *testing.T
	mu    *sync.Mutex
	all   *[]logRecord
	attrs []slog.Attr
}

func newLogRecorder(t *testing.T) *logRecorder {
	return &logRecorder{t: t, mu: &sync.Mutex{}, all: &[]logRecord{}}
}

func (h *logRecorder) logger() *slog.Logger { return slog.New(h) }

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	for _, a := range h.attrs {
		rec.attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	h.mu.Lock()
	*h.all = append(*h.all, rec)
	h.mu.Unlock()
	if r.Level >= slog.LevelWarn {
		h.t.Logf("%s %s %v", r.Level, r.Message, rec.attrs)
	}
	return nil
}

func (h *logRecorder) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(slices.Clone(h.attrs), attrs...)
	return &c
}

func (h *logRecorder) WithGroup(string) slog.Handler { return h }

// records returns the records so far.
func (h *logRecorder) records() []logRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(*h.all)
}

// count counts the records of level whose message starts with msg.
func (h *logRecorder) count(level slog.Level, msg string) int {
	n := 0
	for _, r := range h.records() {
		if r.level == level && strings.HasPrefix(r.msg, msg) {
			n++
		}
	}
	return n
}

// atLeast returns the records of level or above, formatted.
func (h *logRecorder) atLeast(level slog.Level) []string {
	var out []string
	for _, r := range h.records() {
		if r.level >= level {
			out = append(out, fmt.Sprintf("%s %s %v", r.level, r.msg, r.attrs))
		}
	}
	return out
}

// TestWorkerLogLevels checks that log levels match severity: a retry is INFO, a dead-lettered task WARN,
// and a worker stopped through its ctx's deadline logs nothing at ERROR (not "listener stopped").
func TestWorkerLogLevels(t *testing.T) {
	t.Parallel()
	b := setupWorker(t)
	q := b.newQueue(t, false)
	logs := newLogRecorder(t)
	p := worker.NewProcessor(q, func(ctx context.Context, n numPayload) error {
		if n.N == 1 {
			return worker.NonRetryable(errors.New("bad task"))
		}
		return errors.New("try again")
	}, &worker.ProcessorOptions{MaxRetries: 1})
	w, err := worker.New(b.client, &worker.Options{Processors: []*worker.Processor{p}, Logger: logs.logger(),
		ConcurrencyLimit: 2})
	require.NoError(t, err)
	ctx := newDeadlineCtx()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	waitReady(t, w)
	b.enqueue(t, q, numPayload{N: 1}, nil) // dead-lettered at once
	b.enqueue(t, q, numPayload{N: 2}, nil) // retried once, then dead-lettered
	waitUntil(t, 20*time.Second, "both dead-lettered", func() bool { return b.archived(t, q, "dead_lettered") == 2 })
	waitUntil(t, 5*time.Second, "dead-letter logs", func() bool {
		return logs.count(slog.LevelWarn, "pgtq: task failed; dead-lettered") == 2
	})
	require.Equal(t, 1, logs.count(slog.LevelInfo, "pgtq: task failed; retrying"))

	// Stop through the ctx's deadline (the old worker logged "ERROR listener stopped").
	ctx.expire()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(workerTestTimeout):
		t.Fatal("worker did not stop")
	}
	require.Empty(t, logs.atLeast(slog.LevelError))
}

// deadlineCtx is a context whose deadline passes when the test says so: Err is then
// context.DeadlineExceeded, as for a ctx made by context.WithTimeout.
type deadlineCtx struct {
	context.Context
	done chan struct{}
}

func newDeadlineCtx() *deadlineCtx {
	return &deadlineCtx{Context: context.Background(), done: make(chan struct{})}
}

func (c *deadlineCtx) expire() { close(c.done) }

func (c *deadlineCtx) Done() <-chan struct{} { return c.done }

func (c *deadlineCtx) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}
