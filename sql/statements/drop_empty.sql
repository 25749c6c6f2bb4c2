-- drop_empty(queue, keys) RETURNS void
--
-- Deletes the group rows of keys (which the caller has locked FOR UPDATE, see pgtq._groups_done) that still
-- have no task in the queue table: the emptiness re-check runs in this new statement, whose snapshot sees
-- every inserter that committed before the lock was granted.
CREATE FUNCTION pgtq.{{fn}}(queue text, keys text[])
RETURNS void
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET search_path = pg_catalog, pg_temp
AS $body$
BEGIN
    DELETE FROM pgtq.groups g
    WHERE g.queue_name = queue AND g.group_key = ANY (keys)
      AND NOT EXISTS (SELECT 1 FROM pgmq.{{q}} m WHERE (m.headers->>'x-pgmq-group') = g.group_key);
END;
$body$;
