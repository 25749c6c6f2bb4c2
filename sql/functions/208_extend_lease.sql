-- pgtq.extend_lease(queue_name text, msg_id bigint, attempt integer, lease_seconds integer) RETURNS boolean
--
-- Heartbeat: a task still leased to the caller (read_ct = attempt, status 'processing', lease not yet expired)
-- gets vt = now + lease_seconds. True if extended, false if the lease was lost or has expired: reviving an
-- expired lease could push the queue over its concurrency limit, since expired leases free their slot.
-- Raises PQ001, PQ002, PQ003 (msg_id/attempt NULL, lease_seconds NULL or < 1).

CREATE OR REPLACE FUNCTION pgtq.extend_lease(queue_name text, msg_id bigint, attempt integer, lease_seconds integer)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v record;
    v_n integer;
BEGIN
    IF msg_id IS NULL OR attempt IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('pgtq.extend_lease: msg_id and attempt must not be NULL, got msg_id=%s attempt=%s',
                             coalesce(msg_id::text, 'NULL'), coalesce(attempt::text, 'NULL'));
    END IF;
    IF lease_seconds IS NULL OR lease_seconds < 1 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('pgtq.extend_lease: lease_seconds must be >= 1, got %s', coalesce(lease_seconds::text, 'NULL'));
    END IF;
    SELECT * INTO v FROM pgtq._queue('pgtq.extend_lease', queue_name);
    EXECUTE format(
        'UPDATE pgmq.%I SET vt = clock_timestamp() + make_interval(secs => $3) '
        'WHERE msg_id = $1 AND read_ct = $2 AND (headers->>''x-pgtq-status'') = ''processing'' '
        'AND vt > clock_timestamp()', v.q_table)
    USING msg_id, attempt, lease_seconds;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN v_n = 1;
END;
$$;
