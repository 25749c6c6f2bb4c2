-- enqueue(delay, payloads, group_keys, headers) RETURNS SETOF bigint
--
-- pgtq.enqueue_batch's insert, one statement: task i gets payloads[i], group_keys[i] (or, when that is NULL,
-- a string x-pgmq-group of headers[i]) and the new-task headers (pgtq._new_task_headers, inlined: not called
-- per row). The caller validated the headers. Identities are drawn in ORDER BY i order, so the msg_ids,
-- returned ascending, are in payload order.
CREATE FUNCTION pgtq.{{fn}}(delay integer, payloads jsonb[], group_keys text[], headers jsonb[])
RETURNS SETOF bigint
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET search_path = pg_catalog, pg_temp
AS $body$
BEGIN
    RETURN QUERY
    WITH ins AS (
        INSERT INTO pgmq.{{q}} (vt, message, headers)
        SELECT clock_timestamp() + make_interval(secs => delay), u.p, pgtq._new_task_headers(u.h, x.g, NULL)
        FROM unnest(payloads, group_keys, headers) WITH ORDINALITY AS u (p, g, h, i)
        CROSS JOIN LATERAL (
            SELECT coalesce(u.g, CASE WHEN jsonb_typeof(u.h->'x-pgmq-group') = 'string'
                                      THEN u.h->>'x-pgmq-group' END) AS g
        ) x
        ORDER BY u.i
        RETURNING msg_id
    )
    SELECT ins.msg_id FROM ins ORDER BY 1;
END;
$body$;
