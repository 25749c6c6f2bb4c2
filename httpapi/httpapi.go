// Package httpapi is PGTQ's HTTP API: an http.Handler, JSON in and out, that any Go server can mount (`pgtq
// serve` runs it on its own). Reads are open; writes are off unless Options.Writes is set, and then need
// Options.Token as a bearer token.
//
//	GET  /api/queues                                   {"queues": [QueueInfo...]}
//	GET  /api/queues/{queue}                           QueueInfo
//	GET  /api/queues/{queue}/tasks?status=&group=&cursor=&limit=
//	                                                   {"tasks": [TaskView...], "next_cursor": "123" | null}
//	GET  /api/queues/{queue}/tasks/{msg_id}            {"history": [TaskView...]} (oldest first)
//	GET  /api/queues/{queue}/archive?cursor=&limit=    {"tasks": [...], "next_cursor": ...} (newest first)
//	GET  /api/queues/{queue}/dlq?limit=                {"entries": [DLQEntry...]} (oldest first)
//	POST /api/queues/{queue}/pause                     {"queue", "paused": true, "changed"}
//	POST /api/queues/{queue}/resume                    {"queue", "paused": false, "changed"}
//	POST /api/queues/{queue}/tasks/{msg_id}/cancel     {"queue", "msg_id", "status"} (status: what it was)
//	POST /api/queues/{queue}/tasks/{msg_id}/retry      {"queue", "msg_id", "status"}
//	POST /api/queues/{queue}/dlq/{msg_id}/reschedule   {"queue", "dlq_msg_id", "msg_id"} (the new task)
//
// Pages: limit defaults to driver.ListLimitDefault and is capped at driver.ListLimitMax; next_cursor is the
// cursor of the next page, null on the last one. Errors are {"error": message, "code": code} with status
// 400 bad_request (a malformed cursor, limit, msg_id, status or queue name), 401 unauthorized (a write
// without a bearer token), 403 forbidden (a wrong token) or writes_disabled, 404 not_found (unknown queue or
// task), 409 conflict (cancel of a task that left the queue, retry of a task that is not waiting) and 500
// internal (the database failed; the message is logged, not returned).
package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pgtq/pgtq/driver"
)

// Options configures the handler. A nil *Options means all defaults.
type Options struct {
	// Writes enables the POST routes (pause, resume, cancel, retry, reschedule). Defaults to false: they
	// answer 403 writes_disabled.
	Writes bool
	// Token is the bearer token the POST routes require ("Authorization: Bearer <token>"), compared in
	// constant time. Required when Writes is set. Defaults to "".
	Token string
	// Logger receives database errors (answered 500 without details). Defaults to slog.Default().
	Logger *slog.Logger
}

func (o *Options) validate() error {
	if o.Writes && o.Token == "" {
		return errors.New("httpapi: Options.Token must be set when Options.Writes is enabled")
	}
	return nil
}

// Error codes of the JSON error body.
const (
	CodeBadRequest     = "bad_request"
	CodeUnauthorized   = "unauthorized"
	CodeForbidden      = "forbidden"
	CodeWritesDisabled = "writes_disabled"
	CodeNotFound       = "not_found"
	CodeConflict       = "conflict"
	CodeInternal       = "internal"
)

type handler struct {
	client *driver.Client
	opts   Options
	token  [32]byte
	mux    *http.ServeMux
}

// New returns the API handler over client.
func New(client *driver.Client, opts *Options) (http.Handler, error) {
	if client == nil {
		return nil, errors.New("httpapi: client is nil")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	h := &handler{client: client, opts: o, token: sha256.Sum256([]byte(o.Token)), mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /api/queues", h.queues)
	h.mux.HandleFunc("GET /api/queues/{queue}", h.queue)
	h.mux.HandleFunc("GET /api/queues/{queue}/tasks", h.tasks)
	h.mux.HandleFunc("GET /api/queues/{queue}/tasks/{msg_id}", h.task)
	h.mux.HandleFunc("GET /api/queues/{queue}/archive", h.archive)
	h.mux.HandleFunc("GET /api/queues/{queue}/dlq", h.dlq)
	h.mux.HandleFunc("POST /api/queues/{queue}/pause", h.write(h.pause))
	h.mux.HandleFunc("POST /api/queues/{queue}/resume", h.write(h.pause))
	h.mux.HandleFunc("POST /api/queues/{queue}/tasks/{msg_id}/cancel", h.write(h.cancel))
	h.mux.HandleFunc("POST /api/queues/{queue}/tasks/{msg_id}/retry", h.write(h.retry))
	h.mux.HandleFunc("POST /api/queues/{queue}/dlq/{msg_id}/reschedule", h.write(h.reschedule))
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, CodeNotFound, "no such route: "+r.Method+" "+r.URL.Path)
	})
	return h, nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// write guards a POST route: writes enabled, then a bearer token equal to Options.Token.
func (h *handler) write(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !h.opts.Writes {
			writeError(w, http.StatusForbidden, CodeWritesDisabled, "writes are disabled on this server")
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || got == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="pgtq"`)
			writeError(w, http.StatusUnauthorized, CodeUnauthorized, "a bearer token is required")
			return
		}
		// Hashes have one length, so the comparison's time says nothing about the token's length either.
		sum := sha256.Sum256([]byte(got))
		if subtle.ConstantTimeCompare(sum[:], h.token[:]) != 1 {
			writeError(w, http.StatusForbidden, CodeForbidden, "wrong bearer token")
			return
		}
		next(w, r)
	}
}

type errorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, errorBody{Error: msg, Code: code})
}

// fail answers a driver error: not found 404, invalid input 400, anything else 500 (logged).
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, driver.ErrQueueNotFound), errors.Is(err, driver.ErrMessageNotFound):
		writeError(w, http.StatusNotFound, CodeNotFound, err.Error())
	case errors.Is(err, driver.ErrInvalidArgument), errors.Is(err, driver.ErrInvalidQueueName),
		errors.Is(err, driver.ErrInvalidPayload):
		writeError(w, http.StatusBadRequest, CodeBadRequest, err.Error())
	default:
		h.opts.Logger.Error("pgtq: api request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		writeError(w, http.StatusInternalServerError, CodeInternal, "the database request failed")
	}
}

// page reads cursor and limit: cursor a positive msg_id (or absent), limit 1.. (capped at ListLimitMax).
func page(r *http.Request) (cursor int64, limit int, err error) {
	q := r.URL.Query()
	if s := q.Get("cursor"); s != "" {
		cursor, err = strconv.ParseInt(s, 10, 64)
		if err != nil || cursor < 1 {
			return 0, 0, fmt.Errorf("cursor must be the next_cursor of a previous page, got %q", s)
		}
	}
	limit = driver.ListLimitDefault
	if s := q.Get("limit"); s != "" {
		limit, err = strconv.Atoi(s)
		if err != nil || limit < 1 {
			return 0, 0, fmt.Errorf("limit must be a positive integer, got %q", s)
		}
	}
	return cursor, min(limit, driver.ListLimitMax), nil
}

func pathMsgID(r *http.Request) (int64, error) {
	s := r.PathValue("msg_id")
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("msg_id must be a positive integer, got %q", s)
	}
	return n, nil
}

type taskPage struct {
	Tasks      []driver.TaskView `json:"tasks"`
	NextCursor *string           `json:"next_cursor"`
}

func newTaskPage(ts []driver.TaskView, limit int) taskPage {
	p := taskPage{Tasks: ts}
	if p.Tasks == nil {
		p.Tasks = []driver.TaskView{}
	}
	if len(ts) == limit {
		c := strconv.FormatInt(ts[len(ts)-1].MsgID, 10)
		p.NextCursor = &c
	}
	return p
}

func (h *handler) queues(w http.ResponseWriter, r *http.Request) {
	qs, err := h.client.ListQueues(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if qs == nil {
		qs = []driver.QueueInfo{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"queues": qs})
}

func (h *handler) queue(w http.ResponseWriter, r *http.Request) {
	q, err := h.client.QueueInfo(r.Context(), r.PathValue("queue"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, q)
}

var statuses = map[string]bool{
	driver.StatusQueued: true, driver.StatusDelayed: true, driver.StatusProcessing: true, driver.StatusRetrying: true,
}

func (h *handler) tasks(w http.ResponseWriter, r *http.Request) {
	cursor, limit, err := page(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	status := r.URL.Query().Get("status")
	if status != "" && !statuses[status] {
		writeError(w, http.StatusBadRequest, CodeBadRequest,
			fmt.Sprintf("status must be queued, delayed, processing or retrying, got %q", status))
		return
	}
	ts, err := h.client.ListTasks(r.Context(), r.PathValue("queue"), &driver.ListTasksOptions{
		Status: status, Group: r.URL.Query().Get("group"), After: cursor, Limit: limit,
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newTaskPage(ts, limit))
}

func (h *handler) task(w http.ResponseWriter, r *http.Request) {
	id, err := pathMsgID(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	hist, err := h.client.GetTask(r.Context(), r.PathValue("queue"), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"history": hist})
}

func (h *handler) archive(w http.ResponseWriter, r *http.Request) {
	cursor, limit, err := page(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	ts, err := h.client.ListArchive(r.Context(), r.PathValue("queue"), cursor, limit)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newTaskPage(ts, limit))
}

// DLQEntry is a dead-letter entry as the API (and `pgtq dlq --json`) prints it.
type DLQEntry struct {
	MsgID          int64              `json:"msg_id"`
	OriginalMsgID  int64              `json:"original_msg_id"`
	Queue          string             `json:"queue"`
	TaskID         string             `json:"task_id"`
	GroupKey       string             `json:"group_key,omitempty"`
	Payload        json.RawMessage    `json:"payload"`
	Errors         []driver.TaskError `json:"errors"`
	Headers        map[string]any     `json:"headers"`
	DeadLetteredAt time.Time          `json:"dead_lettered_at"`
}

// DLQEntries converts driver entries to their JSON form (never nil).
func DLQEntries(es []driver.DLQEntry) []DLQEntry {
	out := make([]DLQEntry, 0, len(es))
	for _, e := range es {
		out = append(out, DLQEntry{
			MsgID: e.MsgID, OriginalMsgID: e.OriginalMsgID, Queue: e.Queue, TaskID: e.TaskID, GroupKey: e.GroupKey,
			Payload: e.Payload, Errors: e.Errors, Headers: e.Headers, DeadLetteredAt: e.DeadLetteredAt,
		})
	}
	return out
}

func (h *handler) dlq(w http.ResponseWriter, r *http.Request) {
	_, limit, err := page(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	es, err := h.client.ListDLQ(r.Context(), r.PathValue("queue"), limit)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": DLQEntries(es)})
}

func (h *handler) pause(w http.ResponseWriter, r *http.Request) {
	queue := r.PathValue("queue")
	pause := strings.HasSuffix(r.URL.Path, "/pause")
	var (
		changed bool
		err     error
	)
	if pause {
		changed, err = h.client.Pause(r.Context(), queue)
	} else {
		changed, err = h.client.Resume(r.Context(), queue)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"queue": queue, "paused": pause, "changed": changed})
}

func (h *handler) cancel(w http.ResponseWriter, r *http.Request) {
	h.taskOp(w, r, "cancel", h.client.Cancel)
}

func (h *handler) retry(w http.ResponseWriter, r *http.Request) {
	h.taskOp(w, r, "retry", h.client.RetryNow)
}

// taskOp runs cancel or retry: 200 when it applied, 409 with the task's state when it did not.
func (h *handler) taskOp(w http.ResponseWriter, r *http.Request, what string,
	op func(ctx context.Context, queue string, msgID int64) (bool, string, error)) {
	id, err := pathMsgID(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	queue := r.PathValue("queue")
	ok, status, err := op(r.Context(), queue, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !ok {
		msg := fmt.Sprintf("msg %d of %q is %s: not %s", id, queue, status, map[string]string{
			"cancel": "cancelled (it left the queue)", "retry": "made due (only retrying or delayed tasks are)"}[what])
		writeError(w, http.StatusConflict, CodeConflict, msg)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"queue": queue, "msg_id": id, "status": status})
}

func (h *handler) reschedule(w http.ResponseWriter, r *http.Request) {
	id, err := pathMsgID(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	queue := r.PathValue("queue")
	n, err := h.client.Reschedule(r.Context(), queue, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"queue": queue, "dlq_msg_id": id, "msg_id": n})
}
