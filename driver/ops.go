package driver

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Operating a queue (listing, inspection, cancel, retry now, pause/resume, bulk reschedule, DLQ purge). Every
// method calls one function of the pgtq schema, granted to pgtq_admin.

// The effective states of a task still in its queue (TaskView.Status for Place PlaceQueue; ListTasksOptions).
const (
	// StatusQueued: visible now, waiting for a worker (also a task whose lease expired or whose retry is due).
	StatusQueued = "queued"
	// StatusDelayed: enqueued with a delay that has not passed.
	StatusDelayed = "delayed"
	// StatusProcessing: claimed by a worker whose lease is live.
	StatusProcessing = "processing"
	// StatusRetrying: failed, waiting for its retry delay.
	StatusRetrying = "retrying"
	// StatusCancelled is the archived status of a task taken out of its queue by Cancel.
	StatusCancelled = "cancelled"
)

// Where a TaskView row is (TaskView.Place).
const (
	PlaceQueue      = "queue"       // the queue's table: the task is pending or running
	PlaceArchive    = "archive"     // the queue's archive: completed, failed, dead_lettered or cancelled
	PlaceDLQ        = "dlq"         // the dead-letter queue: waiting for Reschedule
	PlaceDLQArchive = "dlq_archive" // the dead-letter queue's archive: rescheduled
)

// ListLimitDefault is the page size of ListTasks and ListArchive when the limit is 0.
const ListLimitDefault = 100

// ListLimitMax is the largest page ListTasks and ListArchive return (a hard maximum of the SQL functions).
const ListLimitMax = 1000

// QueueInfo is a queue's counts by state and whether it is paused (pgtq.stats, pgtq.list_queues).
type QueueInfo struct {
	// Queue is the queue's name.
	Queue string `json:"queue"`
	// Queued is the number of tasks visible now, waiting for a worker.
	Queued int64 `json:"queued"`
	// Delayed is the number of tasks not yet visible that were never claimed.
	Delayed int64 `json:"delayed"`
	// Processing is the number of tasks claimed with a live lease.
	Processing int64 `json:"processing"`
	// Retrying is the number of failed tasks waiting for their retry delay.
	Retrying int64 `json:"retrying"`
	// DLQ is the number of entries in the queue's dead-letter queue.
	DLQ int64 `json:"dlq"`
	// Archived is the number of rows in the queue's archive.
	Archived int64 `json:"archived"`
	// OldestQueuedAgeSeconds is the age in seconds of the oldest visible task; nil when none is queued.
	OldestQueuedAgeSeconds *float64 `json:"oldest_queued_age_seconds"`
	// Paused reports whether the queue is paused (Pause): workers claim nothing from it.
	Paused bool `json:"paused"`
}

const queueInfoColumns = `queue_name, queued, delayed, processing, retrying, dlq, archived, oldest_queued_age_seconds,
	coalesce(paused, false)`

func scanQueueInfo(row pgx.CollectableRow) (QueueInfo, error) {
	var q QueueInfo
	err := row.Scan(&q.Queue, &q.Queued, &q.Delayed, &q.Processing, &q.Retrying, &q.DLQ, &q.Archived,
		&q.OldestQueuedAgeSeconds, &q.Paused)
	return q, err
}

// ListQueues returns the counts of every registered task queue, by name, in one call. It calls
// pgtq.list_queues.
func (c *Client) ListQueues(ctx context.Context) ([]QueueInfo, error) {
	rows, err := c.pool.Query(ctx, `SELECT `+queueInfoColumns+` FROM pgtq.list_queues()`)
	if err != nil {
		return nil, fmt.Errorf("list queues: %w", interpretError(err))
	}
	qs, err := pgx.CollectRows(rows, scanQueueInfo)
	if err != nil {
		return nil, fmt.Errorf("list queues: %w", interpretError(err))
	}
	return qs, nil
}

// QueueInfo returns queue's counts by state and whether it is paused (Stats without the pause state). It
// returns ErrQueueNotFound for an unknown queue. It calls pgtq.stats.
func (c *Client) QueueInfo(ctx context.Context, queue string) (*QueueInfo, error) {
	rows, err := c.pool.Query(ctx, `SELECT `+queueInfoColumns+` FROM pgtq.stats(queue_name => $1::text)`, queue)
	if err != nil {
		return nil, fmt.Errorf("stats %q: %w", queue, interpretError(err))
	}
	q, err := pgx.CollectExactlyOneRow(rows, scanQueueInfo)
	if err != nil {
		return nil, fmt.Errorf("stats %q: %w", queue, interpretError(err))
	}
	return &q, nil
}

// TaskView is one row of a task's life: the task in its queue, an archived run, or a dead-letter entry (SQL
// type pgtq.task_view).
type TaskView struct {
	// Place is the table the row is in: PlaceQueue, PlaceArchive, PlaceDLQ or PlaceDLQArchive.
	Place string `json:"place"`
	// MsgID is the row's msg_id in that table (a DLQ entry has a msg_id of its own).
	MsgID int64 `json:"msg_id"`
	// Status is, in a queue, the effective state (StatusQueued, StatusDelayed, StatusProcessing,
	// StatusRetrying); elsewhere the archived x-pgtq-status (completed, failed, dead_lettered, rescheduled,
	// cancelled).
	Status string `json:"status"`
	// TaskID is the task's stable key ("" when the row has none).
	TaskID string `json:"task_id"`
	// GroupKey is the task's group ("" when ungrouped).
	GroupKey string `json:"group_key,omitempty"`
	// ReadCount is how often the task was claimed (the last lease token).
	ReadCount int `json:"read_ct"`
	// EnqueuedAt is when the row was inserted (for a DLQ entry: when the task was dead-lettered).
	EnqueuedAt time.Time `json:"enqueued_at"`
	// LastReadAt is when the task was last claimed; nil if never.
	LastReadAt *time.Time `json:"last_read_at,omitempty"`
	// VisibleAt is the row's vt: when a pending task becomes (or became) visible, or a lease ends.
	VisibleAt time.Time `json:"vt"`
	// ArchivedAt is when the row was archived; nil for rows in a queue or DLQ.
	ArchivedAt *time.Time `json:"archived_at,omitempty"`
	// Message is the row's body: the payload, or a DLQ entry's {msg_id, queue_name, message, errors}.
	Message json.RawMessage `json:"message"`
	// Headers are the row's headers (x-pgtq-* and the producer's own).
	Headers json.RawMessage `json:"headers"`
}

const taskViewColumns = `place, msg_id, status, task_id, group_key, read_ct, enqueued_at, last_read_at, vt,
	archived_at, message, headers`

func scanTaskView(row pgx.CollectableRow) (TaskView, error) {
	var (
		t               TaskView
		status, id, grp *string
		message, heads  []byte
	)
	if err := row.Scan(&t.Place, &t.MsgID, &status, &id, &grp, &t.ReadCount, &t.EnqueuedAt, &t.LastReadAt,
		&t.VisibleAt, &t.ArchivedAt, &message, &heads); err != nil {
		return t, err
	}
	t.Status, t.TaskID, t.GroupKey = deref(status), deref(id), deref(grp)
	t.Message, t.Headers = rawOrNull(message), rawOrNull(heads)
	return t, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func rawOrNull(b []byte) json.RawMessage {
	if b == nil {
		return json.RawMessage("null")
	}
	return json.RawMessage(b)
}

// ListTasksOptions filters and pages ListTasks. A nil *ListTasksOptions means all defaults.
type ListTasksOptions struct {
	// Status keeps the tasks in one state: StatusQueued, StatusDelayed, StatusProcessing or StatusRetrying.
	// Defaults to "" (all).
	Status string
	// Group keeps the tasks of one group. Defaults to "" (all tasks, grouped or not).
	Group string
	// After returns tasks with a msg_id greater than it: pass the last MsgID of a page to get the next.
	// Defaults to 0 (from the first task).
	After int64
	// Limit is the page size, at most ListLimitMax. Defaults to ListLimitDefault.
	Limit int
}

func checkLimit(limit int) (int, error) {
	if limit < 0 || limit > ListLimitMax {
		return 0, invalidArgf("Limit must be between 0 and %d, got %d", ListLimitMax, limit)
	}
	if limit == 0 {
		return ListLimitDefault, nil
	}
	return limit, nil
}

// ListTasks returns a page of the tasks still in queue (pending or running), msg_id ascending, changing
// nothing. A page shorter than its limit is the last. It returns ErrQueueNotFound for an unknown queue and
// ErrInvalidArgument for an unknown status or a limit over ListLimitMax. It calls pgtq.list_tasks.
func (c *Client) ListTasks(ctx context.Context, queue string, opts *ListTasksOptions) ([]TaskView, error) {
	var o ListTasksOptions
	if opts != nil {
		o = *opts
	}
	limit, err := checkLimit(o.Limit)
	if err != nil {
		return nil, fmt.Errorf("list tasks %q: %w", queue, err)
	}
	var status, group *string
	if o.Status != "" {
		status = &o.Status
	}
	if o.Group != "" {
		group = &o.Group
	}
	rows, err := c.pool.Query(ctx, `SELECT `+taskViewColumns+` FROM pgtq.list_tasks(queue_name => $1::text,
		status => $2::text, group_key => $3::text, after_msg_id => $4::bigint, qty => $5::integer)`,
		queue, status, group, o.After, limit)
	return collectTaskViews(rows, err, "list tasks %q", queue)
}

// ListArchive returns a page of queue's archived tasks, newest first: at most limit rows (0: ListLimitDefault;
// at most ListLimitMax) with a msg_id below before (0: from the newest). Pass the last MsgID of a page as
// before to get the next. It calls pgtq.list_archive.
func (c *Client) ListArchive(ctx context.Context, queue string, before int64, limit int) ([]TaskView, error) {
	limit, err := checkLimit(limit)
	if err != nil {
		return nil, fmt.Errorf("list archive %q: %w", queue, err)
	}
	var b *int64
	if before > 0 {
		b = &before
	}
	rows, err := c.pool.Query(ctx, `SELECT `+taskViewColumns+` FROM pgtq.list_archive(queue_name => $1::text,
		before_msg_id => $2::bigint, qty => $3::integer)`, queue, b, limit)
	return collectTaskViews(rows, err, "list archive %q", queue)
}

// GetTask returns the task that has or had msgID in queue, with its history, oldest first: each run of the
// task (the original, and each task a DLQ entry was rescheduled into) followed by its dead-letter entry. It
// returns ErrMessageNotFound when msgID is neither in the queue nor in its archive. It calls pgtq.get_task.
func (c *Client) GetTask(ctx context.Context, queue string, msgID int64) ([]TaskView, error) {
	rows, err := c.pool.Query(ctx, `SELECT `+taskViewColumns+`
		FROM pgtq.get_task(queue_name => $1::text, msg_id => $2::bigint)`, queue, msgID)
	return collectTaskViews(rows, err, "get task %q msg %d", queue, msgID)
}

// GetTaskByID is GetTask for a task id (x-pgtq-task-id, stable across retries and reschedules). The lookup
// scans the queue, then its archive. It calls pgtq.get_task.
func (c *Client) GetTaskByID(ctx context.Context, queue, taskID string) ([]TaskView, error) {
	rows, err := c.pool.Query(ctx, `SELECT `+taskViewColumns+`
		FROM pgtq.get_task(queue_name => $1::text, task_id => $2::text)`, queue, taskID)
	return collectTaskViews(rows, err, "get task %q id %q", queue, taskID)
}

func collectTaskViews(rows pgx.Rows, err error, format string, args ...any) ([]TaskView, error) {
	if err != nil {
		return nil, fmt.Errorf(format+": %w", append(args, interpretError(err))...)
	}
	ts, err := pgx.CollectRows(rows, scanTaskView)
	if err != nil {
		return nil, fmt.Errorf(format+": %w", append(args, interpretError(err))...)
	}
	return ts, nil
}

// Cancel takes the task msgID out of queue for good, whatever its state, and archives it with status
// StatusCancelled; its group is freed. A processing task's worker then finds its lease lost at its next
// Heartbeat or acknowledgement (complete, fail and release by that lease change nothing). cancelled is true
// with the state the task had (StatusQueued, StatusDelayed, StatusProcessing, StatusRetrying); false with its
// archived status (e.g. "completed") when it had already left the queue. It returns ErrMessageNotFound when
// msgID is neither in the queue nor in its archive. It calls pgtq.cancel.
func (c *Client) Cancel(ctx context.Context, queue string, msgID int64) (cancelled bool, status string, err error) {
	var st *string
	err = c.pool.QueryRow(ctx, `SELECT cancelled, status FROM pgtq.cancel(queue_name => $1::text, msg_id => $2::bigint)`,
		queue, msgID).Scan(&cancelled, &st)
	if err != nil {
		return false, "", fmt.Errorf("cancel %q msg %d: %w", queue, msgID, interpretError(err))
	}
	return cancelled, deref(st), nil
}

// RetryNow makes a waiting task due now: a retrying task (keeping its attempts and errors) or a delayed one,
// and wakes the queue's workers. madeDue is true with the state the task had (StatusRetrying or
// StatusDelayed); false with its state when it was not waiting (StatusQueued, StatusProcessing, or an archived
// status). It returns ErrMessageNotFound when msgID is neither in the queue nor in its archive. It calls
// pgtq.retry_now.
func (c *Client) RetryNow(ctx context.Context, queue string, msgID int64) (madeDue bool, status string, err error) {
	var st *string
	err = c.pool.QueryRow(ctx, `SELECT made_due, status FROM pgtq.retry_now(queue_name => $1::text, msg_id => $2::bigint)`,
		queue, msgID).Scan(&madeDue, &st)
	if err != nil {
		return false, "", fmt.Errorf("retry %q msg %d now: %w", queue, msgID, interpretError(err))
	}
	return madeDue, deref(st), nil
}

// Pause stops workers from claiming queue's tasks (Read returns nothing for it) until Resume; tasks already
// running finish and producers still enqueue. It reports whether the queue was running. It calls pgtq.pause.
func (c *Client) Pause(ctx context.Context, queue string) (bool, error) {
	var changed bool
	if err := c.pool.QueryRow(ctx, `SELECT pgtq.pause(queue_name => $1::text)`, queue).Scan(&changed); err != nil {
		return false, fmt.Errorf("pause %q: %w", queue, interpretError(err))
	}
	return changed, nil
}

// Resume ends a Pause and wakes the queue's workers. It reports whether the queue was paused. It calls
// pgtq.resume.
func (c *Client) Resume(ctx context.Context, queue string) (bool, error) {
	var changed bool
	if err := c.pool.QueryRow(ctx, `SELECT pgtq.resume(queue_name => $1::text)`, queue).Scan(&changed); err != nil {
		return false, fmt.Errorf("resume %q: %w", queue, interpretError(err))
	}
	return changed, nil
}

// RescheduleFilter selects the dead-letter entries RescheduleAll puts back. A nil *RescheduleFilter matches
// every entry.
type RescheduleFilter struct {
	// Group keeps the entries of one group. Defaults to "" (any).
	Group string
	// ErrorContains keeps the entries one of whose error strings contains it (case-sensitive). Defaults to ""
	// (any).
	ErrorContains string
}

// RescheduleAll reschedules (see Reschedule) every entry of queue's dead-letter queue that matches filter, in
// one transaction, and returns how many. It returns ErrInvalidArgument for a queue without DLQ. It calls
// pgtq.reschedule_all.
func (c *Client) RescheduleAll(ctx context.Context, queue string, filter *RescheduleFilter) (int64, error) {
	var group, errText *string
	if filter != nil && filter.Group != "" {
		group = &filter.Group
	}
	if filter != nil && filter.ErrorContains != "" {
		errText = &filter.ErrorContains
	}
	var n int64
	err := c.pool.QueryRow(ctx, `SELECT pgtq.reschedule_all(queue_name => $1::text, group_key => $2::text,
		error_contains => $3::text)`, queue, group, errText).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("reschedule all of %q: %w", queue, interpretError(err))
	}
	return n, nil
}

// PurgeDLQ deletes, for good, the entries of queue's dead-letter queue that were dead-lettered more than
// olderThan ago (0: all), and returns how many (0 for a queue without DLQ). It calls pgtq.purge_dlq.
func (c *Client) PurgeDLQ(ctx context.Context, queue string, olderThan time.Duration) (int64, error) {
	if olderThan < 0 {
		return 0, fmt.Errorf("purge dlq of %q: %w", queue, invalidArgf("olderThan must be >= 0, got %s", olderThan))
	}
	var n int64
	err := c.pool.QueryRow(ctx, `SELECT pgtq.purge_dlq(queue_name => $1::text, older_than => $2::interval)`,
		queue, olderThan).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("purge dlq of %q: %w", queue, interpretError(err))
	}
	return n, nil
}
