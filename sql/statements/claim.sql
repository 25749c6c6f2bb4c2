-- claim(qty, lease_seconds, max_lost_leases, concurrency_limit, lifo, as_of) RETURNS SETOF pgtq.task
--
-- pgtq.read's plain claim, one statement: lock the next visible tasks (FIFO by msg_id, or LIFO), SKIP
-- LOCKED, and claim them: lease (vt), attempt (read_ct + 1), status processing, a task id for messages a plain
-- pgmq.send left without one. A visible task still in status processing lost its lease (its worker recorded
-- no outcome): the claim counts it in x-pgtq-lost-leases and logs a lease_expired entry; a task whose lost
-- leases reach max_lost_leases is not claimed but returned with task_id NULL, still locked, for the caller to
-- dead-letter. (read_ct > 0 first: a task never read cannot have lost a lease, and the burn-down of fresh
-- tasks then never parses the headers for it.)
-- With a concurrency limit, LIMIT also subtracts the queue's live leases: the count shares the claim's
-- snapshot, taken after the caller's advisory lock (it is an InitPlan of the ELSE branch, evaluated only with
-- a limit). as_of is the caller's clock_timestamp(), a parameter so that vt is an index condition of that
-- count. The claimed ids go through = ANY (ARRAY(...)), not a join: the planner cannot know the computed
-- limit, guesses 10% of the table and would merge-join along the whole pkey.
CREATE FUNCTION pgtq.{{fn}}(qty integer, lease_seconds integer, max_lost_leases integer, concurrency_limit integer,
                          lifo boolean, as_of timestamptz)
RETURNS SETOF pgtq.task
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET search_path = pg_catalog, pg_temp
AS $body$
BEGIN
    IF lifo THEN
        RETURN QUERY
        WITH c AS (
            SELECT m.msg_id, m.read_ct,
                   coalesce(m.read_ct > 0 AND (m.headers->>'x-pgtq-status') = 'processing'
                            AND pgtq._lost_leases(m.headers) + 1 >= max_lost_leases, false) AS dead
            FROM pgmq.{{q}} m WHERE m.vt <= clock_timestamp()
            ORDER BY m.msg_id DESC
            LIMIT CASE WHEN concurrency_limit IS NULL THEN qty
                       ELSE greatest(0, least(qty, concurrency_limit - (
                           SELECT count(*) FROM pgmq.{{q}} b
                           WHERE (b.headers->>'x-pgtq-status') IN ('processing', 'retrying')
                             AND (b.headers->>'x-pgtq-status') = 'processing' AND b.vt > as_of))) END
            FOR UPDATE SKIP LOCKED
        ), u AS (
            UPDATE pgmq.{{q}} q SET vt = clock_timestamp() + make_interval(secs => lease_seconds),
                read_ct = q.read_ct + 1, last_read_at = clock_timestamp(),
                headers = CASE WHEN q.read_ct > 0 AND (q.headers->>'x-pgtq-status') = 'processing'
                               THEN pgtq._lease_lost(q.headers, q.read_ct) ELSE coalesce(q.headers, '{}') END
                          || jsonb_build_object('x-pgtq-status', 'processing',
                                 'x-pgtq-task-id', coalesce(q.headers->>'x-pgtq-task-id', gen_random_uuid()::text))
            WHERE q.msg_id = ANY (ARRAY(SELECT c.msg_id FROM c WHERE NOT c.dead))
            RETURNING q.msg_id, q.read_ct, q.headers->>'x-pgtq-task-id' AS task_id,
                      q.headers->>'x-pgmq-group' AS group_key, q.enqueued_at, q.vt, q.message, q.headers
        )
        SELECT u.msg_id, u.read_ct, u.task_id, u.group_key, u.enqueued_at, u.vt, u.message, u.headers FROM u
        UNION ALL
        SELECT c.msg_id, c.read_ct, NULL, NULL, NULL, NULL, NULL, NULL FROM c WHERE c.dead
        ORDER BY 1 DESC;
    ELSE
        RETURN QUERY
        WITH c AS (
            SELECT m.msg_id, m.read_ct,
                   coalesce(m.read_ct > 0 AND (m.headers->>'x-pgtq-status') = 'processing'
                            AND pgtq._lost_leases(m.headers) + 1 >= max_lost_leases, false) AS dead
            FROM pgmq.{{q}} m WHERE m.vt <= clock_timestamp()
            ORDER BY m.msg_id ASC
            LIMIT CASE WHEN concurrency_limit IS NULL THEN qty
                       ELSE greatest(0, least(qty, concurrency_limit - (
                           SELECT count(*) FROM pgmq.{{q}} b
                           WHERE (b.headers->>'x-pgtq-status') IN ('processing', 'retrying')
                             AND (b.headers->>'x-pgtq-status') = 'processing' AND b.vt > as_of))) END
            FOR UPDATE SKIP LOCKED
        ), u AS (
            UPDATE pgmq.{{q}} q SET vt = clock_timestamp() + make_interval(secs => lease_seconds),
                read_ct = q.read_ct + 1, last_read_at = clock_timestamp(),
                headers = CASE WHEN q.read_ct > 0 AND (q.headers->>'x-pgtq-status') = 'processing'
                               THEN pgtq._lease_lost(q.headers, q.read_ct) ELSE coalesce(q.headers, '{}') END
                          || jsonb_build_object('x-pgtq-status', 'processing',
                                 'x-pgtq-task-id', coalesce(q.headers->>'x-pgtq-task-id', gen_random_uuid()::text))
            WHERE q.msg_id = ANY (ARRAY(SELECT c.msg_id FROM c WHERE NOT c.dead))
            RETURNING q.msg_id, q.read_ct, q.headers->>'x-pgtq-task-id' AS task_id,
                      q.headers->>'x-pgmq-group' AS group_key, q.enqueued_at, q.vt, q.message, q.headers
        )
        SELECT u.msg_id, u.read_ct, u.task_id, u.group_key, u.enqueued_at, u.vt, u.message, u.headers FROM u
        UNION ALL
        SELECT c.msg_id, c.read_ct, NULL, NULL, NULL, NULL, NULL, NULL FROM c WHERE c.dead
        ORDER BY 1 ASC;
    END IF;
END;
$body$;
