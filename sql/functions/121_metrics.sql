-- pgmq.metrics(queue_name text) RETURNS pgmq.metrics_result
--
-- One row of counters for the queue: queue_name (as given), queue_length (all messages),
-- newest_msg_age_sec / oldest_msg_age_sec (seconds since the newest/oldest enqueued_at, NULL when empty),
-- total_messages (messages ever sent: the msg_id sequence's last value, 0 if never used), scrape_time
-- (now()), queue_visible_length (messages with vt <= now()), default_partition_length (partitioned queues:
-- the rows in the pg_partman default partitions of the queue table and of the archive, exact counts, found
-- through pg_partitioned_table.partdefid; non-zero means pg_partman's maintenance is behind and those rows
-- sit outside every range partition; NULL for a queue whose tables are not partitioned). Reads the queue
-- once. Raises P0001 for invalid names, 42P01 for unknown queues.

CREATE OR REPLACE FUNCTION pgmq.metrics(queue_name text)
RETURNS pgmq.metrics_result
LANGUAGE plpgsql
AS $$
DECLARE
    v_qtable text := pgmq.format_table_name(queue_name, 'q');
    v_sequence text;
    v_result pgmq.metrics_result;
    v_default regclass;
    v_n bigint;
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

    FOR v_default IN
        SELECT nullif(p.partdefid, 0)::regclass FROM pg_catalog.pg_partitioned_table p
        WHERE p.partrelid IN (pg_catalog.to_regclass(format('pgmq.%I', v_qtable)),
                              pg_catalog.to_regclass(format('pgmq.%I', pgmq.format_table_name(queue_name, 'a'))))
    LOOP
        v_result.default_partition_length := coalesce(v_result.default_partition_length, 0);
        CONTINUE WHEN v_default IS NULL;
        EXECUTE format('SELECT count(*) FROM %s', v_default) INTO v_n;
        v_result.default_partition_length := v_result.default_partition_length + v_n;
    END LOOP;
    RETURN v_result;
END;
$$;
