-- complete(msg_ids, attempts) -> (done_ids bigint[], group_keys text[], group_ids bigint[])
--
-- pgtq.complete's batch, one statement: deletes the tasks whose lease token still matches (read_ct =
-- attempt, status processing; the DELETE re-checks both on the latest row version after waiting for a
-- concurrent reader's row lock, so a task re-read by someone else meanwhile is left alone: lease lost) and
-- archives every deleted row with status completed. Returns the completed ids, and for the grouped ones their
-- groups (sorted by group key, for the group bookkeeping that follows).
CREATE FUNCTION pgtq.{{fn}}(msg_ids bigint[], attempts integer[],
                          OUT done_ids bigint[], OUT group_keys text[], OUT group_ids bigint[])
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET search_path = pg_catalog, pg_temp
AS $body$
BEGIN
    WITH d AS (
        DELETE FROM pgmq.{{q}} q USING unnest(msg_ids, attempts) AS u (id, att)
        WHERE q.msg_id = u.id AND q.read_ct = u.att AND (q.headers->>'x-pgtq-status') = 'processing'
        RETURNING q.*
    ), a AS (
        INSERT INTO pgmq.{{a}} (msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers)
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
$body$;
