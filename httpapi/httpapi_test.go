package httpapi_test

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

	"github.com/pgtq/pgtq/driver"
	"github.com/pgtq/pgtq/httpapi"
	"github.com/pgtq/pgtq/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const token = "s3cret-token"

// testBundle is a migrated database with a queue, a Client, and API servers over it.
type testBundle struct {
	ctx    context.Context
	client *driver.Client
	queue  string
	// reads serves with writes disabled (the default); writes with writes enabled and token.
	reads, writes *httptest.Server
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	client, err := driver.New(ctx, pgtest.NewDB(t))
	require.NoError(t, err)
	// A name that needs escaping in a URL and quoting in SQL.
	queue := "jobs 100% \"x\""
	require.NoError(t, client.CreateQueue(ctx, queue, nil))
	serve := func(opts *httpapi.Options) *httptest.Server {
		h, err := httpapi.New(client, opts)
		require.NoError(t, err)
		s := httptest.NewServer(h)
		t.Cleanup(s.Close)
		return s
	}
	return &testBundle{ctx: ctx, client: client, queue: queue, reads: serve(nil),
		writes: serve(&httpapi.Options{Writes: true, Token: token})}
}

// call sends a request and decodes the JSON answer into out (when not nil); it returns the status code.
func call(t *testing.T, s *httptest.Server, method, path, bearer string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, nil)
	require.NoError(t, err)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := s.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"), "%s %s: %s", method, path, body)
	if out != nil {
		require.NoError(t, json.Unmarshal(body, out), "%s", body)
	}
	return resp.StatusCode
}

type errBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// requireError checks an error answer: status and code, and a message.
func requireError(t *testing.T, s *httptest.Server, method, path, bearer string, status int, code string) {
	t.Helper()
	var e errBody
	require.Equal(t, status, call(t, s, method, path, bearer, &e), "%s %s: %+v", method, path, e)
	require.Equal(t, code, e.Code)
	require.NotEmpty(t, e.Error)
}

func (b *testBundle) q() string { return "/api/queues/" + url.PathEscape(b.queue) }

func (b *testBundle) enqueue(t *testing.T, n int, group string) int64 {
	t.Helper()
	id, err := b.client.Enqueue(b.ctx, b.queue, map[string]int{"n": n}, &driver.EnqueueOptions{Group: group})
	require.NoError(t, err)
	return id
}

type taskPage struct {
	Tasks      []driver.TaskView `json:"tasks"`
	NextCursor *string           `json:"next_cursor"`
}

func TestReads(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.enqueue(t, 1, "g")

	var qs struct {
		Queues []driver.QueueInfo `json:"queues"`
	}
	require.Equal(t, http.StatusOK, call(t, b.reads, "GET", "/api/queues", "", &qs))
	require.Len(t, qs.Queues, 1)
	require.Equal(t, b.queue, qs.Queues[0].Queue)
	require.EqualValues(t, 1, qs.Queues[0].Queued)

	var qi driver.QueueInfo
	require.Equal(t, http.StatusOK, call(t, b.reads, "GET", b.q(), "", &qi))
	require.Equal(t, b.queue, qi.Queue)

	var page taskPage
	require.Equal(t, http.StatusOK, call(t, b.reads, "GET", b.q()+"/tasks?status=queued&group=g", "", &page))
	require.Len(t, page.Tasks, 1)
	require.Equal(t, id, page.Tasks[0].MsgID)
	require.Nil(t, page.NextCursor, "a short page is the last")

	var hist struct {
		History []driver.TaskView `json:"history"`
	}
	require.Equal(t, http.StatusOK, call(t, b.reads, "GET", fmt.Sprintf("%s/tasks/%d", b.q(), id), "", &hist))
	require.Len(t, hist.History, 1)
	require.JSONEq(t, `{"n": 1}`, string(hist.History[0].Message))

	tasks, err := b.client.Read(b.ctx, b.queue, 1, time.Minute, nil)
	require.NoError(t, err)
	_, err = b.client.Fail(b.ctx, b.queue, id, tasks[0].Attempt, "boom", &driver.FailOptions{NonRetryable: true})
	require.NoError(t, err)
	var dlq struct {
		Entries []httpapi.DLQEntry `json:"entries"`
	}
	require.Equal(t, http.StatusOK, call(t, b.reads, "GET", b.q()+"/dlq", "", &dlq))
	require.Len(t, dlq.Entries, 1)
	require.Equal(t, id, dlq.Entries[0].OriginalMsgID)
	require.Equal(t, "boom", dlq.Entries[0].Errors[0].Error)
	require.Equal(t, http.StatusOK, call(t, b.reads, "GET", b.q()+"/archive", "", &page))
	require.Len(t, page.Tasks, 1)
	require.Equal(t, "dead_lettered", page.Tasks[0].Status)

	// Errors.
	requireError(t, b.reads, "GET", "/api/queues/nope", "", http.StatusNotFound, httpapi.CodeNotFound)
	requireError(t, b.reads, "GET", "/api/queues/nope/tasks", "", http.StatusNotFound, httpapi.CodeNotFound)
	requireError(t, b.reads, "GET", b.q()+"/tasks/999", "", http.StatusNotFound, httpapi.CodeNotFound)
	requireError(t, b.reads, "GET", b.q()+"/tasks/abc", "", http.StatusBadRequest, httpapi.CodeBadRequest)
	requireError(t, b.reads, "GET", b.q()+"/tasks?cursor=abc", "", http.StatusBadRequest, httpapi.CodeBadRequest)
	requireError(t, b.reads, "GET", b.q()+"/tasks?cursor=-4", "", http.StatusBadRequest, httpapi.CodeBadRequest)
	requireError(t, b.reads, "GET", b.q()+"/archive?cursor=1x", "", http.StatusBadRequest, httpapi.CodeBadRequest)
	requireError(t, b.reads, "GET", b.q()+"/tasks?limit=0", "", http.StatusBadRequest, httpapi.CodeBadRequest)
	requireError(t, b.reads, "GET", b.q()+"/tasks?status=done", "", http.StatusBadRequest, httpapi.CodeBadRequest)
	requireError(t, b.reads, "GET", "/api/queues/x;y", "", http.StatusBadRequest, httpapi.CodeBadRequest)
	requireError(t, b.reads, "GET", "/api/nothing", "", http.StatusNotFound, httpapi.CodeNotFound)
}

// TestPagination: following next_cursor walks every task exactly once; limit is capped at the hard maximum.
func TestPagination(t *testing.T) {
	t.Parallel()
	b := setup(t)
	payloads := make([]any, 1234)
	for i := range payloads {
		payloads[i] = map[string]int{"n": i}
	}
	ids, err := b.client.EnqueueBatch(b.ctx, b.queue, payloads, nil)
	require.NoError(t, err)

	seen := map[int64]int{}
	path := b.q() + "/tasks?limit=50"
	pages := 0
	for {
		var page taskPage
		require.Equal(t, http.StatusOK, call(t, b.reads, "GET", path, "", &page))
		pages++
		for _, tv := range page.Tasks {
			seen[tv.MsgID]++
		}
		if page.NextCursor == nil {
			break
		}
		path = b.q() + "/tasks?limit=50&cursor=" + *page.NextCursor
	}
	require.Equal(t, 25, pages, "1234 tasks in pages of 50")
	require.Len(t, seen, len(ids))
	for _, id := range ids {
		require.Equal(t, 1, seen[id], "msg %d listed once", id)
	}

	var page taskPage
	require.Equal(t, http.StatusOK, call(t, b.reads, "GET", b.q()+"/tasks?limit=100000", "", &page))
	require.Len(t, page.Tasks, driver.ListLimitMax, "limit capped at the hard maximum")
	require.NotNil(t, page.NextCursor)
}

func TestWrites(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.enqueue(t, 1, "")
	cancelPath := fmt.Sprintf("%s/tasks/%d/cancel", b.q(), id)

	// Authorisation.
	requireError(t, b.reads, "POST", b.q()+"/pause", token, http.StatusForbidden, httpapi.CodeWritesDisabled)
	requireError(t, b.reads, "POST", cancelPath, "", http.StatusForbidden, httpapi.CodeWritesDisabled)
	requireError(t, b.writes, "POST", b.q()+"/pause", "", http.StatusUnauthorized, httpapi.CodeUnauthorized)
	requireError(t, b.writes, "POST", b.q()+"/pause", "wrong", http.StatusForbidden, httpapi.CodeForbidden)
	requireError(t, b.writes, "POST", b.q()+"/pause", token+"x", http.StatusForbidden, httpapi.CodeForbidden)
	info, err := b.client.QueueInfo(b.ctx, b.queue)
	require.NoError(t, err)
	require.False(t, info.Paused, "refused writes changed nothing")

	var res map[string]any
	require.Equal(t, http.StatusOK, call(t, b.writes, "POST", b.q()+"/pause", token, &res))
	require.Equal(t, true, res["changed"])
	var qi driver.QueueInfo
	require.Equal(t, http.StatusOK, call(t, b.reads, "GET", b.q(), "", &qi))
	require.True(t, qi.Paused)
	require.Equal(t, http.StatusOK, call(t, b.writes, "POST", b.q()+"/resume", token, &res))
	require.Equal(t, false, res["paused"])

	require.Equal(t, http.StatusOK, call(t, b.writes, "POST", cancelPath, token, &res))
	require.Equal(t, "queued", res["status"])
	requireError(t, b.writes, "POST", cancelPath, token, http.StatusConflict, httpapi.CodeConflict)
	requireError(t, b.writes, "POST", b.q()+"/tasks/999/cancel", token, http.StatusNotFound, httpapi.CodeNotFound)
	requireError(t, b.writes, "POST", "/api/queues/nope/pause", token, http.StatusNotFound, httpapi.CodeNotFound)

	// Retry now: a retrying task; then 409 for one that is not waiting.
	id2 := b.enqueue(t, 2, "")
	tasks, err := b.client.Read(b.ctx, b.queue, 1, time.Minute, nil)
	require.NoError(t, err)
	_, err = b.client.Fail(b.ctx, b.queue, id2, tasks[0].Attempt, "later", &driver.FailOptions{MaxRetries: 1, RetryDelay: time.Hour})
	require.NoError(t, err)
	retryPath := fmt.Sprintf("%s/tasks/%d/retry", b.q(), id2)
	require.Equal(t, http.StatusOK, call(t, b.writes, "POST", retryPath, token, &res))
	require.Equal(t, "retrying", res["status"])
	requireError(t, b.writes, "POST", retryPath, token, http.StatusConflict, httpapi.CodeConflict)

	// Reschedule a DLQ entry.
	tasks, err = b.client.Read(b.ctx, b.queue, 1, time.Minute, nil)
	require.NoError(t, err)
	_, err = b.client.Fail(b.ctx, b.queue, id2, tasks[0].Attempt, "final", &driver.FailOptions{NonRetryable: true})
	require.NoError(t, err)
	entries, err := b.client.ListDLQ(b.ctx, b.queue, 10)
	require.NoError(t, err)
	path := fmt.Sprintf("%s/dlq/%d/reschedule", b.q(), entries[0].MsgID)
	require.Equal(t, http.StatusOK, call(t, b.writes, "POST", path, token, &res))
	newID := int64(res["msg_id"].(float64))
	require.Greater(t, newID, id2)
	requireError(t, b.writes, "POST", path, token, http.StatusNotFound, httpapi.CodeNotFound)
	requireError(t, b.writes, "POST", b.q()+"/dlq/x/reschedule", token, http.StatusBadRequest, httpapi.CodeBadRequest)
}

func TestOptions(t *testing.T) {
	t.Parallel()
	_, err := httpapi.New(nil, nil)
	require.Error(t, err)
	client, err := driver.New(context.Background(), pgtest.NewDB(t))
	require.NoError(t, err)
	_, err = httpapi.New(client, &httpapi.Options{Writes: true})
	require.ErrorContains(t, err, "Token")
	require.True(t, strings.Contains(err.Error(), "Writes"))
}
