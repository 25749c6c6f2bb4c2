-- pgtq.list_archive(queue_name text, before_msg_id bigint DEFAULT NULL, qty integer DEFAULT 100)
--   RETURNS SETOF pgtq.task_view
--
-- The queue's archived tasks (completed, failed, dead_lettered, cancelled), newest first (msg_id descending),
-- changing nothing: at most qty (1 to 1000) rows with msg_id < before_msg_id (keyset pagination: pass the last
-- msg_id of a page to get the next; NULL = from the newest). Rows have place 'archive' and status =
-- x-pgtq-status (see pgtq.task_view in 00008_queue_ops.sql). Cost: a backward walk of the archive's primary key.
-- Raises PQ001, PQ002, PQ003 (qty NULL or outside 1..1000).

CREATE OR REPLACE FUNCTION pgtq.list_archive(queue_name text, before_msg_id bigint DEFAULT NULL, qty integer DEFAULT 100)
RETURNS SETOF pgtq.task_view
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v record;
BEGIN
    IF qty IS NULL OR qty < 1 OR qty > 1000 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('pgtq.list_archive: qty must be between 1 and 1000, got %s', coalesce(qty::text, 'NULL'));
    END IF;
    SELECT * INTO v FROM pgtq._queue('pgtq.list_archive', queue_name, for_write => false, may_register => false);
    RETURN QUERY EXECUTE format(
        'SELECT ''archive''::text, t.msg_id, t.headers->>''x-pgtq-status'', t.headers->>''x-pgtq-task-id'', '
        '       t.headers->>''x-pgmq-group'', t.read_ct, t.enqueued_at, t.last_read_at, t.vt, t.archived_at, '
        '       t.message, t.headers '
        'FROM pgmq.%I t WHERE t.msg_id < $1 ORDER BY t.msg_id DESC LIMIT $2', v.a_table)
    USING coalesce(before_msg_id, 9223372036854775807), qty;
END;
$$;
