-- pgmq.metrics(queue_name text) RETURNS pgmq.metrics_result
--
-- One row of counters for the queue: queue_name (as given), queue_length (all messages),
-- newest_msg_age_sec / oldest_msg_age_sec (seconds since the newest/oldest enqueued_at, NULL when empty),
-- total_messages (messages ever sent: the msg_id sequence's last value, 0 if never used), scrape_time
-- (now()), queue_visible_length (messages with vt <= now()), default_partition_length (always NULL: PGTQ
-- has no partitioned queues). Reads the queue once. Raises P0001 for invalid names, 42P01 for unknown
-- queues.

CREATE OR REPLACE FUNCTION pgmq.metrics(queue_name text)
RETURNS pgmq.metrics_result
LANGUAGE plpgsql
AS $$
DECLARE
    v_qtable text := pgmq.format_table_name(queue_name, 'q');
    v_sequence text;
    v_result pgmq.metrics_result;
BEGIN
    -- Resolve the identity sequence from the catalog instead of guessing its (possibly truncated) name.
    v_sequence := pg_catalog.pg_get_serial_sequence(format('pgmq.%I', v_qtable), 'msg_id');

    EXECUTE format(
        $sql$
        WITH q AS (
            SELECT count(*) AS queue_length,
                   count(*) FILTER (WHERE vt <= now()) AS queue_visible_length,
                   extract(epoch FROM now() - max(enqueued_at))::integer AS newest_msg_age_sec,
                   extract(epoch FROM now() - min(enqueued_at))::integer AS oldest_msg_age_sec
            FROM pgmq.%I
        ), s AS (
            SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS total_messages
            FROM %s
        )
        SELECT $1, q.queue_length, q.newest_msg_age_sec, q.oldest_msg_age_sec, s.total_messages,
               now(), q.queue_visible_length, NULL::bigint
        FROM q, s
        $sql$,
        v_qtable, v_sequence
    ) INTO v_result USING queue_name;
    RETURN v_result;
END;
$$;
