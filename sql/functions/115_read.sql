-- pgmq.read(queue_name text, vt integer, qty integer, conditional jsonb DEFAULT '{}', direction text DEFAULT 'ASC')
--   RETURNS SETOF pgmq.message_record
--
-- Claims up to qty visible messages (vt <= clock_timestamp()) and hides them for vt seconds: sets
-- vt = clock_timestamp() + vt, read_ct = read_ct + 1, last_read_at = clock_timestamp(). vt = 0 leaves them
-- visible (read_ct still counts). conditional (experimental in pgmq) keeps only messages whose body
-- contains it (@>); '{}' or NULL means no filter. direction 'ASC' (FIFO, oldest msg_id first) or 'DESC'
-- (LIFO), case-insensitive: PGTQ's one change to pgmq. Rows come back in that order.
-- SKIP LOCKED lets concurrent readers take disjoint messages without waiting on each other.
-- Raises PQ003 for an unknown direction, P0001 for invalid names, 42P01 for an unknown queue.

CREATE OR REPLACE FUNCTION pgmq.read(
    queue_name text,
    vt integer,
    qty integer,
    conditional jsonb DEFAULT '{}',
    direction text DEFAULT 'ASC'
)
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
              AND ($2 IS NULL OR $2 = '{}'::jsonb OR message @> $2)
            ORDER BY msg_id %2$s
            LIMIT $1
            FOR UPDATE SKIP LOCKED
        ), claimed AS (
            UPDATE pgmq.%1$I m
            SET vt = clock_timestamp() + make_interval(secs => $3),
                read_ct = m.read_ct + 1,
                last_read_at = clock_timestamp()
            FROM cte
            WHERE m.msg_id = cte.msg_id
            RETURNING m.msg_id, m.read_ct, m.enqueued_at, m.last_read_at, m.vt, m.message, m.headers
        )
        SELECT * FROM claimed ORDER BY msg_id %2$s
        $sql$,
        v_qtable, v_direction
    ) USING qty, conditional, vt;
END;
$$;
