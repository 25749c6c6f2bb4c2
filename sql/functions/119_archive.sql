-- pgmq.archive: moves messages from pgmq.q_<name> to pgmq.a_<name> (archived_at = now()), atomically
-- (one DELETE ... RETURNING feeding one INSERT).
--
-- archive(queue_name text, msg_id bigint) RETURNS boolean: true if the message existed.
-- archive(queue_name text, msg_ids bigint[]) RETURNS SETOF bigint: the ids that existed and were archived,
--   ascending.
-- read_ct, enqueued_at, last_read_at, vt, message and headers are kept as they were.
-- Raises P0001 for invalid names, 42P01 for unknown queues.

CREATE OR REPLACE FUNCTION pgmq.archive(queue_name text, msg_ids bigint[])
RETURNS SETOF bigint
LANGUAGE plpgsql
AS $$
DECLARE
    v_qtable text := pgmq.format_table_name(queue_name, 'q');
    v_atable text := pgmq.format_table_name(queue_name, 'a');
BEGIN
    RETURN QUERY EXECUTE format(
        $sql$
        WITH archived AS (
            DELETE FROM pgmq.%I
            WHERE msg_id = ANY($1)
            RETURNING msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers
        ), inserted AS (
            INSERT INTO pgmq.%I (msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers)
            SELECT msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers
            FROM archived
            RETURNING msg_id
        )
        SELECT msg_id FROM inserted ORDER BY msg_id
        $sql$,
        v_qtable, v_atable
    ) USING msg_ids;
END;
$$;

CREATE OR REPLACE FUNCTION pgmq.archive(queue_name text, msg_id bigint)
RETURNS boolean
LANGUAGE plpgsql
AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM pgmq.archive(queue_name, ARRAY[msg_id]));
END;
$$;
