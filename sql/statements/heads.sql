-- heads(group_keys, msg_ids) -> (keys text[], ids bigint[], heads bigint[])
--
-- For the group bookkeeping after tasks left a group (pgtq._groups_done): per given (group, task) pair,
-- sorted by group key so that concurrent callers lock shared group rows in one order, the group's oldest
-- remaining task (one index probe each): the new head_msg_id ordering hint; NULL means the group looks empty.
-- Pairs with a NULL group key (ungrouped tasks) are skipped.
CREATE FUNCTION pgtq.{{fn}}(group_keys text[], msg_ids bigint[], OUT keys text[], OUT ids bigint[], OUT heads bigint[])
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET search_path = pg_catalog, pg_temp
AS $body$
BEGIN
    SELECT array_agg(u.k ORDER BY u.k), array_agg(u.id ORDER BY u.k),
           array_agg((SELECT m.msg_id FROM pgmq.{{q}} m WHERE (m.headers->>'x-pgmq-group') = u.k
                      ORDER BY m.msg_id LIMIT 1) ORDER BY u.k)
    INTO keys, ids, heads
    FROM unnest(group_keys, msg_ids) AS u (k, id)
    WHERE u.k IS NOT NULL;
END;
$body$;
