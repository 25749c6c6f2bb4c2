-- pgmq.list_queues() RETURNS SETOF pgmq.queue_record
--
-- One row per pgmq.meta entry (name as given, is_partitioned, is_unlogged, created_at), ordered by name.
-- Raises nothing.

CREATE OR REPLACE FUNCTION pgmq.list_queues()
RETURNS SETOF pgmq.queue_record
LANGUAGE sql
STABLE
AS $$
    SELECT m.queue_name, m.is_partitioned, m.is_unlogged, m.created_at
    FROM pgmq.meta m
    ORDER BY m.queue_name;
$$;
