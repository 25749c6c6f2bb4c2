package gotest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pgtq/pgtq/driver"
	"github.com/pgtq/pgtq/worker"
)

// The seed (the Python postgres-task-queue library) and PGTQ share queues and DLQs. These tests write messages
// and DLQ entries exactly as the seed does, with plain pgmq calls, and let PGTQ process them; and they read what
// PGTQ writes with the seed's types. The seed's formats (DESIGN.md sections 3 and 4):
//   - a task's headers: x-pgtq-task-id (string), x-pgtq-status (string), x-pgtq-errors (list of strings),
//     x-pgtq-dlq / x-pgtq-original / x-pgtq-retry (msg_ids: integers), x-pgmq-group (string);
//   - a DLQ message's body: {msg_id (integer), queue_name (string), message (object), errors (list of strings)}.

// seedHeaders is a task's headers as the seed reads them: decoding fails when a header has another type.
type seedHeaders struct {
	TaskID   string   `json:"x-pgtq-task-id"`
	Status   string   `json:"x-pgtq-status"`
	Errors   []string `json:"x-pgtq-errors"`
	DLQ      *int64   `json:"x-pgtq-dlq"`
	Original *int64   `json:"x-pgtq-original"`
	Retry    *int64   `json:"x-pgtq-retry"`
	Group    *string  `json:"x-pgmq-group"`
}

// seedDLQBody is a DLQ message's body as the seed reads it.
type seedDLQBody struct {
	MsgID     int64           `json:"msg_id"`
	QueueName string          `json:"queue_name"`
	Message   json.RawMessage `json:"message"`
	Errors    []string        `json:"errors"`
}

// seedStatuses are the x-pgtq-status values the seed writes and reads.
var seedStatuses = map[string]bool{"queued": true, "processing": true, "retrying": true, "completed": true,
	"failed": true, "dead_lettered": true, "rescheduled": true}

// checkSeedHeaders decodes raw headers with the seed's types and checks the JSON type of every x-pgtq-* header:
// the seed's headers have the seed's types, and the headers only PGTQ writes (which the seed does not read)
// have theirs. what names the message in failures.
func checkSeedHeaders(t *testing.T, what string, raw []byte) seedHeaders {
	t.Helper()
	var h seedHeaders
	require.NoError(t, json.Unmarshal(raw, &h), "%s: the seed's types", what)
	var all map[string]any
	require.NoError(t, json.Unmarshal(raw, &all))
	isInt := func(v any) bool { f, ok := v.(float64); return ok && f == math.Trunc(f) }
	for k, v := range all {
		if !strings.HasPrefix(k, "x-pgtq-") {
			continue
		}
		switch k {
		case "x-pgtq-task-id", "x-pgtq-dedupe-key":
			require.IsType(t, "", v, "%s: %s", what, k)
		case "x-pgtq-status":
			require.True(t, seedStatuses[v.(string)], "%s: status %q is not one of the seed's", what, v)
		case "x-pgtq-errors":
			list, ok := v.([]any)
			require.True(t, ok, "%s: %s is a list", what, k)
			for _, e := range list {
				require.IsType(t, "", e, "%s: %s holds strings", what, k)
			}
		case "x-pgtq-dlq", "x-pgtq-original", "x-pgtq-retry", "x-pgtq-lost-leases":
			require.True(t, isInt(v), "%s: %s is an integer, got %v", what, k, v)
		case "x-pgtq-error-log": // PGTQ's own structured history; the seed does not read it
			list, ok := v.([]any)
			require.True(t, ok, "%s: %s is a list", what, k)
			for _, e := range list {
				require.IsType(t, map[string]any{}, e, "%s: %s holds objects", what, k)
			}
		default:
			t.Errorf("%s: header %s is not documented", what, k)
		}
	}
	return h
}

// checkSeedDLQBody decodes a DLQ body with the seed's types and checks it has exactly the seed's fields.
func checkSeedDLQBody(t *testing.T, what string, raw []byte) seedDLQBody {
	t.Helper()
	var b seedDLQBody
	require.NoError(t, json.Unmarshal(raw, &b), "%s: the seed's types", what)
	var all map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &all))
	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	require.ElementsMatch(t, []string{"msg_id", "queue_name", "message", "errors"}, keys, "%s: the seed's fields", what)
	require.Equal(t, byte('{'), all["message"][0], "%s: message is an object", what)
	require.NotNil(t, b.Errors, "%s: errors is a list", what)
	return b
}

// seedQueue creates a queue the seed's way (pgmq.create of the queue and of <queue>_dlq) and returns its name.
func seedQueue(t *testing.T, b *workerBundle, name string) string {
	t.Helper()
	_, err := b.pool.Exec(b.ctx, `SELECT pgmq.create($1), pgmq.create($1 || '_dlq')`, name)
	require.NoError(t, err)
	return name
}

// seedSend sends a message with the given headers through plain pgmq.send, as the seed enqueues.
func seedSend(t *testing.T, b *workerBundle, queue string, body, headers any) int64 {
	t.Helper()
	bb, err := json.Marshal(body)
	require.NoError(t, err)
	hb, err := json.Marshal(headers)
	require.NoError(t, err)
	var id int64
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT pgmq.send($1::text, $2::jsonb, $3::jsonb)`, queue, bb, hb).Scan(&id))
	return id
}

// headersOf returns the raw headers of a message of a pgmq table ("q" or "a") of queue.
func headersOf(t *testing.T, b *workerBundle, prefix, queue string, msgID int64) []byte {
	t.Helper()
	var raw []byte
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT headers FROM `+table(prefix, queue)+` WHERE msg_id = $1`, msgID).Scan(&raw))
	return raw
}

type seedPayload struct {
	N    int    `json:"n"`
	Fail string `json:"fail,omitempty"` // "always", "once" or ""
}

// TestSeedInteropSeedWrittenTasks: tasks and DLQ entries written in the seed's format with plain pgmq.send are
// processed, retried, dead-lettered and rescheduled by PGTQ's worker and driver, and their history keeps the
// seed's list of strings.
func TestSeedInteropSeedWrittenTasks(t *testing.T) {
	t.Parallel()
	b := setupWorker(t)
	q := seedQueue(t, b, "seed_tasks")

	// 1. A fresh seed task in a group; 2. one the seed already failed once (it read it: read_ct 1, x-pgtq-errors
	// holds its error string, status retrying); 3. one that fails once under PGTQ and then succeeds; 4. one that
	// always fails.
	fresh := seedSend(t, b, q, seedPayload{N: 1},
		map[string]any{"x-pgtq-task-id": "seed-task-1", "x-pgtq-status": "queued", "x-pgmq-group": "g1"})
	seedFailed := seedSend(t, b, q, seedPayload{N: 2, Fail: "always"},
		map[string]any{"x-pgtq-task-id": "seed-task-2", "x-pgtq-status": "retrying", "x-pgtq-errors": []string{"seed: boom"}})
	var readCt int
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT read_ct FROM pgmq.read($1::text, 0, 2) WHERE msg_id = $2`, q, seedFailed).Scan(&readCt))
	require.Equal(t, 1, readCt, "the seed's own attempt")
	once := seedSend(t, b, q, seedPayload{N: 3, Fail: "once"},
		map[string]any{"x-pgtq-task-id": "seed-task-3", "x-pgtq-status": "queued"})
	always := seedSend(t, b, q, seedPayload{N: 4, Fail: "always"},
		map[string]any{"x-pgtq-task-id": "seed-task-4", "x-pgtq-status": "queued", "x-pgmq-group": "g2"})

	// 5. A DLQ entry the seed wrote: its body and headers as the seed writes them.
	dlqID := seedSend(t, b, q+"_dlq",
		map[string]any{"msg_id": 9001, "queue_name": q, "message": seedPayload{N: 5}, "errors": []string{"e1", "e2"}},
		map[string]any{"x-pgtq-task-id": "seed-task-5", "x-pgtq-status": "dead_lettered", "x-pgtq-errors": []string{"e1", "e2"},
			"x-pgtq-original": 9001, "x-pgmq-group": "g3"})

	var mu sync.Mutex
	seen := map[int]int{}
	taskIDs := map[int]string{}
	p := worker.NewProcessor(q, func(ctx context.Context, pl seedPayload) error {
		info, _ := worker.TaskFromContext(ctx)
		mu.Lock()
		seen[pl.N]++
		n := seen[pl.N]
		taskIDs[pl.N] = info.TaskID
		mu.Unlock()
		switch {
		case pl.Fail == "always", pl.Fail == "once" && n == 1:
			return fmt.Errorf("pgtq: boom %d", n)
		}
		return nil
	}, &worker.ProcessorOptions{MaxRetries: 1, Grouped: true})
	_, stop := b.runWorker(t, &worker.Options{Processors: []*worker.Processor{p}, PollInterval: 50 * time.Millisecond})

	// The DLQ entry the seed wrote, through the driver: the seed's fields and error strings.
	entries, err := b.client.ListDLQ(b.ctx, q, 10)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	e := entries[0]
	require.Equal(t, dlqID, e.MsgID)
	require.Equal(t, int64(9001), e.OriginalMsgID)
	require.Equal(t, q, e.Queue)
	require.Equal(t, "seed-task-5", e.TaskID)
	require.Equal(t, "g3", e.GroupKey)
	require.JSONEq(t, `{"n": 5}`, string(e.Payload))
	require.Equal(t, []driver.TaskError{{Error: "e1"}, {Error: "e2"}}, e.Errors)
	newID, err := b.client.Reschedule(b.ctx, q, dlqID)
	require.NoError(t, err)

	waitUntil(t, 20*time.Second, "every task finished", func() bool {
		return b.archived(t, q, "completed") == 3 && b.archived(t, q, "dead_lettered") == 2
	})
	stop()

	// 1: completed with its task id and group.
	h := checkSeedHeaders(t, "fresh task", headersOf(t, b, "a", q, fresh))
	require.Equal(t, "completed", h.Status)
	require.Equal(t, "seed-task-1", h.TaskID)
	require.Equal(t, "g1", *h.Group)
	require.Equal(t, "seed-task-1", taskIDs[1], "the handler saw the seed's task id")

	// 2: the seed's failure counts: one more failure under PGTQ exhausts max_retries 1; the history keeps the
	// seed's entry first, as strings, in the headers and in the DLQ body.
	require.Equal(t, 1, seen[2], "the seed's attempt used the first of the two")
	h = checkSeedHeaders(t, "task the seed failed", headersOf(t, b, "a", q, seedFailed))
	require.Equal(t, "dead_lettered", h.Status)
	require.Equal(t, []string{"seed: boom", "pgtq: boom 1"}, h.Errors)
	require.NotNil(t, h.DLQ)
	var body, dlqHead []byte
	require.NoError(t, b.pool.QueryRow(b.ctx, `SELECT message, headers FROM `+table("q", q+"_dlq")+` WHERE msg_id = $1`, *h.DLQ).
		Scan(&body, &dlqHead))
	db := checkSeedDLQBody(t, "DLQ body", body)
	require.Equal(t, seedFailed, db.MsgID)
	require.Equal(t, q, db.QueueName)
	require.Equal(t, []string{"seed: boom", "pgtq: boom 1"}, db.Errors)
	dh := checkSeedHeaders(t, "DLQ headers", dlqHead)
	require.Equal(t, seedFailed, *dh.Original)
	require.Equal(t, "seed-task-2", dh.TaskID)

	// 3: retried once, then completed; the failure is kept as a string.
	require.Equal(t, 2, seen[3])
	h = checkSeedHeaders(t, "task retried once", headersOf(t, b, "a", q, once))
	require.Equal(t, "completed", h.Status)
	require.Equal(t, []string{"pgtq: boom 1"}, h.Errors)

	// 4: two failures, then the DLQ.
	require.Equal(t, 2, seen[4])
	h = checkSeedHeaders(t, "task that always fails", headersOf(t, b, "a", q, always))
	require.Equal(t, "dead_lettered", h.Status)
	require.Equal(t, []string{"pgtq: boom 1", "pgtq: boom 2"}, h.Errors)

	// 5: the rescheduled seed DLQ entry ran as a new task with the seed's task id, group and original msg_id;
	// the DLQ entry is archived as rescheduled, pointing at it.
	h = checkSeedHeaders(t, "rescheduled seed DLQ entry", headersOf(t, b, "a", q, newID))
	require.Equal(t, "completed", h.Status)
	require.Equal(t, "seed-task-5", h.TaskID)
	require.Equal(t, "g3", *h.Group)
	require.Equal(t, int64(9001), *h.Original)
	require.Equal(t, "seed-task-5", taskIDs[5])
	h = checkSeedHeaders(t, "archived seed DLQ entry", headersOf(t, b, "a", q+"_dlq", dlqID))
	require.Equal(t, "rescheduled", h.Status)
	require.Equal(t, newID, *h.Retry)
}

// TestSeedInteropPGTQWrittenAsTheSeedReadsThem: every header and DLQ body PGTQ writes, at every stage of a
// task's life (queued, processing, retrying, completed, dead-lettered, in the DLQ, rescheduled, the archived DLQ
// entry, a lost lease), decodes with the seed's types.
func TestSeedInteropPGTQWrittenAsTheSeedReadsThem(t *testing.T) {
	t.Parallel()
	b := setupWorker(t)
	q := b.newQueue(t, false)
	ctx := b.ctx

	id := b.enqueue(t, q, seedPayload{N: 1}, &driver.EnqueueOptions{Group: "g", DedupeKey: "d1"})
	h := checkSeedHeaders(t, "queued", headersOf(t, b, "q", q, id))
	require.Equal(t, "queued", h.Status)
	require.NotEmpty(t, h.TaskID)

	task := b.readOne(t, q, &driver.ReadOptions{Grouped: true})
	h = checkSeedHeaders(t, "processing", headersOf(t, b, "q", q, id))
	require.Equal(t, "processing", h.Status)

	outcome, err := b.client.Fail(ctx, q, id, task.Attempt, "first failure", &driver.FailOptions{MaxRetries: 2})
	require.NoError(t, err)
	require.Equal(t, driver.FailRetrying, outcome)
	h = checkSeedHeaders(t, "retrying", headersOf(t, b, "q", q, id))
	require.Equal(t, "retrying", h.Status)
	require.Equal(t, []string{"first failure"}, h.Errors)

	// A lost lease: the next read finds the task still processing with an expired lease.
	task = b.readOne(t, q, &driver.ReadOptions{Grouped: true})
	b.makeVisible(t, q, id)
	task = b.readOne(t, q, &driver.ReadOptions{Grouped: true})
	h = checkSeedHeaders(t, "after a lost lease", headersOf(t, b, "q", q, id))
	require.Equal(t, []string{"first failure", "lease expired"}, h.Errors)

	outcome, err = b.client.Fail(ctx, q, id, task.Attempt, "final failure", &driver.FailOptions{NonRetryable: true})
	require.NoError(t, err)
	require.Equal(t, driver.FailDeadLettered, outcome)
	h = checkSeedHeaders(t, "archived original", headersOf(t, b, "a", q, id))
	require.Equal(t, "dead_lettered", h.Status)
	require.NotNil(t, h.DLQ)
	dlqID := *h.DLQ

	var body []byte
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT message FROM `+table("q", q+"_dlq")+` WHERE msg_id = $1`, dlqID).Scan(&body))
	db := checkSeedDLQBody(t, "DLQ body", body)
	require.Equal(t, id, db.MsgID)
	require.Equal(t, []string{"first failure", "lease expired", "final failure"}, db.Errors)
	h = checkSeedHeaders(t, "DLQ headers", headersOf(t, b, "q", q+"_dlq", dlqID))
	require.Equal(t, id, *h.Original)
	require.Equal(t, []string{"first failure", "lease expired", "final failure"}, h.Errors)

	newID, err := b.client.Reschedule(ctx, q, dlqID)
	require.NoError(t, err)
	h = checkSeedHeaders(t, "rescheduled task", headersOf(t, b, "q", q, newID))
	require.Equal(t, "queued", h.Status)
	require.Equal(t, id, *h.Original)
	h = checkSeedHeaders(t, "archived DLQ entry", headersOf(t, b, "a", q+"_dlq", dlqID))
	require.Equal(t, "rescheduled", h.Status)
	require.Equal(t, newID, *h.Retry)

	task = b.readOne(t, q, &driver.ReadOptions{Grouped: true})
	ok, err := b.client.Complete(ctx, q, task.MsgID, task.Attempt)
	require.NoError(t, err)
	require.True(t, ok)
	h = checkSeedHeaders(t, "completed", headersOf(t, b, "a", q, newID))
	require.Equal(t, "completed", h.Status)

	// A queue without a DLQ archives a final failure as failed.
	q2 := b.newQueue(t, true)
	id2 := b.enqueue(t, q2, seedPayload{N: 2}, nil)
	task = b.readOne(t, q2, nil)
	_, err = b.client.Fail(ctx, q2, id2, task.Attempt, "no dlq", nil)
	require.NoError(t, err)
	h = checkSeedHeaders(t, "failed without DLQ", headersOf(t, b, "a", q2, id2))
	require.Equal(t, "failed", h.Status)
	require.Equal(t, []string{"no dlq"}, h.Errors)
	require.False(t, errors.Is(err, driver.ErrQueueNotFound))
}
