-- pgmq.create(queue_name text) RETURNS void
--
-- Creates a queue; same as pgmq.create_non_partitioned (partitioning needs pg_partman, which PGTQ does
-- not install). Idempotent, with "already exists, skipping" NOTICEs on repeat. Raises P0001 for invalid
-- or too long names.

CREATE OR REPLACE FUNCTION pgmq."create"(queue_name text)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM pgmq.create_non_partitioned(queue_name);
END;
$$;
