-- pgmq.create_unlogged(queue_name text) RETURNS void
--
-- Creates a queue whose queue table is UNLOGGED (faster, emptied after a crash); the archive stays logged.
-- pgmq.meta records is_unlogged = true. Idempotent. Raises P0001 for invalid or too long names.

CREATE OR REPLACE FUNCTION pgmq.create_unlogged(queue_name text)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM pgmq._create_queue(queue_name, true);
END;
$$;
