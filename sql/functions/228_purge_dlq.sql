-- pgtq.purge_dlq(queue_name text, older_than interval) RETURNS bigint
--
-- Deletes the entries of the queue's dead-letter queue that were dead-lettered more than older_than ago
-- (enqueued_at of the DLQ message; interval '0' = all of them), for good: they are not archived and cannot be
-- rescheduled afterwards (their archived originals stay until pruned). Returns how many were deleted; 0 for a
-- queue without DLQ.
-- Raises PQ001, PQ002, PQ003 (older_than NULL or negative).

CREATE OR REPLACE FUNCTION pgtq.purge_dlq(queue_name text, older_than interval)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v record;
    v_n bigint;
BEGIN
    IF older_than IS NULL OR older_than < interval '0' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('pgtq.purge_dlq: older_than must be >= 0, got %s', coalesce(older_than::text, 'NULL'));
    END IF;
    SELECT * INTO v FROM pgtq._queue('pgtq.purge_dlq', queue_name, for_write => false, may_register => false);
    IF v.dlq_q_table IS NULL THEN
        RETURN 0;
    END IF;
    EXECUTE format('DELETE FROM pgmq.%I WHERE enqueued_at <= clock_timestamp() - $1', v.dlq_q_table)
    USING older_than;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN v_n;
END;
$$;
