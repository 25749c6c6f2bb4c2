package driver

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// PruneBatchSizeDefault is the batch size Prune and PruneDue use when given 0.
const PruneBatchSizeDefault = 1000

// DLQSuffix is appended to a queue's name to name its dead-letter queue.
const DLQSuffix = "_dlq"

// Reschedule moves a dead-lettered task back into queue as a new task with the same payload, group,
// task_id and headers and a fresh attempt budget, archives the DLQ message (status rescheduled) and returns
// the new msg_id. It returns ErrMessageNotFound when dlqMsgID is not in the queue's DLQ. It calls
// pgtq.reschedule.
func (c *Client) Reschedule(ctx context.Context, queue string, dlqMsgID int64) (int64, error) {
	var id int64
	err := c.pool.QueryRow(ctx, `SELECT pgtq.reschedule(queue_name => $1::text, dlq_msg_id => $2::bigint)`,
		queue, dlqMsgID).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("reschedule %q dlq msg %d: %w", queue, dlqMsgID, interpretError(err))
	}
	return id, nil
}

// Prune deletes archived rows of queue and of its DLQ that were archived more than olderThan ago, batchSize
// rows per statement until none is left, and returns the number of rows deleted. batchSize 0 means
// PruneBatchSizeDefault. It calls pgtq.prune.
func (c *Client) Prune(ctx context.Context, queue string, olderThan time.Duration, batchSize int) (int64, error) {
	if err := checkPruneArgs(olderThan, batchSize); err != nil {
		return 0, fmt.Errorf("prune %q: %w", queue, err)
	}
	var n int64
	err := c.pool.QueryRow(ctx, `
		SELECT pgtq.prune(queue_name => $1::text, older_than => $2::interval, batch_size => $3::integer)`,
		queue, olderThan, batchSizeOrDefault(batchSize)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("prune %q: %w", queue, interpretError(err))
	}
	return n, nil
}

// PruneDue is Prune coordinated across the fleet: it prunes only when nobody pruned queue within the last
// every (0: always), and reports ran=false (deleting nothing) otherwise. Many workers may call it on the same schedule;
// the work is done once per interval. It never deletes rows younger than the queue's retention (SetRetention;
// 7 days when unset), whatever olderThan says, so that a worker role cannot empty an archive: it prunes rows
// older than the longer of the two. It calls pgtq.prune_due.
func (c *Client) PruneDue(ctx context.Context, queue string, olderThan time.Duration, batchSize int, every time.Duration) (deleted int64, ran bool, err error) {
	if err := checkPruneArgs(olderThan, batchSize); err != nil {
		return 0, false, fmt.Errorf("prune %q: %w", queue, err)
	}
	if every < 0 {
		return 0, false, fmt.Errorf("prune %q: %w", queue, invalidArgf("every must be >= 0, got %s", every))
	}
	var n *int64
	err = c.pool.QueryRow(ctx, `
		SELECT pgtq.prune_due(queue_name => $1::text, older_than => $2::interval, batch_size => $3::integer,
		                      every => $4::interval)`,
		queue, olderThan, batchSizeOrDefault(batchSize), every).Scan(&n)
	if err != nil {
		return 0, false, fmt.Errorf("prune %q: %w", queue, interpretError(err))
	}
	if n == nil {
		return 0, false, nil
	}
	return *n, true, nil
}

func checkPruneArgs(olderThan time.Duration, batchSize int) error {
	if olderThan < 0 {
		return invalidArgf("olderThan must be >= 0, got %s", olderThan)
	}
	if batchSize < 0 {
		return invalidArgf("batchSize must be >= 0, got %d", batchSize)
	}
	return nil
}

func batchSizeOrDefault(n int) int {
	if n == 0 {
		return PruneBatchSizeDefault
	}
	return n
}

// NextDue returns the earliest future visibility time among queue's tasks (a delayed task, a retry waiting
// for its delay or a lease running out), so that a worker can wake up when it falls due. ok is false when
// no task becomes visible later. It calls pgtq.next_due.
func (c *Client) NextDue(ctx context.Context, queue string) (due time.Time, ok bool, err error) {
	var t *time.Time
	if err := c.pool.QueryRow(ctx, `SELECT pgtq.next_due(queue_name => $1::text)`, queue).Scan(&t); err != nil {
		return time.Time{}, false, fmt.Errorf("next due %q: %w", queue, interpretError(err))
	}
	if t == nil {
		return time.Time{}, false, nil
	}
	return *t, true, nil
}

// QueueStats counts a queue's tasks by state (pgtq.stats).
type QueueStats struct {
	// Queued is the number of tasks visible now, waiting for a worker.
	Queued int64
	// Delayed is the number of tasks not yet visible that were never claimed (enqueued with a delay).
	Delayed int64
	// Processing is the number of tasks claimed with a live lease.
	Processing int64
	// Retrying is the number of failed tasks waiting for their retry delay.
	Retrying int64
	// DLQ is the number of tasks in the queue's dead-letter queue.
	DLQ int64
	// Archived is the number of rows in the queue's archive (completed, failed, dead-lettered).
	Archived int64
	// OldestQueuedAge is the age of the oldest visible task (0 when none is queued).
	OldestQueuedAge time.Duration
}

// Stats returns the counts of queue's tasks by state. It calls pgtq.stats.
func (c *Client) Stats(ctx context.Context, queue string) (*QueueStats, error) {
	var (
		s      QueueStats
		oldest *float64
	)
	err := c.pool.QueryRow(ctx, `
		SELECT queued, delayed, processing, retrying, dlq, archived, oldest_queued_age_seconds
		FROM pgtq.stats(queue_name => $1::text)`, queue).
		Scan(&s.Queued, &s.Delayed, &s.Processing, &s.Retrying, &s.DLQ, &s.Archived, &oldest)
	if err != nil {
		return nil, fmt.Errorf("stats %q: %w", queue, interpretError(err))
	}
	if oldest != nil {
		s.OldestQueuedAge = time.Duration(*oldest * float64(time.Second))
	}
	return &s, nil
}

// DLQEntry is one task in a dead-letter queue.
type DLQEntry struct {
	// MsgID is the entry's msg_id in the DLQ: pass it to Reschedule.
	MsgID int64
	// OriginalMsgID is the msg_id the task had in its queue.
	OriginalMsgID int64
	// Queue is the queue the task came from.
	Queue string
	// TaskID is the task's stable key.
	TaskID string
	// GroupKey is the task's group ("" when ungrouped).
	GroupKey string
	// Payload is the original task's payload.
	Payload json.RawMessage
	// Errors is the task's error history, oldest first: failures and lost leases (the x-pgtq-error-log header,
	// or the seed's list of error strings for an entry the seed wrote).
	Errors []TaskError
	// Headers are the DLQ message's headers (the original's plus x-pgtq-original).
	Headers map[string]any
	// DeadLetteredAt is when the task entered the DLQ.
	DeadLetteredAt time.Time
}

// ListDLQ returns up to limit entries of queue's dead-letter queue, oldest first; none when the queue has no
// DLQ. limit must be positive. It calls pgtq.list_dlq.
func (c *Client) ListDLQ(ctx context.Context, queue string, limit int) ([]DLQEntry, error) {
	if limit < 1 {
		return nil, fmt.Errorf("list dlq %q: %w", queue, invalidArgf("limit must be >= 1, got %d", limit))
	}
	rows, err := c.pool.Query(ctx, `SELECT msg_id, enqueued_at, message, headers
		FROM pgtq.list_dlq(queue_name => $1::text, qty => $2::integer)`, queue, limit)
	if err != nil {
		return nil, fmt.Errorf("list dlq %q: %w", queue, interpretError(err))
	}
	entries, err := pgx.CollectRows(rows, scanDLQEntry)
	if err != nil {
		return nil, fmt.Errorf("list dlq %q: %w", queue, interpretError(err))
	}
	return entries, nil
}

func scanDLQEntry(row pgx.CollectableRow) (DLQEntry, error) {
	var (
		e             DLQEntry
		message, head []byte
	)
	if err := row.Scan(&e.MsgID, &e.DeadLetteredAt, &message, &head); err != nil {
		return e, err
	}
	// The DLQ body is {msg_id, queue_name, message, errors}: the original msg_id, its queue, its payload and its
	// error strings.
	var body struct {
		MsgID     int64           `json:"msg_id"`
		QueueName string          `json:"queue_name"`
		Message   json.RawMessage `json:"message"`
		Errors    json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(message, &body); err != nil {
		return e, fmt.Errorf("decode dlq msg %d: %w", e.MsgID, err)
	}
	e.OriginalMsgID, e.Queue, e.Payload = body.MsgID, body.QueueName, body.Message
	if len(head) > 0 {
		if err := json.Unmarshal(head, &e.Headers); err != nil {
			return e, fmt.Errorf("decode headers of dlq msg %d: %w", e.MsgID, err)
		}
	}
	e.Errors = errorHistory(e.Headers, body.Errors)
	if s, ok := e.Headers["x-pgtq-task-id"].(string); ok {
		e.TaskID = s
	}
	if s, ok := e.Headers["x-pgmq-group"].(string); ok {
		e.GroupKey = s
	}
	return e, nil
}

// SetRetention sets queue's archive retention: PruneDue (the workers' pruning) never deletes archived rows
// younger than it, and Prune uses it when called through SQL with no age. retention 0 lets workers prune
// everything they are asked to; a negative retention resets it to the default (7 days). Admin-only. It calls
// pgtq.set_retention.
func (c *Client) SetRetention(ctx context.Context, queue string, retention time.Duration) error {
	var arg *time.Duration
	if retention >= 0 {
		arg = &retention
	}
	if _, err := c.pool.Exec(ctx, `SELECT pgtq.set_retention(queue_name => $1::text, retention => $2::interval)`,
		queue, arg); err != nil {
		return fmt.Errorf("set retention of %q: %w", queue, interpretError(err))
	}
	return nil
}
