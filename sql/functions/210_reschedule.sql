-- pgtq.reschedule(queue_name text, dlq_msg_id bigint) RETURNS bigint
--
-- Puts a dead-lettered task back into its queue and returns the new msg_id. The new task has the DLQ entry's
-- payload (body->'message'), group, x-pgtq-task-id and other headers, x-pgtq-original = the original msg_id,
-- status 'queued' and a fresh budget (read_ct 0, no lost leases); its error history is kept. The DLQ message is
-- archived (DLQ archive) with status 'rescheduled' and x-pgtq-retry = the new msg_id. If the task's dedupe
-- key is held by a task in the queue meanwhile, no task is added and that task's msg_id is returned (and
-- recorded in x-pgtq-retry).
-- Raises PQ001, PQ002, PQ003 (dlq_msg_id NULL, queue without DLQ), PQ004 (the DLQ message is not a pgtq
-- dead-letter body), PQ005 (no such message in the queue's DLQ, or it belongs to another queue).

CREATE OR REPLACE FUNCTION pgtq.reschedule(queue_name text, dlq_msg_id bigint)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v record;
    r record;
    v_headers jsonb;
    v_new bigint;
BEGIN
    IF dlq_msg_id IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = 'pgtq.reschedule: dlq_msg_id must not be NULL';
    END IF;
    SELECT * INTO v FROM pgtq._queue('pgtq.reschedule', queue_name);
    IF v.dlq_name IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('pgtq.reschedule: queue %L has no dead-letter queue', queue_name);
    END IF;

    EXECUTE format(
        'SELECT msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers FROM pgmq.%I '
        'WHERE msg_id = $1 FOR UPDATE', v.dlq_q_table)
    INTO r USING dlq_msg_id;
    IF r.msg_id IS NULL OR r.message->>'queue_name' IS DISTINCT FROM v.queue THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ005',
            MESSAGE = format('pgtq.reschedule: message %s not found in dead-letter queue %L of queue %L',
                             dlq_msg_id, v.dlq_name, v.queue);
    END IF;
    IF jsonb_typeof(r.message->'message') IS DISTINCT FROM 'object' OR jsonb_typeof(r.message->'msg_id') IS DISTINCT FROM 'number' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ004',
            MESSAGE = format('pgtq.reschedule: message %s of %L is not a pgtq dead-letter entry, body %s',
                             dlq_msg_id, v.dlq_name, r.message);
    END IF;

    -- A fresh budget: read_ct starts at 0 and the lost-lease count goes (the error history stays).
    v_headers := (coalesce(r.headers, '{}'::jsonb) - 'x-pgtq-dlq' - 'x-pgtq-retry' - 'x-pgtq-lost-leases')
        || jsonb_build_object(
               'x-pgtq-status', 'queued',
               'x-pgtq-original', r.message->'msg_id',
               'x-pgtq-task-id', coalesce(r.headers->>'x-pgtq-task-id', gen_random_uuid()::text));
    v_new := pgtq._insert_task(v.q_table, r.message->'message', v_headers, 0);

    EXECUTE format('DELETE FROM pgmq.%I WHERE msg_id = $1', v.dlq_q_table) USING dlq_msg_id;
    EXECUTE format(
        'INSERT INTO pgmq.%I (msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers) '
        'VALUES ($1, $2, $3, $4, $5, $6, $7)', v.dlq_a_table)
    USING r.msg_id, r.read_ct, r.enqueued_at, r.last_read_at, r.vt, r.message,
          coalesce(r.headers, '{}'::jsonb) || jsonb_build_object('x-pgtq-status', 'rescheduled', 'x-pgtq-retry', v_new);
    RETURN v_new;
END;
$$;
