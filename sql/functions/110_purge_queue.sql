-- pgmq.purge_queue(queue_name text) RETURNS bigint
--
-- Removes every message of the queue (visible or not) and returns how many there were. Uses TRUNCATE
-- (fast, but takes an ACCESS EXCLUSIVE lock, so it waits for readers in flight); the msg_id sequence is
-- not reset and the archive is untouched, as in pgmq. Raises P0001 for invalid names, 42P01 for unknown
-- queues.

CREATE OR REPLACE FUNCTION pgmq.purge_queue(queue_name text)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    v_qtable text := pgmq.format_table_name(queue_name, 'q');
    v_count bigint;
BEGIN
    -- Lock first so the count cannot miss rows inserted between counting and truncating.
    EXECUTE format('LOCK TABLE pgmq.%I IN ACCESS EXCLUSIVE MODE', v_qtable);
    EXECUTE format('SELECT count(*) FROM pgmq.%I', v_qtable) INTO v_count;
    EXECUTE format('TRUNCATE pgmq.%I', v_qtable);
    RETURN v_count;
END;
$$;
