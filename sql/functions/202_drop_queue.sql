-- pgtq.drop_queue(queue_name text) RETURNS boolean
--
-- Drops a task queue: its pgmq queue, its dead-letter queue (the registered one, or '<name>_dlq' for a queue
-- never used through pgtq), its group rows, its statement functions and indexes (by their records, see
-- pgtq.queue_statements/queue_indexes) and its pgtq.queues row. Returns true if the queue existed, false
-- (changing nothing) if neither a pgtq nor a pgmq queue of that name exists.
-- The dead-letter queue of a registered task queue cannot be dropped on its own (every final failure of the
-- owner would then fail): drop the owner, which drops its DLQ with it.
-- Raises PQ002 for an invalid name, PQ003 for the DLQ of a registered queue (naming the owner).

CREATE OR REPLACE FUNCTION pgtq.drop_queue(queue_name text)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_dlq text;
    v_id bigint;
    v_owner text;
    v_registered boolean;
    v_exists boolean;
BEGIN
    PERFORM pgtq._check_name('pgtq.drop_queue', queue_name);
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('pgtq.queue'), pg_catalog.hashtext(queue_name));

    SELECT q.queue_name INTO v_owner FROM pgtq.queues q WHERE q.dlq_name = drop_queue.queue_name;
    IF FOUND THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('pgtq.drop_queue: %L is the dead-letter queue of task queue %L; drop %L instead '
                             '(it drops its dead-letter queue with it)', queue_name, v_owner, v_owner);
    END IF;
    SELECT q.dlq_name, q.queue_id INTO v_dlq, v_id FROM pgtq.queues q WHERE q.queue_name = drop_queue.queue_name;
    v_registered := FOUND;
    v_exists := EXISTS (SELECT 1 FROM pgmq.meta m WHERE m.queue_name = drop_queue.queue_name);
    IF NOT v_registered AND NOT v_exists THEN
        RETURN false;
    END IF;
    IF NOT v_registered THEN
        -- A seed-style queue's DLQ, unless that name is a task queue of its own.
        v_dlq := CASE WHEN NOT EXISTS (SELECT 1 FROM pgtq.queues q WHERE q.queue_name = drop_queue.queue_name || '_dlq')
                      THEN queue_name || '_dlq' END;
    END IF;

    IF v_exists THEN
        PERFORM pgmq.drop_queue(queue_name);
    END IF;
    IF v_dlq IS NOT NULL AND EXISTS (SELECT 1 FROM pgmq.meta m WHERE m.queue_name = v_dlq) THEN
        PERFORM pgmq.drop_queue(v_dlq);
    END IF;
    DELETE FROM pgtq.groups g WHERE g.queue_name = drop_queue.queue_name;
    IF v_registered THEN
        -- The indexes went with the table; the records go with the queue row (ON DELETE CASCADE).
        PERFORM pgtq._drop_queue_statements(v_id);
    END IF;
    DELETE FROM pgtq.queues q WHERE q.queue_name = drop_queue.queue_name;
    RETURN true;
END;
$$;
