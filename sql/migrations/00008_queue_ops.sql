-- Operating a queue (issue 12): pausing, and the row type of the listing functions.
--
--   pgtq.queues.paused_at  when pgtq.pause paused the queue; NULL = running. While set, pgtq.read returns
--                          nothing for the queue (tasks already claimed run to their end); pgtq.resume clears it.
--   pgtq.stats.paused      whether the queue is paused (appended: the field order of the first eight is API).
--   pgtq.task_view         one row of a task's life as the operations functions show it (pgtq.list_tasks,
--                          pgtq.list_archive, pgtq.get_task); field order is API:
--                            place        'queue', 'archive', 'dlq' or 'dlq_archive': the table the row is in
--                            msg_id       the row's msg_id in that table
--                            status       for rows in a queue the effective state: queued (visible now, also an
--                                         expired lease or a due retry), delayed, processing (live lease) or
--                                         retrying (waiting for its delay); elsewhere x-pgtq-status as archived
--                                         (completed, failed, dead_lettered, rescheduled, cancelled)
--                            task_id, group_key  from the headers (NULL when absent)
--                            read_ct, enqueued_at, last_read_at, vt  as in the table
--                            archived_at  NULL for rows in a queue
--                            message      the body (a DLQ row's is {msg_id, queue_name, message, errors})
--                            headers      the headers

-- +goose Up
ALTER TABLE pgtq.queues ADD COLUMN paused_at timestamptz NULL;
-- pgtq._queue reports the paused state from its one lookup (a new OUT column: the function is re-created).
DROP FUNCTION IF EXISTS pgtq._queue(text, text, boolean, boolean);

ALTER TYPE pgtq.stats ADD ATTRIBUTE paused boolean;

CREATE TYPE pgtq.task_view AS (
    place        text,
    msg_id       bigint,
    status       text,
    task_id      text,
    group_key    text,
    read_ct      integer,
    enqueued_at  timestamptz,
    last_read_at timestamptz,
    vt           timestamptz,
    archived_at  timestamptz,
    message      jsonb,
    headers      jsonb
);

-- +goose Down
-- The functions that use these objects (sql/functions/220-229) go with them; the next `up` re-creates them.
-- pgtq.read and pgtq.stats read paused_at: below this version they fail until the older binary's `up` applies
-- its own function files (as after every down, see migrate.Down).
DROP FUNCTION IF EXISTS pgtq._queue(text, text, boolean, boolean);
DROP FUNCTION IF EXISTS pgtq.list_queues();
DROP FUNCTION IF EXISTS pgtq.list_tasks(text, text, text, bigint, integer);
DROP FUNCTION IF EXISTS pgtq.list_archive(text, bigint, integer);
DROP FUNCTION IF EXISTS pgtq.get_task(text, bigint, text);
DROP FUNCTION IF EXISTS pgtq.cancel(text, bigint);
DROP FUNCTION IF EXISTS pgtq.retry_now(text, bigint);
DROP FUNCTION IF EXISTS pgtq.pause(text);
DROP FUNCTION IF EXISTS pgtq.resume(text);
DROP FUNCTION IF EXISTS pgtq.reschedule_all(text, text, text);
DROP FUNCTION IF EXISTS pgtq.purge_dlq(text, interval);
DROP FUNCTION IF EXISTS pgtq._task_status(jsonb, timestamptz, timestamptz);
DROP FUNCTION IF EXISTS pgtq._task_row(text, text, text, text, bigint, timestamptz, boolean);
DROP TYPE pgtq.task_view;
ALTER TYPE pgtq.stats DROP ATTRIBUTE paused;
ALTER TABLE pgtq.queues DROP COLUMN paused_at;
