-- Per-queue statement functions (internal).
--
-- Every queue has its own tables, so the generic functions (pgtq.read, pgtq.complete, ...) can reach them only
-- through EXECUTE, and PostgreSQL plans an EXECUTEd statement on every call: planning was about a third of a
-- plain read and most of a grouped one. So the hot statements are written out once per queue, with the
-- queue's table names in them, as static SQL inside small PL/pgSQL functions, whose plans each session caches.
-- The generic functions call them through a one-line EXECUTE that is cheap to plan. The plans are generic
-- from the first call (plan_cache_mode): with its default, PostgreSQL kept re-planning the claim, whose
-- generic plan it costs higher than a custom one (it cannot know LIMIT qty), though the plan is the same
-- index walk either way; every statement here is written to be driven by an index whatever its parameters.
--
-- pgtq._statement(q_table text, stmt text) RETURNS text
--   The name of a queue's statement function: '_' || q_table || '_' || stmt (at most 61 characters).
--
-- pgtq._install_queue_statements(queue_name text) RETURNS void
--   (Re)creates the queue's statement functions (replacing other versions), executable by no role: only the
--   SECURITY DEFINER functions call them. Called when a queue is registered (pgtq._setup) and for every queue
--   after each migration of the functions (298_queue_statements.sql), so that they follow the code.
--     claim(qty, lease_seconds, max_attempts, concurrency_limit, lifo, as_of) SETOF pgtq.task
--         the plain read's claim; rows with task_id NULL are tasks at max_attempts, locked, to dead-letter
--     claim_ids(ids, lease_seconds, lifo) SETOF pgtq.task       claims the given (locked) tasks
--     lock_ids(ids, need) -> (locked_ids, read_cts)             locks visible tasks, in the order of ids
--     candidates(queue, n, lifo, lifo_keys, lifo_ids) -> (keys, expected, ids)   grouped read candidates
--     lifo_heads(queue, n) -> (scanned, keys, ids)              grouped LIFO idle-group heads
--     in_flight(as_of) bigint                                   processing tasks with a live lease
--     complete(msg_ids, attempts) -> (done_ids, group_keys, group_ids)   archives completed tasks
--     heads(group_keys, msg_ids) -> (keys, ids, heads)          each group's oldest remaining task
--     drop_empty(queue, keys) void                              deletes the (locked) group rows without tasks
--     enqueue(delay, payloads, group_keys, headers) SETOF bigint  pgtq.enqueue_batch's insert
--   What each statement does and why is explained at its caller (pgtq.read, pgtq.complete, pgtq._groups_done,
--   pgtq.enqueue_batch).
--
-- pgtq._queue_statements(queue_name text) RETURNS SETOF regprocedure
--   The queue's statement functions that exist (the list of names lives here only).
--
-- pgtq._drop_queue_statements(queue_name text) RETURNS void
--   Drops them (pgtq.drop_queue).

CREATE OR REPLACE FUNCTION pgtq._statement(q_table text, stmt text)
RETURNS text
LANGUAGE sql
IMMUTABLE
AS $$
    SELECT '_' || q_table || '_' || stmt;
$$;

CREATE OR REPLACE FUNCTION pgtq._queue_statements(queue_name text)
RETURNS SETOF regprocedure
LANGUAGE sql
STABLE
AS $$
    SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
    WHERE p.pronamespace = 'pgtq'::regnamespace
      AND p.proname = ANY (ARRAY(
          SELECT pgtq._statement('q_' || lower(queue_name), s) FROM unnest(ARRAY[
              'claim', 'claim_ids', 'lock_ids', 'candidates', 'lifo_heads', 'in_flight', 'complete', 'heads',
              'drop_empty', 'enqueue']) AS s));
$$;

CREATE OR REPLACE FUNCTION pgtq._drop_queue_statements(queue_name text)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    v_fn regprocedure;
BEGIN
    FOR v_fn IN SELECT * FROM pgtq._queue_statements(queue_name) LOOP
        EXECUTE format('DROP FUNCTION %s', v_fn);
    END LOOP;
END;
$$;

CREATE OR REPLACE FUNCTION pgtq._install_queue_statements(queue_name text)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    v_q text := 'q_' || lower(queue_name);
    v_a text := 'a_' || lower(queue_name);
    v_update text;
    v_returning text;
    v_directed text;
    v_claim text;
    v_cand text;
BEGIN
    PERFORM pgtq._drop_queue_statements(queue_name);

    -- The claim itself, shared by the plain and the grouped read: the lease, the attempt, the status.
    v_update := format($stmt$
            UPDATE pgmq.%I q SET vt = clock_timestamp() + make_interval(secs => lease_seconds),
                read_ct = q.read_ct + 1, last_read_at = clock_timestamp(),
                headers = coalesce(q.headers, '{}') || jsonb_build_object('x-pgtq-status', 'processing',
                    'x-pgtq-task-id', coalesce(q.headers->>'x-pgtq-task-id', gen_random_uuid()::text))
        $stmt$, v_q);
    v_returning := $stmt$
            RETURNING q.msg_id, q.read_ct, q.headers->>'x-pgtq-task-id' AS task_id,
                      q.headers->>'x-pgmq-group' AS group_key, q.enqueued_at, q.vt, q.message, q.headers
        $stmt$;
    -- A function returning tasks, with a FIFO and a LIFO form of its statement (%3$s, %4$s).
    v_directed := $fn$
        CREATE FUNCTION pgtq.%1$I(%2$s)
        RETURNS SETOF pgtq.task
        LANGUAGE plpgsql
        SET plan_cache_mode = force_generic_plan
        SET search_path = pg_catalog, pg_temp
        AS $body$
        BEGIN
            IF lifo THEN
                RETURN QUERY %3$s;
            ELSE
                RETURN QUERY %4$s;
            END IF;
        END;
        $body$
        $fn$;

    -- The plain claim, %1$s = direction (see pgtq.read). as_of is the caller's clock_timestamp(): a parameter
    -- makes vt an index condition of the limit's count (clock_timestamp() in a WHERE clause is not). The
    -- count is an InitPlan of the CASE's ELSE branch, evaluated only with a concurrency limit.
    v_claim := format($stmt$
        WITH c AS (
            SELECT m.msg_id, m.read_ct FROM pgmq.%2$I m WHERE m.vt <= clock_timestamp()
            ORDER BY m.msg_id %1$s
            LIMIT CASE WHEN concurrency_limit IS NULL THEN qty
                       ELSE greatest(0, least(qty, concurrency_limit - (
                           SELECT count(*) FROM pgmq.%2$I b
                           WHERE (b.headers->>'x-pgtq-status') IN ('processing', 'retrying')
                             AND (b.headers->>'x-pgtq-status') = 'processing' AND b.vt > as_of))) END
            FOR UPDATE SKIP LOCKED
        ), u AS (
            %3$s
            WHERE q.msg_id = ANY (ARRAY(SELECT c.msg_id FROM c WHERE max_attempts IS NULL OR c.read_ct < max_attempts))
            %4$s
        )
        SELECT u.msg_id, u.read_ct, u.task_id, u.group_key, u.enqueued_at, u.vt, u.message, u.headers FROM u
        UNION ALL
        SELECT c.msg_id, c.read_ct, NULL, NULL, NULL, NULL, NULL, NULL FROM c WHERE c.read_ct >= max_attempts
        ORDER BY 1 %1$s
        $stmt$, '%1$s', v_q, v_update, v_returning);
    EXECUTE format(v_directed, pgtq._statement(v_q, 'claim'),
                   'qty integer, lease_seconds integer, max_attempts integer, concurrency_limit integer, '
                   'lifo boolean, as_of timestamptz',
                   format(v_claim, 'DESC'), format(v_claim, 'ASC'));

    -- The grouped read's claim of the tasks it locked.
    v_claim := format($stmt$
        WITH u AS (
            %2$s
            WHERE q.msg_id = ANY (ids)
            %3$s
        )
        SELECT u.msg_id, u.read_ct, u.task_id, u.group_key, u.enqueued_at, u.vt, u.message, u.headers FROM u
        ORDER BY 1 %1$s
        $stmt$, '%1$s', v_update, v_returning);
    EXECUTE format(v_directed, pgtq._statement(v_q, 'claim_ids'), 'ids bigint[], lease_seconds integer, lifo boolean',
                   format(v_claim, 'DESC'), format(v_claim, 'ASC'));

    EXECUTE format($fn$
        CREATE FUNCTION pgtq.%1$I(ids bigint[], need integer, OUT locked_ids bigint[], OUT read_cts integer[])
        LANGUAGE plpgsql
        SET plan_cache_mode = force_generic_plan
        SET search_path = pg_catalog, pg_temp
        AS $body$
        BEGIN
            SELECT coalesce(array_agg(s.msg_id), '{}'), coalesce(array_agg(s.read_ct), '{}')
            INTO locked_ids, read_cts
            FROM (
                SELECT m.msg_id, m.read_ct FROM pgmq.%2$I m
                WHERE m.msg_id = ANY (ids) AND m.vt <= clock_timestamp()
                ORDER BY array_position(ids, m.msg_id) LIMIT need
                FOR UPDATE SKIP LOCKED
            ) s;
        END;
        $body$
        $fn$, pgtq._statement(v_q, 'lock_ids'), v_q);

    -- Grouped candidates, %1$s = direction, %2$s = the idle groups' heads (see pgtq.read).
    v_cand := format($stmt$
        SELECT coalesce(array_agg(numbered.group_key ORDER BY numbered.ord), '{}'),
               coalesce(array_agg(numbered.expected_busy ORDER BY numbered.ord), '{}'),
               coalesce(array_agg(numbered.msg_id ORDER BY numbered.ord), '{}')
        FROM (SELECT row_number() OVER (ORDER BY sorted.msg_id %%1$s) AS ord, sorted.* FROM (SELECT * FROM (
            %%2$s
          UNION ALL
            SELECT g.group_key, g.busy_msg_id, m.msg_id
            FROM pgtq.groups g
            JOIN pgmq.%1$I m ON m.msg_id = g.busy_msg_id
            WHERE g.queue_name = queue AND g.busy_msg_id IS NOT NULL AND m.vt <= clock_timestamp()
          UNION ALL
            SELECT g.group_key, g.busy_msg_id, h.msg_id
            FROM pgtq.groups g
            CROSS JOIN LATERAL (
                SELECT m.msg_id FROM pgmq.%1$I m
                WHERE (m.headers->>'x-pgmq-group') = g.group_key AND m.vt <= clock_timestamp()
                ORDER BY m.msg_id %%1$s LIMIT 1
            ) h
            WHERE g.queue_name = queue AND g.busy_msg_id IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM pgmq.%1$I b WHERE b.msg_id = g.busy_msg_id)
          UNION ALL
            (SELECT NULL::text, NULL::bigint, m.msg_id FROM pgmq.%1$I m
             WHERE (m.headers->>'x-pgmq-group') IS NULL AND m.vt <= clock_timestamp()
             ORDER BY m.msg_id %%1$s LIMIT n)
        ) cand (group_key, expected_busy, msg_id)
        ORDER BY cand.msg_id %%1$s
        LIMIT n) sorted) numbered
        $stmt$, v_q);
    EXECUTE format($fn$
        CREATE FUNCTION pgtq.%1$I(queue text, n integer, lifo boolean, lifo_keys text[], lifo_ids bigint[],
                                  OUT keys text[], OUT expected bigint[], OUT ids bigint[])
        LANGUAGE plpgsql
        SET plan_cache_mode = force_generic_plan
        SET search_path = pg_catalog, pg_temp
        AS $body$
        BEGIN
            IF lifo THEN
                %2$s INTO keys, expected, ids;
            ELSE
                %3$s INTO keys, expected, ids;
            END IF;
        END;
        $body$
        $fn$, pgtq._statement(v_q, 'candidates'),
        format(v_cand, 'DESC',
               'SELECT x.k, NULL::bigint, x.id FROM unnest(lifo_keys, lifo_ids) AS x (k, id)'),
        format(v_cand, 'ASC', format($idle$
            (SELECT g.group_key, NULL::bigint, h.msg_id
             FROM pgtq.groups g
             CROSS JOIN LATERAL (
                 SELECT m.msg_id FROM pgmq.%1$I m
                 WHERE (m.headers->>'x-pgmq-group') = g.group_key AND m.vt <= clock_timestamp()
                 ORDER BY m.msg_id LIMIT 1
             ) h
             WHERE g.queue_name = queue AND g.busy_msg_id IS NULL
             ORDER BY g.head_msg_id LIMIT n)
            $idle$, v_q)));

    EXECUTE format($fn$
        CREATE FUNCTION pgtq.%1$I(queue text, n integer, OUT scanned bigint, OUT keys text[], OUT ids bigint[])
        LANGUAGE plpgsql
        SET plan_cache_mode = force_generic_plan
        SET search_path = pg_catalog, pg_temp
        AS $body$
        BEGIN
            WITH w AS (
                SELECT m.msg_id, m.headers->>'x-pgmq-group' AS grp FROM pgmq.%2$I m
                WHERE (m.headers->>'x-pgmq-group') IS NOT NULL AND m.vt <= clock_timestamp()
                ORDER BY m.msg_id DESC LIMIT n * 20
            ), newest AS (
                SELECT DISTINCT ON (w.grp) w.grp, w.msg_id FROM w ORDER BY w.grp, w.msg_id DESC
            ), heads AS (
                SELECT nw.grp, nw.msg_id
                FROM newest nw
                CROSS JOIN LATERAL (
                    SELECT 1 FROM pgtq.groups g
                    WHERE g.queue_name = queue AND g.group_key = nw.grp AND g.busy_msg_id IS NULL
                    LIMIT 1
                ) idle
            )
            SELECT (SELECT count(*) FROM w), coalesce(array_agg(h.grp ORDER BY h.msg_id DESC), '{}'),
                   coalesce(array_agg(h.msg_id ORDER BY h.msg_id DESC), '{}')
            INTO scanned, keys, ids
            FROM heads h;
            IF scanned = n * 20 AND cardinality(ids) < n THEN
                SELECT coalesce(array_agg(g.group_key ORDER BY h.msg_id DESC), '{}'),
                       coalesce(array_agg(h.msg_id ORDER BY h.msg_id DESC), '{}')
                INTO keys, ids
                FROM pgtq.groups g
                CROSS JOIN LATERAL (
                    SELECT m.msg_id FROM pgmq.%2$I m
                    WHERE (m.headers->>'x-pgmq-group') = g.group_key AND m.vt <= clock_timestamp()
                    ORDER BY m.msg_id DESC LIMIT 1
                ) h
                WHERE g.queue_name = queue AND g.busy_msg_id IS NULL;
            END IF;
        END;
        $body$
        $fn$, pgtq._statement(v_q, 'lifo_heads'), v_q);

    EXECUTE format($fn$
        CREATE FUNCTION pgtq.%1$I(as_of timestamptz)
        RETURNS bigint
        LANGUAGE plpgsql
        SET plan_cache_mode = force_generic_plan
        SET search_path = pg_catalog, pg_temp
        AS $body$
        BEGIN
            RETURN (SELECT count(*) FROM pgmq.%2$I m
                    WHERE (m.headers->>'x-pgtq-status') IN ('processing', 'retrying')
                      AND (m.headers->>'x-pgtq-status') = 'processing' AND m.vt > as_of);
        END;
        $body$
        $fn$, pgtq._statement(v_q, 'in_flight'), v_q);

    EXECUTE format($fn$
        CREATE FUNCTION pgtq.%1$I(msg_ids bigint[], attempts integer[],
                                  OUT done_ids bigint[], OUT group_keys text[], OUT group_ids bigint[])
        LANGUAGE plpgsql
        SET plan_cache_mode = force_generic_plan
        SET search_path = pg_catalog, pg_temp
        AS $body$
        BEGIN
            WITH d AS (
                DELETE FROM pgmq.%2$I q USING unnest(msg_ids, attempts) AS u (id, att)
                WHERE q.msg_id = u.id AND q.read_ct = u.att AND (q.headers->>'x-pgtq-status') = 'processing'
                RETURNING q.*
            ), a AS (
                INSERT INTO pgmq.%3$I (msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers)
                SELECT d.msg_id, d.read_ct, d.enqueued_at, d.last_read_at, d.vt, d.message,
                       d.headers || '{"x-pgtq-status": "completed"}'
                FROM d
                RETURNING msg_id AS id, headers->>'x-pgmq-group' AS grp
            )
            SELECT coalesce(array_agg(a.id ORDER BY a.id), '{}'),
                   array_agg(a.grp ORDER BY a.grp, a.id) FILTER (WHERE a.grp IS NOT NULL),
                   array_agg(a.id ORDER BY a.grp, a.id) FILTER (WHERE a.grp IS NOT NULL)
            INTO done_ids, group_keys, group_ids
            FROM a;
        END;
        $body$
        $fn$, pgtq._statement(v_q, 'complete'), v_q, v_a);

    EXECUTE format($fn$
        CREATE FUNCTION pgtq.%1$I(group_keys text[], msg_ids bigint[], OUT keys text[], OUT ids bigint[], OUT heads bigint[])
        LANGUAGE plpgsql
        SET plan_cache_mode = force_generic_plan
        SET search_path = pg_catalog, pg_temp
        AS $body$
        BEGIN
            SELECT array_agg(u.k ORDER BY u.k), array_agg(u.id ORDER BY u.k),
                   array_agg((SELECT m.msg_id FROM pgmq.%2$I m WHERE (m.headers->>'x-pgmq-group') = u.k
                              ORDER BY m.msg_id LIMIT 1) ORDER BY u.k)
            INTO keys, ids, heads
            FROM unnest(group_keys, msg_ids) AS u (k, id)
            WHERE u.k IS NOT NULL;
        END;
        $body$
        $fn$, pgtq._statement(v_q, 'heads'), v_q);

    -- Identities are drawn in ORDER BY i order, so sorting by msg_id returns them in payload order. The
    -- caller's headers were validated by pgtq.enqueue_batch; pgtq._new_task_headers is inlined, not called
    -- per task.
    EXECUTE format($fn$
        CREATE FUNCTION pgtq.%1$I(delay integer, payloads jsonb[], group_keys text[], headers jsonb[])
        RETURNS SETOF bigint
        LANGUAGE plpgsql
        SET plan_cache_mode = force_generic_plan
        SET search_path = pg_catalog, pg_temp
        AS $body$
        BEGIN
            RETURN QUERY
            WITH ins AS (
                INSERT INTO pgmq.%2$I (vt, message, headers)
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
        $body$
        $fn$, pgtq._statement(v_q, 'enqueue'), v_q);

    EXECUTE format($fn$
        CREATE FUNCTION pgtq.%1$I(queue text, keys text[])
        RETURNS void
        LANGUAGE plpgsql
        SET plan_cache_mode = force_generic_plan
        SET search_path = pg_catalog, pg_temp
        AS $body$
        BEGIN
            DELETE FROM pgtq.groups g
            WHERE g.queue_name = queue AND g.group_key = ANY (keys)
              AND NOT EXISTS (SELECT 1 FROM pgmq.%2$I m WHERE (m.headers->>'x-pgmq-group') = g.group_key);
        END;
        $body$
        $fn$, pgtq._statement(v_q, 'drop_empty'), v_q);

    -- Like every pgtq._* helper: executable only through the SECURITY DEFINER functions.
    EXECUTE (
        SELECT string_agg(format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f), '; ')
        FROM pgtq._queue_statements(queue_name) AS f);
END;
$$;
