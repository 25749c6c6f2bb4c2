-- pgmq.set_vt: changes when messages become visible, without touching read_ct or last_read_at.
--
-- set_vt(queue_name text, msg_id bigint, vt integer)        vt seconds from clock_timestamp()
-- set_vt(queue_name text, msg_id bigint, vt timestamptz)    absolute time
-- set_vt(queue_name text, msg_ids bigint[], vt integer)
-- set_vt(queue_name text, msg_ids bigint[], vt timestamptz)
-- All RETURN SETOF pgmq.message_record: the updated rows; unknown ids are skipped (empty set). No
-- ownership or visibility check, as in pgmq. The (msg_ids, timestamptz) form is the one implementation.
-- Raises P0001 for invalid names, 42P01 for unknown queues.

CREATE OR REPLACE FUNCTION pgmq.set_vt(queue_name text, msg_ids bigint[], vt timestamptz)
RETURNS SETOF pgmq.message_record
LANGUAGE plpgsql
AS $$
DECLARE
    v_qtable text := pgmq.format_table_name(queue_name, 'q');
BEGIN
    RETURN QUERY EXECUTE format(
        $sql$
        WITH updated AS (
            UPDATE pgmq.%I
            SET vt = $2
            WHERE msg_id = ANY($1)
            RETURNING msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers
        )
        SELECT * FROM updated ORDER BY msg_id
        $sql$,
        v_qtable
    ) USING msg_ids, vt;
END;
$$;

CREATE OR REPLACE FUNCTION pgmq.set_vt(queue_name text, msg_ids bigint[], vt integer)
RETURNS SETOF pgmq.message_record
LANGUAGE sql
AS $$
    SELECT * FROM pgmq.set_vt(queue_name, msg_ids, clock_timestamp() + make_interval(secs => vt));
$$;

CREATE OR REPLACE FUNCTION pgmq.set_vt(queue_name text, msg_id bigint, vt timestamptz)
RETURNS SETOF pgmq.message_record
LANGUAGE sql
AS $$
    SELECT * FROM pgmq.set_vt(queue_name, ARRAY[msg_id], vt);
$$;

CREATE OR REPLACE FUNCTION pgmq.set_vt(queue_name text, msg_id bigint, vt integer)
RETURNS SETOF pgmq.message_record
LANGUAGE sql
AS $$
    SELECT * FROM pgmq.set_vt(queue_name, ARRAY[msg_id], clock_timestamp() + make_interval(secs => vt));
$$;
