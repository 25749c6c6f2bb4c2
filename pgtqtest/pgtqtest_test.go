package pgtqtest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/driver"
	"github.com/pgtq/pgtq/pgtqtest"
	"github.com/pgtq/pgtq/worker"
)

func TestMain(m *testing.M) { pgtqtest.Main(m) }

type email struct {
	To string `json:"to"`
}

func TestNewClientGivesEachTestItsOwnMigratedDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := pgtqtest.NewClient(t), pgtqtest.NewClient(t)
	require.NoError(t, a.CreateQueue(ctx, "emails", nil))
	_, err := a.Enqueue(ctx, "emails", email{To: "a@b.c"}, nil)
	require.NoError(t, err)
	_, err = b.Enqueue(ctx, "emails", email{To: "a@b.c"}, nil)
	require.ErrorIs(t, err, driver.ErrQueueNotFound, "b's database does not see a's queue")
}

// fakeTB records Fatalf instead of stopping the test, to check the failure messages.
type fakeTB struct {
	testing.TB
	failed string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	if f.failed == "" {
		f.failed = fmt.Sprintf(format, args...)
	}
}

func TestRequireEnqueued(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client := pgtqtest.NewClient(t)
	require.NoError(t, client.CreateQueue(ctx, "emails", nil))
	_, err := client.Enqueue(ctx, "emails", email{To: "a@b.c"}, &driver.EnqueueOptions{Group: "customer-1", Delay: time.Minute})
	require.NoError(t, err)
	_, err = client.Enqueue(ctx, "emails", map[string]any{"to": "x@y.z"}, nil)
	require.NoError(t, err)
	_, err = client.Enqueue(ctx, "emails", map[string]any{"to": "x@y.z"}, nil)
	require.NoError(t, err)

	got := pgtqtest.RequireEnqueued(t, client, "emails", email{To: "a@b.c"},
		&pgtqtest.RequireOpts{Group: "customer-1", Delay: time.Minute, Count: 1})
	require.Len(t, got, 1)
	pgtqtest.RequireEnqueued(t, client, "emails", `{"to": "x@y.z"}`, &pgtqtest.RequireOpts{Ungrouped: true, Count: 2})
	pgtqtest.RequireEnqueued(t, client, "emails", nil, &pgtqtest.RequireOpts{Count: 3})
	pgtqtest.RequireNotEnqueued(t, client, "emails", email{To: "nobody"}, nil)

	for _, c := range []struct {
		payload any
		opts    *pgtqtest.RequireOpts
		want    string
	}{
		{email{To: "a@b.c"}, &pgtqtest.RequireOpts{Group: "customer-2"}, `no task in "emails" with payload {"to":"a@b.c"} and group "customer-2"`},
		{email{To: "a@b.c"}, &pgtqtest.RequireOpts{Delay: time.Hour}, "and delay 1h0m0s"},
		{email{To: "x@y.z"}, &pgtqtest.RequireOpts{Count: 1}, "want 1 tasks"},
		{email{To: "b@b.c"}, nil, `msg 1 delayed group="customer-1" delay=1m0s reads=0 payload={"to": "a@b.c"}`},
	} {
		f := &fakeTB{TB: t}
		pgtqtest.RequireEnqueued(f, client, "emails", c.payload, c.opts)
		require.Contains(t, f.failed, c.want)
	}
	f := &fakeTB{TB: t}
	pgtqtest.RequireNotEnqueued(f, client, "emails", email{To: "x@y.z"}, nil)
	require.Contains(t, f.failed, `want no task in "emails" with payload {"to":"x@y.z"}, found 2`)
}

func TestDrainRunsAWorkerUntilTheQueuesAreEmpty(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := pgtqtest.NewClient(t)
	require.NoError(t, client.CreateQueue(ctx, "emails", nil))
	var sent, attempts atomic.Int32
	emails := worker.NewProcessor("emails", func(ctx context.Context, e email) error {
		if e.To == "flaky" && attempts.Add(1) == 1 {
			return errors.New("try again")
		}
		if e.To == "bad" {
			return worker.NonRetryable(errors.New("no such user"))
		}
		sent.Add(1)
		return nil
	}, &worker.ProcessorOptions{MaxRetries: 2})
	for _, to := range []string{"a", "b", "c", "flaky", "bad"} {
		_, err := client.Enqueue(ctx, "emails", email{To: to}, nil)
		require.NoError(t, err)
	}
	_, err := client.Enqueue(ctx, "emails", email{To: "later"}, &driver.EnqueueOptions{Delay: time.Second})
	require.NoError(t, err)

	require.NoError(t, pgtqtest.Drain(ctx, client, &worker.Options{Processors: []*worker.Processor{emails}, ConcurrencyLimit: 2}))
	require.EqualValues(t, 5, sent.Load(), "a, b, c, flaky (second try) and the delayed task")
	info, err := client.QueueInfo(ctx, "emails")
	require.NoError(t, err)
	require.Zero(t, info.Queued+info.Delayed+info.Processing+info.Retrying)
	require.EqualValues(t, 1, info.DLQ, "the bad task waits in the DLQ")

	require.ErrorContains(t, pgtqtest.Drain(ctx, client, nil), "processors")
	stopped, stop := context.WithCancel(ctx)
	stop()
	_, err = client.Enqueue(ctx, "emails", email{To: "d"}, nil)
	require.NoError(t, err)
	require.ErrorIs(t, pgtqtest.Drain(stopped, client, &worker.Options{Processors: []*worker.Processor{emails}}), context.Canceled)
}

func TestContextWithTaskFeedsTaskFromContext(t *testing.T) {
	t.Parallel()
	info := worker.TaskInfo{Queue: "emails", MsgID: 7, TaskID: "t-7", Attempt: 2, Failures: 1, GroupKey: "g",
		EnqueuedAt: time.Unix(100, 0), StartedAt: time.Unix(160, 0), Headers: map[string]any{"source": "signup"}}
	handler := func(ctx context.Context, e email) (string, error) {
		task, ok := worker.TaskFromContext(ctx)
		if !ok {
			return "", errors.New("no task")
		}
		return fmt.Sprintf("%s attempt %d of %s to %s", task.TaskID, task.Attempt, task.Queue, e.To), nil
	}
	got, err := handler(worker.ContextWithTask(context.Background(), info), email{To: "a@b.c"})
	require.NoError(t, err)
	require.Equal(t, "t-7 attempt 2 of emails to a@b.c", got)
	back, ok := worker.TaskFromContext(worker.ContextWithTask(context.Background(), info))
	require.True(t, ok)
	require.Equal(t, info, back)
	_, ok = worker.TaskFromContext(context.Background())
	require.False(t, ok)
}

// TestDockerFallback starts postgres:15 in Docker, as Main does without PGTQ_DATABASE_URL and local binaries.
func TestDockerFallback(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	u, stop, err := pgtqtest.StartDocker(ctx)
	if err != nil && (strings.Contains(err.Error(), "no Docker daemon") || strings.Contains(err.Error(), "no Docker client")) {
		t.Skipf("Docker fallback not exercised: %v", err)
	}
	require.NoError(t, err)
	defer stop()
	conn, err := pgx.Connect(ctx, u)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var v string
	require.NoError(t, conn.QueryRow(ctx, "SHOW server_version").Scan(&v))
	require.True(t, strings.HasPrefix(v, "15."), v)
}
