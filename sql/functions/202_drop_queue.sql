-- pgtq.drop_queue(queue_name text) RETURNS boolean
--
-- Drops a task queue: its pgmq queue, its dead-letter queue (the registered one, or '<name>_dlq' for a queue
-- never used through pgtq), its group rows, its statement functions and its pgtq.queues row. Returns true if
-- the queue existed, false (changing nothing) if neither a pgtq nor a pgmq queue of that name exists.
-- Raises PQ002 for an invalid name.

CREATE OR REPLACE FUNCTION pgtq.drop_queue(queue_name text)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_dlq text;
    v_registered boolean;
    v_exists boolean;
BEGIN
    PERFORM pgtq._check_name('pgtq.drop_queue', queue_name);
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('pgtq.queue'), pg_catalog.hashtext(queue_name));

    SELECT q.dlq_name INTO v_dlq FROM pgtq.queues q WHERE q.queue_name = drop_queue.queue_name;
    v_registered := FOUND;
    v_exists := EXISTS (SELECT 1 FROM pgmq.meta m WHERE m.queue_name = drop_queue.queue_name);
    IF NOT v_registered AND NOT v_exists THEN
        RETURN false;
    END IF;
    IF NOT v_registered THEN
        v_dlq := queue_name || '_dlq';
    END IF;

    IF v_exists THEN
        PERFORM pgmq.drop_queue(queue_name);
    END IF;
    IF v_dlq IS NOT NULL AND EXISTS (SELECT 1 FROM pgmq.meta m WHERE m.queue_name = v_dlq) THEN
        PERFORM pgmq.drop_queue(v_dlq);
    END IF;
    DELETE FROM pgtq.groups g WHERE g.queue_name = drop_queue.queue_name;
    PERFORM pgtq._drop_queue_statements(queue_name);
    DELETE FROM pgtq.queues q WHERE q.queue_name = drop_queue.queue_name;
    RETURN true;
END;
$$;
