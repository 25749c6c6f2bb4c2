-- pgtq.get_task(queue_name text, msg_id bigint DEFAULT NULL, task_id text DEFAULT NULL)
--   RETURNS SETOF pgtq.task_view
--
-- One task and its history, oldest first, changing nothing. Give exactly one of msg_id (any msg_id the task
-- had in the queue: the original or a rescheduled one) or task_id (x-pgtq-task-id). The rows, each in the
-- table it is in now (place 'queue' or 'archive' for the task, 'dlq' or 'dlq_archive' for its dead-letter
-- entries), follow the headers: back through x-pgtq-original (a rescheduled task to the archived original),
-- then forward through x-pgtq-dlq (an archived original to its DLQ entry) and x-pgtq-retry (a rescheduled DLQ
-- entry to the task it became), as long as the task_id stays the same (a reschedule that met a held dedupe
-- key points at another task, which is not followed). Status: see pgtq.task_view (00008_queue_ops.sql).
-- Cost: primary-key probes per step (at most 100 steps); a task_id lookup scans the queue table, then the
-- archive, for the header.
-- Raises PQ001, PQ002, PQ003 (neither or both of msg_id and task_id), PQ005 (no such task in the queue or its
-- archive).
--
-- Internal helper defined here:
-- pgtq._task_row(q_table text, a_table text, live_place text, archive_place text, msg_id bigint,
--                now timestamptz, effective boolean) RETURNS pgtq.task_view
--   The row msg_id of the queue table q_table (place live_place), else of its archive a_table (place
--   archive_place), else all NULL. effective: a live row's status is pgtq._task_status (task queues); otherwise
--   x-pgtq-status as stored (dead-letter queues).

CREATE OR REPLACE FUNCTION pgtq._task_row(
    q_table text, a_table text, live_place text, archive_place text, msg_id bigint, now timestamptz,
    effective boolean)
RETURNS pgtq.task_view
LANGUAGE plpgsql
AS $$
DECLARE
    r pgtq.task_view;
BEGIN
    EXECUTE format(
        'SELECT $3, t.msg_id, CASE WHEN $4 THEN pgtq._task_status(t.headers, t.vt, $2) ELSE t.headers->>''x-pgtq-status'' END, '
        '       t.headers->>''x-pgtq-task-id'', t.headers->>''x-pgmq-group'', t.read_ct, t.enqueued_at, '
        '       t.last_read_at, t.vt, NULL::timestamptz, t.message, t.headers '
        'FROM pgmq.%I t WHERE t.msg_id = $1', q_table)
    INTO r USING msg_id, now, live_place, effective;
    IF r.msg_id IS NULL THEN
        EXECUTE format(
            'SELECT $2, t.msg_id, t.headers->>''x-pgtq-status'', t.headers->>''x-pgtq-task-id'', '
            '       t.headers->>''x-pgmq-group'', t.read_ct, t.enqueued_at, t.last_read_at, t.vt, t.archived_at, '
            '       t.message, t.headers '
            'FROM pgmq.%I t WHERE t.msg_id = $1', a_table)
        INTO r USING msg_id, archive_place;
    END IF;
    RETURN r;
END;
$$;

CREATE OR REPLACE FUNCTION pgtq.get_task(queue_name text, msg_id bigint DEFAULT NULL, task_id text DEFAULT NULL)
RETURNS SETOF pgtq.task_view
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v record;
    r pgtq.task_view;
    d pgtq.task_view;
    v_prev pgtq.task_view;
    v_now timestamptz := clock_timestamp();
    v_id bigint := msg_id;
    v_next bigint;
    v_steps integer := 0;
BEGIN
    IF (msg_id IS NULL) = (task_id IS NULL) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('pgtq.get_task: give exactly one of msg_id and task_id, got msg_id=%s task_id=%s',
                             coalesce(msg_id::text, 'NULL'), coalesce(quote_literal(task_id), 'NULL'));
    END IF;
    SELECT * INTO v FROM pgtq._queue('pgtq.get_task', queue_name, for_write => false, may_register => false);

    IF v_id IS NULL THEN
        EXECUTE format('SELECT min(msg_id) FROM pgmq.%I WHERE (headers->>''x-pgtq-task-id'') = $1', v.q_table)
        INTO v_id USING task_id;
        IF v_id IS NULL THEN
            EXECUTE format('SELECT min(msg_id) FROM pgmq.%I WHERE (headers->>''x-pgtq-task-id'') = $1', v.a_table)
            INTO v_id USING task_id;
        END IF;
    END IF;
    IF v_id IS NOT NULL THEN
        r := pgtq._task_row(v.q_table, v.a_table, 'queue', 'archive', v_id, v_now, true);
    END IF;
    IF r.msg_id IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ005',
            MESSAGE = format('pgtq.get_task: task %s not found in queue %L or its archive', coalesce(msg_id::text, quote_literal(task_id)), v.queue);
    END IF;

    -- Back to the first run of the task: a rescheduled task names the archived original.
    LOOP
        v_steps := v_steps + 1;
        EXIT WHEN v_steps > 100 OR jsonb_typeof(r.headers->'x-pgtq-original') IS DISTINCT FROM 'number';
        v_prev := pgtq._task_row(v.q_table, v.a_table, 'queue', 'archive',
                                 (r.headers->>'x-pgtq-original')::numeric::bigint, v_now, true);
        EXIT WHEN v_prev.msg_id IS NULL OR v_prev.task_id IS DISTINCT FROM r.task_id OR v_prev.msg_id = r.msg_id;
        r := v_prev;
    END LOOP;

    -- Forward: each run, its dead-letter entry, the task that entry was rescheduled into, ...
    v_steps := 0;
    LOOP
        RETURN NEXT r;
        v_steps := v_steps + 1;
        EXIT WHEN v_steps > 100 OR v.dlq_q_table IS NULL
            OR jsonb_typeof(r.headers->'x-pgtq-dlq') IS DISTINCT FROM 'number';
        d := pgtq._task_row(v.dlq_q_table, v.dlq_a_table, 'dlq', 'dlq_archive',
                            (r.headers->>'x-pgtq-dlq')::numeric::bigint, v_now, false);
        EXIT WHEN d.msg_id IS NULL;
        RETURN NEXT d;
        EXIT WHEN jsonb_typeof(d.headers->'x-pgtq-retry') IS DISTINCT FROM 'number';
        v_next := (d.headers->>'x-pgtq-retry')::numeric::bigint;
        EXIT WHEN v_next <= r.msg_id;
        v_prev := pgtq._task_row(v.q_table, v.a_table, 'queue', 'archive', v_next, v_now, true);
        EXIT WHEN v_prev.msg_id IS NULL OR v_prev.task_id IS DISTINCT FROM r.task_id;
        r := v_prev;
    END LOOP;
END;
$$;
