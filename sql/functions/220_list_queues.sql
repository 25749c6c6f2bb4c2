-- pgtq.list_queues() RETURNS SETOF pgtq.stats
--
-- The stats of every registered task queue (pgtq.queues), by queue name, in one call: for each queue the
-- counts of pgtq.stats (queued, delayed, processing, retrying, dlq, archived, oldest queued age in seconds) and
-- paused (pgtq.pause). pgmq queues that are not registered task queues (dead-letter queues, plain pgmq.create
-- queues nobody registered) are not listed. Scans every queue table: meant for dashboards, not hot paths.
-- Raises nothing of its own.

CREATE OR REPLACE FUNCTION pgtq.list_queues()
RETURNS SETOF pgtq.stats
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY
    SELECT s.*
    FROM pgtq.queues q
    CROSS JOIN LATERAL pgtq.stats(q.queue_name) s
    ORDER BY q.queue_name;
END;
$$;
