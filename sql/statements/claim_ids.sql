-- claim_ids(ids, lease_seconds, lifo) RETURNS SETOF pgtq.task
--
-- pgtq.read's grouped claim of the tasks it has locked (lock_ids) and whose groups it has marked busy: the
-- same lease, attempt and status as the plain claim, and the same lost-lease accounting for a task still in
-- status processing (its lease expired with no recorded outcome). Returned FIFO or LIFO by msg_id.
CREATE FUNCTION pgtq.{{fn}}(ids bigint[], lease_seconds integer, lifo boolean)
RETURNS SETOF pgtq.task
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET search_path = pg_catalog, pg_temp
AS $body$
BEGIN
    RETURN QUERY
    WITH u AS (
        UPDATE pgmq.{{q}} q SET vt = clock_timestamp() + make_interval(secs => lease_seconds),
            read_ct = q.read_ct + 1, last_read_at = clock_timestamp(),
            headers = CASE WHEN q.read_ct > 0 AND (q.headers->>'x-pgtq-status') = 'processing'
                           THEN pgtq._lease_lost(q.headers, q.read_ct) ELSE coalesce(q.headers, '{}') END
                      || jsonb_build_object('x-pgtq-status', 'processing',
                             'x-pgtq-task-id', coalesce(q.headers->>'x-pgtq-task-id', gen_random_uuid()::text))
        WHERE q.msg_id = ANY (ids)
        RETURNING q.msg_id, q.read_ct, q.headers->>'x-pgtq-task-id' AS task_id,
                  q.headers->>'x-pgmq-group' AS group_key, q.enqueued_at, q.vt, q.message, q.headers
    )
    SELECT u.msg_id, u.read_ct, u.task_id, u.group_key, u.enqueued_at, u.vt, u.message, u.headers FROM u
    ORDER BY CASE WHEN lifo THEN -u.msg_id ELSE u.msg_id END;
END;
$body$;
