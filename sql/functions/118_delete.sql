-- pgmq.delete: removes messages from a queue for good (no archive).
--
-- delete(queue_name text, msg_id bigint) RETURNS boolean: true if the message existed, false otherwise.
-- delete(queue_name text, msg_ids bigint[]) RETURNS SETOF bigint: the ids that existed and were deleted,
--   ascending.
-- No visibility or ownership check (as in pgmq). Raises P0001 for invalid names, 42P01 for unknown queues.

CREATE OR REPLACE FUNCTION pgmq.delete(queue_name text, msg_ids bigint[])
RETURNS SETOF bigint
LANGUAGE plpgsql
AS $$
DECLARE
    v_qtable text := pgmq.format_table_name(queue_name, 'q');
BEGIN
    -- Ascending ids, so callers (and pgmq's tests, which compare arrays) see a stable order.
    RETURN QUERY EXECUTE format(
        $sql$
        WITH deleted AS (
            DELETE FROM pgmq.%I WHERE msg_id = ANY($1) RETURNING msg_id
        )
        SELECT msg_id FROM deleted ORDER BY msg_id
        $sql$,
        v_qtable
    ) USING msg_ids;
END;
$$;

CREATE OR REPLACE FUNCTION pgmq.delete(queue_name text, msg_id bigint)
RETURNS boolean
LANGUAGE plpgsql
AS $$
DECLARE
    v_qtable text := pgmq.format_table_name(queue_name, 'q');
    v_deleted bigint;
BEGIN
    EXECUTE format('DELETE FROM pgmq.%I WHERE msg_id = $1 RETURNING msg_id', v_qtable)
        INTO v_deleted
        USING msg_id;
    RETURN v_deleted IS NOT NULL;
END;
$$;
