-- in_flight(as_of timestamptz) RETURNS bigint
--
-- The number of the queue's tasks in status processing whose lease is still live at as_of (the caller's
-- clock_timestamp(), a parameter so that vt is an index condition): what a concurrency limit counts. The
-- status test repeats the partial index's own predicate so that the index over busy tasks (processing and
-- retrying) qualifies whatever the statistics: O(in flight), not O(backlog).
CREATE FUNCTION pgtq.{{fn}}(as_of timestamptz)
RETURNS bigint
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET search_path = pg_catalog, pg_temp
AS $body$
BEGIN
    RETURN (SELECT count(*) FROM pgmq.{{q}} m
            WHERE (m.headers->>'x-pgtq-status') IN ('processing', 'retrying')
              AND (m.headers->>'x-pgtq-status') = 'processing' AND m.vt > as_of);
END;
$body$;
