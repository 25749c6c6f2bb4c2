-- pgtq.stats(queue_name text) RETURNS pgtq.stats
--
-- Counts of one queue: queued (visible now: status queued or none, plus expired leases and due retries),
-- delayed (status queued or none, not visible yet), processing (live leases), retrying (waiting), dlq (messages in its DLQ, 0 without one), archived (rows in its archive), and
-- oldest_queued_age_seconds (seconds since the oldest visible queued task was enqueued, NULL if none), and
-- paused (pgtq.pause: reads claim nothing while true).
-- Scans the queue table: meant for dashboards and tests, not for hot paths.
-- Raises PQ001, PQ002.

CREATE OR REPLACE FUNCTION pgtq.stats(queue_name text)
RETURNS pgtq.stats
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v record;
    s pgtq.stats;
BEGIN
    SELECT * INTO v FROM pgtq._queue('pgtq.stats', queue_name, for_write => false);
    s.queue_name := v.queue;
    EXECUTE format(
        'SELECT count(*) FILTER (WHERE st = ''queued'' AND vt <= clock_timestamp()), '
        '       count(*) FILTER (WHERE st = ''queued'' AND vt > clock_timestamp()), '
        '       count(*) FILTER (WHERE st = ''processing''), '
        '       count(*) FILTER (WHERE st = ''retrying''), '
        '       extract(epoch FROM clock_timestamp() - min(enqueued_at) FILTER (WHERE st = ''queued'' AND vt <= clock_timestamp()))::double precision '
        -- A processing task whose lease expired, or a retry that is due, is claimable again: it counts as queued,
        -- so processing is what the concurrency limit counts (live leases).
        'FROM (SELECT CASE WHEN vt <= clock_timestamp() AND (headers->>''x-pgtq-status'') IN (''processing'', ''retrying'') '
        '                  THEN ''queued'' ELSE coalesce(headers->>''x-pgtq-status'', ''queued'') END AS st, '
        '             vt, enqueued_at FROM pgmq.%I) t',
        v.q_table)
    INTO s.queued, s.delayed, s.processing, s.retrying, s.oldest_queued_age_seconds;
    EXECUTE format('SELECT count(*) FROM pgmq.%I', v.a_table) INTO s.archived;
    s.paused := v.paused;
    s.dlq := 0;
    IF v.dlq_q_table IS NOT NULL THEN
        EXECUTE format('SELECT count(*) FROM pgmq.%I', v.dlq_q_table) INTO s.dlq;
    END IF;
    RETURN s;
END;
$$;
