-- candidates(queue, n, lifo, lifo_keys, lifo_ids) -> (keys text[], expected bigint[], ids bigint[])
--
-- pgtq.read's grouped candidates, the best n by msg_id (FIFO ascending, LIFO descending), never a backlog
-- scan. For each: its group key (NULL = ungrouped), the busy_msg_id its group row had when seen (NULL = idle;
-- the caller re-checks it under the group row lock) and the task's msg_id. Four sources:
--   * idle groups' heads: FIFO walks the idle groups in head_msg_id order (an ordering hint) and probes each
--     group's oldest visible task, stopping after n: O(n), not O(idle groups); LIFO passes the heads that
--     lifo_heads found (lifo_keys, lifo_ids);
--   * busy groups whose own busy task is visible again (lease expired, retry due): redelivered first, as
--     nothing else of that group may start;
--   * busy groups whose busy task was removed behind pgtq's back (pgmq.delete): their head, to heal them;
--   * visible ungrouped tasks.
CREATE FUNCTION pgtq.{{fn}}(queue text, n integer, lifo boolean, lifo_keys text[], lifo_ids bigint[],
                          OUT keys text[], OUT expected bigint[], OUT ids bigint[])
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET search_path = pg_catalog, pg_temp
AS $body$
BEGIN
    IF lifo THEN
        SELECT coalesce(array_agg(numbered.group_key ORDER BY numbered.ord), '{}'),
               coalesce(array_agg(numbered.expected_busy ORDER BY numbered.ord), '{}'),
               coalesce(array_agg(numbered.msg_id ORDER BY numbered.ord), '{}')
        INTO keys, expected, ids
        FROM (SELECT row_number() OVER (ORDER BY sorted.msg_id DESC) AS ord, sorted.* FROM (SELECT * FROM (
            SELECT x.k, NULL::bigint, x.id FROM unnest(lifo_keys, lifo_ids) AS x (k, id)
          UNION ALL
            SELECT g.group_key, g.busy_msg_id, m.msg_id
            FROM pgtq.groups g
            JOIN pgmq.{{q}} m ON m.msg_id = g.busy_msg_id
            WHERE g.queue_name = queue AND g.busy_msg_id IS NOT NULL AND m.vt <= clock_timestamp()
          UNION ALL
            SELECT g.group_key, g.busy_msg_id, h.msg_id
            FROM pgtq.groups g
            CROSS JOIN LATERAL (
                SELECT m.msg_id FROM pgmq.{{q}} m
                WHERE (m.headers->>'x-pgmq-group') = g.group_key AND m.vt <= clock_timestamp()
                ORDER BY m.msg_id DESC LIMIT 1
            ) h
            WHERE g.queue_name = queue AND g.busy_msg_id IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM pgmq.{{q}} b WHERE b.msg_id = g.busy_msg_id)
          UNION ALL
            (SELECT NULL::text, NULL::bigint, m.msg_id FROM pgmq.{{q}} m
             WHERE (m.headers->>'x-pgmq-group') IS NULL AND m.vt <= clock_timestamp()
             ORDER BY m.msg_id DESC LIMIT n)
        ) cand (group_key, expected_busy, msg_id)
        ORDER BY cand.msg_id DESC
        LIMIT n) sorted) numbered;
    ELSE
        SELECT coalesce(array_agg(numbered.group_key ORDER BY numbered.ord), '{}'),
               coalesce(array_agg(numbered.expected_busy ORDER BY numbered.ord), '{}'),
               coalesce(array_agg(numbered.msg_id ORDER BY numbered.ord), '{}')
        INTO keys, expected, ids
        FROM (SELECT row_number() OVER (ORDER BY sorted.msg_id ASC) AS ord, sorted.* FROM (SELECT * FROM (
            (SELECT g.group_key, NULL::bigint, h.msg_id
             FROM pgtq.groups g
             CROSS JOIN LATERAL (
                 SELECT m.msg_id FROM pgmq.{{q}} m
                 WHERE (m.headers->>'x-pgmq-group') = g.group_key AND m.vt <= clock_timestamp()
                 ORDER BY m.msg_id LIMIT 1
             ) h
             WHERE g.queue_name = queue AND g.busy_msg_id IS NULL
             ORDER BY g.head_msg_id LIMIT n)
          UNION ALL
            SELECT g.group_key, g.busy_msg_id, m.msg_id
            FROM pgtq.groups g
            JOIN pgmq.{{q}} m ON m.msg_id = g.busy_msg_id
            WHERE g.queue_name = queue AND g.busy_msg_id IS NOT NULL AND m.vt <= clock_timestamp()
          UNION ALL
            SELECT g.group_key, g.busy_msg_id, h.msg_id
            FROM pgtq.groups g
            CROSS JOIN LATERAL (
                SELECT m.msg_id FROM pgmq.{{q}} m
                WHERE (m.headers->>'x-pgmq-group') = g.group_key AND m.vt <= clock_timestamp()
                ORDER BY m.msg_id ASC LIMIT 1
            ) h
            WHERE g.queue_name = queue AND g.busy_msg_id IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM pgmq.{{q}} b WHERE b.msg_id = g.busy_msg_id)
          UNION ALL
            (SELECT NULL::text, NULL::bigint, m.msg_id FROM pgmq.{{q}} m
             WHERE (m.headers->>'x-pgmq-group') IS NULL AND m.vt <= clock_timestamp()
             ORDER BY m.msg_id ASC LIMIT n)
        ) cand (group_key, expected_busy, msg_id)
        ORDER BY cand.msg_id ASC
        LIMIT n) sorted) numbered;
    END IF;
END;
$body$;
