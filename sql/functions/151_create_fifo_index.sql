-- pgmq.create_fifo_index(queue_name text) RETURNS void
-- pgmq.create_fifo_indexes_all() RETURNS void
-- pgmq._create_fifo_index_if_not_exists(queue_name text) RETURNS void   (internal)
--
-- Builds the index that makes the FIFO group reads (read_grouped, read_grouped_rr, read_grouped_head)
-- cost O(groups) instead of O(backlog): pgmq.q_<name>_fifo_idx, a btree on
--   ((COALESCE(headers->>'x-pgmq-group', '_default_fifo_group')), msg_id)
-- i.e. the group key exactly as the group reads compute it, then msg_id. The group reads use it to tell in
-- one probe whether a message heads its group, and to walk it with a loose index scan (jump to the next group
-- key, land on that group's first or last msg_id) that visits each group's head once whatever the backlog
-- (see 150_internal_group_reads.sql). Upstream builds a GIN index on headers here instead, which serves
-- neither; an index of that name that is not our btree is therefore replaced.
-- create_fifo_indexes_all does the same for every queue in pgmq.meta. Both are idempotent and return nothing.
-- The index is built with a plain CREATE INDEX (SHARE lock: writers to the queue wait until it is built).
-- Raises P0001 for an invalid queue name (pgmq.format_table_name) and 42P01 for a queue that does not exist.

CREATE OR REPLACE FUNCTION pgmq._create_fifo_index_if_not_exists(queue_name text)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    v_qtable text := pgmq.format_table_name(queue_name, 'q');
    v_index text := v_qtable || '_fifo_idx';
BEGIN
    IF pgmq._fifo_index_ready(v_qtable) THEN
        RETURN;
    END IF;
    -- Whatever holds the name is not usable by the group reads (upstream's GIN index, or an invalid index
    -- left by a failed CREATE INDEX CONCURRENTLY).
    IF to_regclass(format('pgmq.%I', v_index)) IS NOT NULL THEN
        EXECUTE format('DROP INDEX pgmq.%I', v_index);
    END IF;
    EXECUTE format(
        $sql$CREATE INDEX %I ON pgmq.%I ((COALESCE(headers->>'x-pgmq-group', '_default_fifo_group')), msg_id)$sql$,
        v_index, v_qtable
    );
END;
$$;

CREATE OR REPLACE FUNCTION pgmq.create_fifo_index(queue_name text)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM pgmq._create_fifo_index_if_not_exists(queue_name);
END;
$$;

CREATE OR REPLACE FUNCTION pgmq.create_fifo_indexes_all()
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    v_queue text;
BEGIN
    FOR v_queue IN SELECT m.queue_name FROM pgmq.meta m ORDER BY m.queue_name LOOP
        PERFORM pgmq._create_fifo_index_if_not_exists(v_queue);
    END LOOP;
END;
$$;
