-- pgmq.acquire_queue_lock(queue_name text) RETURNS void
--
-- Takes a transaction-scoped advisory lock on hashtext('pgmq.queue_' || queue_name), released at commit or
-- rollback. Serialises create* and drop_queue of one name. The key is the name as given (case kept).
-- Raises nothing of its own.

CREATE OR REPLACE FUNCTION pgmq.acquire_queue_lock(queue_name text)
RETURNS void
LANGUAGE sql
AS $$
    SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('pgmq.queue_' || queue_name));
$$;
