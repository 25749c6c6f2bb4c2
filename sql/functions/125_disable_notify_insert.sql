-- pgmq.disable_notify_insert(queue_name text) RETURNS void
--
-- Stops NOTIFY on insert for the queue: drops trigger_notify_queue_insert_listeners (IF EXISTS, so a queue
-- without it gets PostgreSQL's "does not exist, skipping" NOTICE) and deletes the throttle row.
-- Raises P0001 for invalid names, 42P01 if the queue table does not exist.

CREATE OR REPLACE FUNCTION pgmq.disable_notify_insert(queue_name text)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    v_qtable text := pgmq.format_table_name(queue_name, 'q');
BEGIN
    EXECUTE format('DROP TRIGGER IF EXISTS trigger_notify_queue_insert_listeners ON pgmq.%I', v_qtable);
    DELETE FROM pgmq.notify_insert_throttle t WHERE t.queue_name = disable_notify_insert.queue_name;
END;
$$;
