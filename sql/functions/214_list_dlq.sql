-- pgtq.list_dlq(queue_name text, qty integer DEFAULT 100) RETURNS SETOF pgmq.message_record
--
-- The dead-letter entries of a task queue, oldest first (msg_id ascending), at most qty of them, unchanged
-- (read_ct not touched). Body {msg_id, queue_name, message, errors}; headers as described in DESIGN.md.
-- Empty when the queue has no DLQ. Pass an entry's msg_id to pgtq.reschedule to put it back.
-- Raises PQ001, PQ002, PQ003 (qty NULL or < 1).

CREATE OR REPLACE FUNCTION pgtq.list_dlq(queue_name text, qty integer DEFAULT 100)
RETURNS SETOF pgmq.message_record
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v record;
BEGIN
    IF qty IS NULL OR qty < 1 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('pgtq.list_dlq: qty must be >= 1, got %s', coalesce(qty::text, 'NULL'));
    END IF;
    SELECT * INTO v FROM pgtq._queue('pgtq.list_dlq', queue_name, for_write => false);
    IF v.dlq_q_table IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers FROM pgmq.%I ORDER BY msg_id LIMIT $1',
        v.dlq_q_table)
    USING qty;
END;
$$;
