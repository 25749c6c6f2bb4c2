-- lock_ids(ids, need) -> (locked_ids bigint[], lost_after integer[])
--
-- pgtq.read's grouped path: locks (FOR UPDATE SKIP LOCKED) up to need of the candidate tasks ids that are
-- still visible, in the order of ids. lost_after[i] is, for a task still in status processing (its lease
-- expired with no recorded outcome), the number of lost leases it has once this read counts the current one;
-- NULL for a task that did not lose its lease. The caller dead-letters the tasks whose count reached its
-- max_lost_leases instead of claiming them.
CREATE FUNCTION pgtq.{{fn}}(ids bigint[], need integer, OUT locked_ids bigint[], OUT lost_after integer[])
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET search_path = pg_catalog, pg_temp
AS $body$
BEGIN
    SELECT coalesce(array_agg(s.msg_id), '{}'), coalesce(array_agg(s.lost), '{}')
    INTO locked_ids, lost_after
    FROM (
        SELECT m.msg_id,
               CASE WHEN m.read_ct > 0 AND (m.headers->>'x-pgtq-status') = 'processing'
                    THEN pgtq._lost_leases(m.headers) + 1 END AS lost
        FROM pgmq.{{q}} m
        WHERE m.msg_id = ANY (ids) AND m.vt <= clock_timestamp()
        ORDER BY array_position(ids, m.msg_id) LIMIT need
        FOR UPDATE SKIP LOCKED
    ) s;
END;
$body$;
