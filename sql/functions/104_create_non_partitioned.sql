-- pgmq.create_non_partitioned(queue_name text) RETURNS void
--
-- Creates a logged queue (pgmq.q_<name>, pgmq.a_<name>, indexes, pgmq.meta row). Idempotent: a repeat
-- emits "relation ... already exists, skipping" NOTICEs. Raises P0001 for invalid or too long names.

CREATE OR REPLACE FUNCTION pgmq.create_non_partitioned(queue_name text)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM pgmq._create_queue(queue_name, false);
END;
$$;
