-- pgtq.release(queue_name text, msg_id bigint, attempt integer) RETURNS boolean
--
-- Gives a claimed task back untouched (worker shutdown): if still leased to the caller (read_ct = attempt,
-- status 'processing') it becomes visible now, read_ct goes back down by one so the attempt is not counted
-- (the next read presents the same attempt number), status 'queued', and its group is freed. Wakes listening
-- workers. True if released, false if the lease was lost.
-- Raises PQ001, PQ002, PQ003 (msg_id/attempt NULL).

CREATE OR REPLACE FUNCTION pgtq.release(queue_name text, msg_id bigint, attempt integer)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v record;
    v_group text;
    v_n integer;
BEGIN
    IF msg_id IS NULL OR attempt IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('pgtq.release: msg_id and attempt must not be NULL, got msg_id=%s attempt=%s',
                             coalesce(msg_id::text, 'NULL'), coalesce(attempt::text, 'NULL'));
    END IF;
    SELECT * INTO v FROM pgtq._queue('pgtq.release', queue_name);
    EXECUTE format(
        'UPDATE pgmq.%I SET vt = clock_timestamp(), read_ct = read_ct - 1, '
        'headers = headers || ''{"x-pgtq-status": "queued"}'' '
        'WHERE msg_id = $1 AND read_ct = $2 AND (headers->>''x-pgtq-status'') = ''processing'' '
        'RETURNING headers->>''x-pgmq-group''', v.q_table)
    INTO v_group USING msg_id, attempt;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    IF v_n = 0 THEN
        RETURN false;
    END IF;
    PERFORM pgtq._group_done(v.queue, v.queue_id, v_group, msg_id);
    PERFORM pgtq._notify(v.q_table);
    RETURN true;
END;
$$;
