-- pgtq.enqueue_batch(queue_name text, payloads jsonb[], group_keys text[] DEFAULT NULL, delay integer DEFAULT 0,
--                    headers jsonb[] DEFAULT NULL) RETURNS SETOF bigint
--
-- Adds many tasks in one INSERT and returns their msg_ids in the order of payloads. group_keys[i] and
-- headers[i] belong to payloads[i] (NULL arrays: none; NULL elements: none for that task). delay in seconds
-- applies to all. Headers as pgtq.enqueue (no dedupe keys here).
-- Group keys (given or from an x-pgmq-group header) are limited to 1024 bytes (PQ003 naming the element).
-- Raises PQ001, PQ002, PQ003 (payloads NULL or empty, array lengths differ, delay NULL or negative, a bad
-- headers element), PQ004 (an element of payloads NULL or not a JSON object; the message gives its index).

CREATE OR REPLACE FUNCTION pgtq.enqueue_batch(
    queue_name text,
    payloads jsonb[],
    group_keys text[] DEFAULT NULL,
    delay integer DEFAULT 0,
    headers jsonb[] DEFAULT NULL
)
RETURNS SETOF bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v record;
    v_n integer := cardinality(payloads);
    v_bad integer;
    v_bad_payload jsonb;
    v_bad_headers jsonb;
BEGIN
    IF v_n IS NULL OR v_n = 0 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = 'pgtq.enqueue_batch: payloads must not be NULL or empty';
    END IF;
    IF array_ndims(payloads) <> 1 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('pgtq.enqueue_batch: payloads must be a one-dimensional array, got %s dimensions',
                             array_ndims(payloads));
    END IF;
    SELECT u.i, u.p INTO v_bad, v_bad_payload FROM unnest(payloads) WITH ORDINALITY AS u (p, i)
    WHERE u.p IS NULL OR jsonb_typeof(u.p) <> 'object' ORDER BY u.i LIMIT 1;
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ004',
            MESSAGE = format('pgtq.enqueue_batch: payloads[%s] must be a JSON object, got %s',
                             v_bad, coalesce(v_bad_payload::text, 'NULL'));
    END IF;
    IF group_keys IS NOT NULL AND cardinality(group_keys) <> v_n THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('pgtq.enqueue_batch: group_keys array length (%s) must match payloads array length (%s)',
                             cardinality(group_keys), v_n);
    END IF;
    IF headers IS NOT NULL AND cardinality(headers) <> v_n THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('pgtq.enqueue_batch: headers array length (%s) must match payloads array length (%s)',
                             cardinality(headers), v_n);
    END IF;
    IF delay IS NULL OR delay < 0 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('pgtq.enqueue_batch: delay must be >= 0, got %s', coalesce(delay::text, 'NULL'));
    END IF;
    -- Group keys go into an index entry: over the limit they would fail there with the index row error.
    IF group_keys IS NOT NULL THEN
        PERFORM pgtq._check_key('pgtq.enqueue_batch', format('group_keys[%s]', u.i), u.k)
        FROM unnest(group_keys) WITH ORDINALITY AS u (k, i)
        WHERE octet_length(u.k) > 1024;
    END IF;
    IF headers IS NOT NULL THEN
        PERFORM pgtq._check_key('pgtq.enqueue_batch', format('the x-pgmq-group header of headers[%s]', u.i),
                                u.h->>'x-pgmq-group')
        FROM unnest(headers) WITH ORDINALITY AS u (h, i)
        WHERE octet_length(u.h->>'x-pgmq-group') > 1024;
    END IF;
    -- The INSERT takes the table lock before its trigger locks group rows: no up-front lock (see pgtq._queue).
    SELECT * INTO v FROM pgtq._queue('pgtq.enqueue_batch', queue_name, for_write => false, may_register => false);

    -- Validate every caller header object before inserting anything: the first bad one raises what
    -- pgtq._task_headers raises for it. Only when headers were given: the common batch has none.
    IF headers IS NOT NULL THEN
        SELECT u.h INTO v_bad_headers FROM unnest(headers) WITH ORDINALITY AS u (h, i)
        WHERE u.h IS NOT NULL
          AND (jsonb_typeof(u.h) <> 'object'
               OR EXISTS (SELECT 1 FROM jsonb_object_keys(u.h) AS k WHERE k LIKE 'x-pgtq-%'))
        ORDER BY u.i LIMIT 1;
        IF FOUND THEN
            PERFORM pgtq._task_headers('pgtq.enqueue_batch', v_bad_headers, NULL, NULL);
        END IF;
    END IF;

    -- One INSERT builds the headers (sql/statements/enqueue.sql).
    RETURN QUERY EXECUTE format('SELECT * FROM pgtq.%I($1, $2, $3, $4)', pgtq._statement(v.queue_id, 'enqueue'))
    USING delay, payloads, group_keys, headers;
END;
$$;
