-- pgtq.fail(queue_name text, msg_id bigint, attempt integer, error text, retryable boolean DEFAULT true,
--           max_retries integer DEFAULT 0, retry_delay integer DEFAULT 0) RETURNS text
--
-- Records a failed attempt of a task leased to the caller (read_ct = attempt, status 'processing'): appends
-- the error to x-pgtq-errors (strings, the seed's format) and {attempt, error, at, kind 'failure'} to
-- x-pgtq-error-log (last 20 of each kept), then
--   'retrying'      retryable and the failures recorded so far, this one included (attempt minus the lost
--                   leases counted in x-pgtq-lost-leases), are <= max_retries (max_retries = N: N retries,
--                   N + 1 failed attempts in all; a lost lease is not a failure):
--                   same msg_id, vt = now + retry_delay seconds, status 'retrying'; its group stays busy.
--   'dead_lettered' otherwise, with a DLQ: copied to the DLQ (body {msg_id, queue_name, message, errors},
--                   headers = the task's + x-pgtq-original) and archived with status 'dead_lettered' and
--                   x-pgtq-dlq = the DLQ msg_id; its group is freed. All in this one transaction.
--   'failed'        otherwise, without a DLQ: archived with status 'failed'; group freed.
--   'lease_lost'    stale attempt or task gone: nothing changes.
-- Raises PQ001, PQ002, PQ003 (msg_id, attempt, error, retryable NULL; max_retries or retry_delay NULL/negative).

CREATE OR REPLACE FUNCTION pgtq.fail(
    queue_name text,
    msg_id bigint,
    attempt integer,
    error text,
    retryable boolean DEFAULT true,
    max_retries integer DEFAULT 0,
    retry_delay integer DEFAULT 0
)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v record;
    v_headers jsonb;
    v_n integer;
    v_failures integer;
BEGIN
    IF msg_id IS NULL OR attempt IS NULL OR error IS NULL OR retryable IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('pgtq.fail: msg_id, attempt, error and retryable must not be NULL, got %s, %s, %s, %s',
                             coalesce(msg_id::text, 'NULL'), coalesce(attempt::text, 'NULL'),
                             coalesce(quote_literal(error), 'NULL'), coalesce(retryable::text, 'NULL'));
    END IF;
    IF max_retries IS NULL OR max_retries < 0 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('pgtq.fail: max_retries must be >= 0, got %s', coalesce(max_retries::text, 'NULL'));
    END IF;
    IF retry_delay IS NULL OR retry_delay < 0 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('pgtq.fail: retry_delay must be >= 0, got %s', coalesce(retry_delay::text, 'NULL'));
    END IF;
    SELECT * INTO v FROM pgtq._queue('pgtq.fail', queue_name);

    -- The lock waits for a concurrent reader; read_ct is then re-checked on the latest row version.
    EXECUTE format(
        'SELECT headers FROM pgmq.%I WHERE msg_id = $1 AND read_ct = $2 '
        'AND (headers->>''x-pgtq-status'') = ''processing'' FOR UPDATE', v.q_table)
    INTO v_headers USING msg_id, attempt;
    -- (EXECUTE does not set FOUND.)
    GET DIAGNOSTICS v_n = ROW_COUNT;
    IF v_n = 0 THEN
        RETURN 'lease_lost';
    END IF;

    -- Failures so far, this one included: the attempts minus the leases that were lost (those did not fail,
    -- their workers vanished; they have their own budget, see pgtq.read's max_lost_leases).
    v_failures := attempt - pgtq._lost_leases(v_headers);
    v_headers := pgtq._append_error(v_headers, attempt, error, 'failure');

    IF retryable AND v_failures <= max_retries THEN
        EXECUTE format(
            'UPDATE pgmq.%I SET vt = clock_timestamp() + make_interval(secs => $2), headers = $3 WHERE msg_id = $1',
            v.q_table)
        USING msg_id, retry_delay, v_headers || '{"x-pgtq-status": "retrying"}'::jsonb;
        IF retry_delay = 0 THEN
            PERFORM pgtq._notify(v.q_table);
        END IF;
        RETURN 'retrying';
    END IF;

    RETURN pgtq._final_failure(v.queue, msg_id, v_headers);
END;
$$;
