-- pgtq.retry_now(queue_name text, msg_id bigint, OUT made_due boolean, OUT status text) RETURNS record
--
-- Makes a task that waits become due now: a retrying task (failed, waiting for its retry delay) or a delayed
-- one (enqueued with a delay) gets vt = now, keeping its attempts, errors and group, and the queue's workers
-- are woken. Returns (true, 'retrying' or 'delayed': the state it had); (false, its state) when it was not
-- waiting: 'queued' (already due), 'processing', or, for a task that left the queue, its archived
-- x-pgtq-status.
-- Raises PQ001, PQ002, PQ003 (msg_id NULL), PQ005 (msg_id neither in the queue nor in its archive).

CREATE OR REPLACE FUNCTION pgtq.retry_now(queue_name text, msg_id bigint, OUT made_due boolean, OUT status text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v record;
    r record;
    v_n integer;
BEGIN
    IF msg_id IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = 'pgtq.retry_now: msg_id must not be NULL';
    END IF;
    SELECT * INTO v FROM pgtq._queue('pgtq.retry_now', queue_name, for_write => true, may_register => false);
    -- The lock waits for a concurrent reader or fail; the state is then read from the latest row version.
    EXECUTE format('SELECT headers, vt FROM pgmq.%I WHERE msg_id = $1 FOR UPDATE', v.q_table)
    INTO r USING msg_id;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    IF v_n = 0 THEN
        status := pgtq._archived_status('pgtq.retry_now', v.queue, v.a_table, msg_id);
        made_due := false;
        RETURN;
    END IF;

    status := pgtq._task_status(r.headers, r.vt, clock_timestamp());
    made_due := status IN ('retrying', 'delayed');
    IF made_due THEN
        EXECUTE format('UPDATE pgmq.%I SET vt = clock_timestamp() WHERE msg_id = $1', v.q_table) USING msg_id;
        PERFORM pgtq._notify(v.q_table);
    END IF;
END;
$$;
