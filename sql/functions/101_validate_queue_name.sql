-- pgmq.validate_queue_name(queue_name text) RETURNS void
--
-- Rejects names longer than 47 characters: the longest table PostgreSQL derives from a queue is
-- template_pgmq_q_<name> (16 + 47 = 63, the identifier limit). Counts characters, not bytes, as pgmq does.
-- Raises P0001 'queue name is too long, maximum length is 47 characters'. Invalid characters are checked
-- by pgmq.format_table_name.

CREATE OR REPLACE FUNCTION pgmq.validate_queue_name(queue_name text)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    IF length(queue_name) > 47 THEN
        RAISE EXCEPTION 'queue name is too long, maximum length is 47 characters';
    END IF;
END;
$$;
