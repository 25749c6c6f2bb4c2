-- pgtq.list_tasks(queue_name text, status text DEFAULT NULL, group_key text DEFAULT NULL,
--                 after_msg_id bigint DEFAULT NULL, qty integer DEFAULT 100) RETURNS SETOF pgtq.task_view
--
-- The tasks still in a queue, msg_id ascending, changing nothing: at most qty (1 to 1000) rows with
-- msg_id > after_msg_id (keyset pagination: pass the last msg_id of a page to get the next; NULL = from the
-- start). status filters on the effective state, as pgtq.stats counts it: 'queued' (visible now: waiting, an
-- expired lease or a due retry), 'delayed' (not visible yet, never failed), 'processing' (a live lease) or
-- 'retrying' (failed, waiting for its retry delay); NULL = all. group_key filters on x-pgmq-group (an index
-- range scan). Rows have place 'queue' and archived_at NULL (see pgtq.task_view in 00008_queue_ops.sql).
-- Cost: a walk of the primary key (or of the group index) from after_msg_id; a status filter that matches few
-- tasks walks further.
-- Raises PQ001, PQ002, PQ003 (qty NULL or outside 1..1000, an unknown status).
--
-- Internal helper defined here (used by the other operations functions too):
-- pgtq._task_status(headers jsonb, vt timestamptz, now timestamptz) RETURNS text
--   The effective state of a task in a queue table at now: 'queued', 'delayed', 'processing' or 'retrying'
--   (a processing or retrying task whose vt passed is claimable again: 'queued'; a status pgtq does not
--   write counts as 'queued' or 'delayed' by its vt). Inlined into the queries that call it.

CREATE OR REPLACE FUNCTION pgtq._task_status(headers jsonb, vt timestamptz, now timestamptz)
RETURNS text
LANGUAGE sql
IMMUTABLE
AS $$
    SELECT CASE
        WHEN vt <= now THEN 'queued'
        WHEN (headers->>'x-pgtq-status') IN ('processing', 'retrying') THEN headers->>'x-pgtq-status'
        ELSE 'delayed'
    END;
$$;

CREATE OR REPLACE FUNCTION pgtq.list_tasks(
    queue_name text,
    status text DEFAULT NULL,
    group_key text DEFAULT NULL,
    after_msg_id bigint DEFAULT NULL,
    qty integer DEFAULT 100
)
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
            MESSAGE = format('pgtq.list_tasks: qty must be between 1 and 1000, got %s', coalesce(qty::text, 'NULL'));
    END IF;
    IF status IS NOT NULL AND status NOT IN ('queued', 'delayed', 'processing', 'retrying') THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('pgtq.list_tasks: status must be queued, delayed, processing, retrying or NULL, got %L',
                             status);
    END IF;
    SELECT * INTO v FROM pgtq._queue('pgtq.list_tasks', queue_name, for_write => false, may_register => false);
    -- EXECUTE plans with the values, so the NULL filters drop out and a group filter probes the group index.
    RETURN QUERY EXECUTE format(
        'SELECT ''queue''::text, t.msg_id, pgtq._task_status(t.headers, t.vt, $1), t.headers->>''x-pgtq-task-id'', '
        '       t.headers->>''x-pgmq-group'', t.read_ct, t.enqueued_at, t.last_read_at, t.vt, NULL::timestamptz, '
        '       t.message, t.headers '
        'FROM pgmq.%I t '
        'WHERE t.msg_id > $2 AND ($3::text IS NULL OR (t.headers->>''x-pgmq-group'') = $3) '
        '  AND ($4::text IS NULL OR pgtq._task_status(t.headers, t.vt, $1) = $4) '
        'ORDER BY t.msg_id LIMIT $5', v.q_table)
    USING clock_timestamp(), coalesce(after_msg_id, 0), group_key, status, qty;
END;
$$;
