-- pgmq.pop(queue_name text, qty integer DEFAULT 1, direction text DEFAULT 'ASC')
--   RETURNS SETOF pgmq.message_record
--
-- Takes up to qty visible messages and deletes them in the same statement (at-most-once delivery).
-- Rows are returned unchanged (read_ct, vt as stored), in direction order: 'ASC' FIFO, 'DESC' LIFO,
-- case-insensitive. An empty queue returns no rows. Nothing is archived.
-- Raises PQ003 for an unknown direction, P0001 for invalid names, 42P01 for an unknown queue.

CREATE OR REPLACE FUNCTION pgmq.pop(queue_name text, qty integer DEFAULT 1, direction text DEFAULT 'ASC')
RETURNS SETOF pgmq.message_record
LANGUAGE plpgsql
AS $$
DECLARE
    v_direction text := pgmq._order_direction(direction);
    v_qtable text := pgmq.format_table_name(queue_name, 'q');
BEGIN
    RETURN QUERY EXECUTE format(
        $sql$
        WITH cte AS (
            SELECT msg_id
            FROM pgmq.%1$I
            WHERE vt <= clock_timestamp()
            ORDER BY msg_id %2$s
            LIMIT $1
            FOR UPDATE SKIP LOCKED
        ), popped AS (
            DELETE FROM pgmq.%1$I m
            USING cte
            WHERE m.msg_id = cte.msg_id
            RETURNING m.msg_id, m.read_ct, m.enqueued_at, m.last_read_at, m.vt, m.message, m.headers
        )
        SELECT * FROM popped ORDER BY msg_id %2$s
        $sql$,
        v_qtable, v_direction
    ) USING qty;
END;
$$;
