-- pgtq.throughput(queue_name text, since interval, step interval)
--   RETURNS TABLE(bucket timestamptz, completed bigint, failed bigint,
--                 start_delay_p50 double precision, start_delay_p95 double precision)
--
-- What the queue got done over the last `since`, in buckets of `step` (oldest first, empty buckets included,
-- the last one is the current, partial bucket), read from the archive's timestamps, so it is exact and needs
-- no sampler: completed = tasks archived as completed in the bucket, failed = tasks archived after a final
-- failure (dead_lettered, or failed without a DLQ); cancelled tasks count in neither. start_delay_p50 / p95
-- are the median and 95th percentile, in seconds, of last_read_at - enqueued_at of the bucket's tasks that
-- ran once (read_ct = 1: the wait from enqueue to the start of their only attempt), NULL when there is none.
-- Buckets start at multiples of step since the Unix epoch (date_bin), so successive calls line up. Meant
-- for dashboards: one range scan of the archive's archived_at index. Granted to pgtq_admin.
-- Raises PQ001, PQ002, PQ003 (since or step NULL or not positive, a step with months, more than 10000
-- buckets).

CREATE OR REPLACE FUNCTION pgtq.throughput(queue_name text, since interval, step interval)
RETURNS TABLE (bucket timestamptz, completed bigint, failed bigint,
               start_delay_p50 double precision, start_delay_p95 double precision)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v record;
    v_origin constant timestamptz := 'epoch';
    v_end timestamptz := clock_timestamp();
BEGIN
    IF since IS NULL OR step IS NULL OR since <= interval '0' OR step <= interval '0'
       OR extract(month FROM step) <> 0 OR extract(year FROM step) <> 0 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('pgtq.throughput: since and step must be positive intervals without months, got %s and %s',
                             coalesce(since::text, 'NULL'), coalesce(step::text, 'NULL'));
    END IF;
    IF extract(epoch FROM since) / extract(epoch FROM step) > 10000 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('pgtq.throughput: at most 10000 buckets, got since %s / step %s', since, step);
    END IF;
    SELECT * INTO v FROM pgtq._queue('pgtq.throughput', queue_name, for_write => false, may_register => false);
    RETURN QUERY EXECUTE format(
        'WITH r AS ('
        '    SELECT date_bin($3, a.archived_at, $4) AS bucket, a.headers->>''x-pgtq-status'' AS status,'
        '           CASE WHEN a.read_ct = 1 THEN extract(epoch FROM a.last_read_at - a.enqueued_at)::float8 END AS delay'
        '    FROM pgmq.%I a'
        '    WHERE a.archived_at >= $1)'
        'SELECT s.bucket, count(*) FILTER (WHERE r.status = ''completed''),'
        '       count(*) FILTER (WHERE r.status IN (''dead_lettered'', ''failed'')),'
        '       percentile_cont(0.5) WITHIN GROUP (ORDER BY r.delay) FILTER (WHERE r.status <> ''cancelled''),'
        '       percentile_cont(0.95) WITHIN GROUP (ORDER BY r.delay) FILTER (WHERE r.status <> ''cancelled'')'
        'FROM generate_series($1, $2, $3) s(bucket)'
        'LEFT JOIN r ON r.bucket = s.bucket '
        'GROUP BY s.bucket ORDER BY s.bucket', v.a_table)
    USING date_bin(step, v_end - since, v_origin), v_end, step, v_origin;
END;
$$;

GRANT EXECUTE ON FUNCTION pgtq.throughput(text, interval, interval) TO pgtq_admin;
