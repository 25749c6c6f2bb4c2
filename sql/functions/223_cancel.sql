-- pgtq.cancel(queue_name text, msg_id bigint, OUT cancelled boolean, OUT status text) RETURNS record
--
-- Takes a task out of its queue for good: whatever its state (queued, delayed, retrying, or processing), it is
-- moved to the archive with x-pgtq-status 'cancelled', its dedupe key is free again and its group is freed (as
-- complete and fail free it). A processing task's lease token then acknowledges nothing: complete and
-- extend_lease return false, release false, fail 'lease_lost', so its worker learns of the cancel the next
-- time it talks to the database (the handler itself is not interrupted by the database). One statement
-- removes the row, so a cancel racing the worker's complete or fail has exactly one winner, and the task ends
-- in the archive once.
-- Returns (true, the state it had: 'queued', 'delayed', 'processing' or 'retrying', as pgtq.list_tasks names
-- them) when cancelled; (false, its archived x-pgtq-status, e.g. 'completed') when the task already left the
-- queue. Wakes the queue's workers when a processing or retrying task freed a slot or a group.
-- Raises PQ001, PQ002, PQ003 (msg_id NULL), PQ005 (msg_id neither in the queue nor in its archive).

CREATE OR REPLACE FUNCTION pgtq.cancel(queue_name text, msg_id bigint, OUT cancelled boolean, OUT status text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v record;
    r record;
BEGIN
    IF msg_id IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = 'pgtq.cancel: msg_id must not be NULL';
    END IF;
    -- The DELETE is the first statement on the queue table and takes its table lock before any row lock (see
    -- pgtq._queue); it waits for a concurrent complete/fail of the row and then finds it gone.
    SELECT * INTO v FROM pgtq._queue('pgtq.cancel', queue_name, for_write => false, may_register => false);
    EXECUTE format(
        'DELETE FROM pgmq.%I WHERE msg_id = $1 '
        'RETURNING msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers', v.q_table)
    INTO r USING msg_id;

    IF r.msg_id IS NULL THEN
        status := pgtq._archived_status('pgtq.cancel', v.queue, v.a_table, msg_id);
        cancelled := false;
        RETURN;
    END IF;

    status := pgtq._task_status(r.headers, r.vt, clock_timestamp());
    EXECUTE format(
        'INSERT INTO pgmq.%I (msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers) '
        'VALUES ($1, $2, $3, $4, $5, $6, $7)', v.a_table)
    USING r.msg_id, r.read_ct, r.enqueued_at, r.last_read_at, r.vt, r.message,
          coalesce(r.headers, '{}'::jsonb) || '{"x-pgtq-status": "cancelled"}'::jsonb;
    PERFORM pgtq._group_done(v.queue, v.queue_id, r.headers->>'x-pgmq-group', r.msg_id);
    IF r.headers->>'x-pgtq-status' IN ('processing', 'retrying') THEN
        PERFORM pgtq._notify(v.q_table);
    END IF;
    cancelled := true;
END;
$$;
