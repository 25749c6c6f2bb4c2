package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/dashboard"
	"github.com/pgtq/pgtq/driver"
	"github.com/pgtq/pgtq/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type testBundle struct {
	ctx    context.Context
	client *driver.Client
	dlqID  int64 // the DLQ entry of the task that failed
	failed int64 // the msg_id of that task
}

// setup makes queue "mails" with 2 completed tasks, 1 dead-lettered (error "smtp: 550 no such user"), 2
// queued and 1 delayed.
func setup(t *testing.T) *testBundle {
	t.Helper()
	ctx := context.Background()
	client, err := driver.New(ctx, pgtest.NewDB(t))
	require.NoError(t, err)
	require.NoError(t, client.CreateQueue(ctx, "mails", nil))
	for i := range 5 {
		_, err := client.Enqueue(ctx, "mails", map[string]any{"n": i}, nil)
		require.NoError(t, err)
	}
	_, err = client.Enqueue(ctx, "mails", map[string]any{"n": "later"}, &driver.EnqueueOptions{Delay: time.Hour})
	require.NoError(t, err)
	tasks, err := client.Read(ctx, "mails", 3, time.Minute, nil)
	require.NoError(t, err)
	require.Len(t, tasks, 3)
	for _, tk := range tasks[:2] {
		ok, err := client.Complete(ctx, "mails", tk.MsgID, tk.Attempt)
		require.NoError(t, err)
		require.True(t, ok)
	}
	out, err := client.Fail(ctx, "mails", tasks[2].MsgID, tasks[2].Attempt, "smtp: 550 no such user", &driver.FailOptions{NonRetryable: true})
	require.NoError(t, err)
	require.Equal(t, driver.FailDeadLettered, out)
	dlq, err := client.ListDLQ(ctx, "mails", 10)
	require.NoError(t, err)
	require.Len(t, dlq, 1)
	return &testBundle{ctx: ctx, client: client, dlqID: dlq[0].MsgID, failed: tasks[2].MsgID}
}

func serve(t *testing.T, client *driver.Client, opts *dashboard.Options) *httptest.Server {
	t.Helper()
	d, err := dashboard.New(client, opts)
	require.NoError(t, err)
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	return srv
}

// noRedirect is a client that reports redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestPagesAreServerRendered(t *testing.T) {
	t.Parallel()
	b := setup(t)
	srv := serve(t, b.client, nil)
	info, err := b.client.QueueInfo(b.ctx, "mails")
	require.NoError(t, err)
	require.EqualValues(t, 2, info.Queued)

	code, body := get(t, srv.URL+"/")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `<a href="/queues/mails">mails</a>`)
	require.Contains(t, body, fmt.Sprintf(`data-stat="queued">%d<`, info.Queued))
	require.Contains(t, body, fmt.Sprintf(`data-stat="dlq">%d<`, info.DLQ))

	code, body = get(t, srv.URL+"/queues/mails")
	require.Equal(t, http.StatusOK, code, body)
	for stat, n := range map[string]int64{"queued": info.Queued, "delayed": info.Delayed, "processing": info.Processing,
		"retrying": info.Retrying, "dlq": info.DLQ, "archived": info.Archived} {
		require.Contains(t, body, fmt.Sprintf(`data-stat="%s">%d<`, stat, n), stat)
	}
	require.Contains(t, body, "smtp: 550 no such user", "the DLQ table shows the last error")
	require.Contains(t, body, fmt.Sprintf(`data-dlq="%d"`, b.dlqID))
	require.NotContains(t, body, `class="reschedule"`, "no buttons with writes off")
	require.NotContains(t, body, `name="token"`)
	require.Contains(t, body, `id="plot-depth"`)

	code, body = get(t, srv.URL+fmt.Sprintf("/queues/mails/tasks/%d", b.failed))
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, "smtp: 550 no such user", "the task page shows the error history")
	require.Contains(t, body, "dead_lettered")

	code, _ = get(t, srv.URL+"/queues/nope")
	require.Equal(t, http.StatusNotFound, code)
	code, _ = get(t, srv.URL+"/queues/mails/tasks/abc")
	require.Equal(t, http.StatusBadRequest, code)
	code, body = get(t, srv.URL+"/static/uPlot.iife.min.js")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "uPlot")
}

func TestRescheduleFormFollowsTheAPIRules(t *testing.T) {
	t.Parallel()
	b := setup(t)
	post := func(srv *httptest.Server, token string) *http.Response {
		t.Helper()
		form := url.Values{}
		if token != "" {
			form.Set("token", token)
		}
		resp, err := noRedirect.PostForm(srv.URL+fmt.Sprintf("/queues/mails/dlq/%d/reschedule", b.dlqID), form)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}

	readOnly := serve(t, b.client, nil)
	require.Equal(t, http.StatusForbidden, post(readOnly, "tok").StatusCode, "writes off")

	_, err := dashboard.New(b.client, &dashboard.Options{Writes: true})
	require.ErrorContains(t, err, "Token")
	srv := serve(t, b.client, &dashboard.Options{Writes: true, Token: "tok"})
	code, body := get(t, srv.URL+"/queues/mails")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, fmt.Sprintf(`formaction="/queues/mails/dlq/%d/reschedule"`, b.dlqID))

	require.Equal(t, http.StatusUnauthorized, post(srv, "").StatusCode)
	require.Equal(t, http.StatusForbidden, post(srv, "wrong").StatusCode)
	info, err := b.client.QueueInfo(b.ctx, "mails")
	require.NoError(t, err)
	require.EqualValues(t, 1, info.DLQ, "refused posts change nothing")

	resp := post(srv, "tok")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	loc := resp.Header.Get("Location")
	require.True(t, strings.HasPrefix(loc, "/queues/mails?") && strings.Contains(loc, fmt.Sprintf("rescheduled=%d", b.dlqID)), loc)
	info, err = b.client.QueueInfo(b.ctx, "mails")
	require.NoError(t, err)
	require.EqualValues(t, 0, info.DLQ)
	require.EqualValues(t, 3, info.Queued, "the entry is back in its queue")
	_, body = get(t, srv.URL+loc)
	require.Contains(t, body, "is back in the queue")
}

func TestSeriesFromArchiveAndSamples(t *testing.T) {
	t.Parallel()
	b := setup(t)
	srv := serve(t, b.client, &dashboard.Options{History: time.Minute, Step: 10 * time.Second})
	code, body := get(t, srv.URL+"/queues/mails/series.json")
	require.Equal(t, http.StatusOK, code, body)
	var s struct {
		Stats   driver.QueueInfo `json:"stats"`
		Depth   [][]float64      `json:"depth"`
		Rate    [][]float64      `json:"rate"`
		Latency [][]*float64     `json:"latency"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &s))
	require.EqualValues(t, 2, s.Stats.Queued)
	require.Len(t, s.Depth, 6)
	require.Len(t, s.Depth[0], 1, "one sample taken for the request")
	require.Equal(t, []float64{2, 1, 0, 0, 1}, []float64{s.Depth[1][0], s.Depth[2][0], s.Depth[3][0], s.Depth[4][0], s.Depth[5][0]})
	require.Len(t, s.Rate, 3)
	require.GreaterOrEqual(t, len(s.Rate[0]), 6, "a minute in 10 s buckets")
	var completed, failed float64
	for i := range s.Rate[0] {
		completed += s.Rate[1][i]
		failed += s.Rate[2][i]
	}
	require.Positive(t, completed, "completions come from the archive")
	require.Positive(t, failed, "the dead-lettered task counts as a failure")
	var p50s int
	for _, v := range s.Latency[1] {
		if v != nil {
			p50s++
			require.GreaterOrEqual(t, *v, 0.0)
		}
	}
	require.Positive(t, p50s)
}

func TestOptionsAreValidated(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, o := range []dashboard.Options{{Step: 1500 * time.Millisecond}, {Rows: -1}, {History: -time.Second}} {
		_, err := dashboard.New(b.client, &o)
		require.Error(t, err)
	}
	_, err := dashboard.New(nil, nil)
	require.Error(t, err)
}
