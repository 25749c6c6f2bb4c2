-- pgtq.create_queue(queue_name text, dlq boolean DEFAULT true, dlq_name text DEFAULT NULL) RETURNS void
--
-- Creates a task queue: the pgmq queue (pgmq.create), its dead-letter queue (dlq_name, by default
-- '<queue_name>_dlq') unless dlq = false, the pgtq.queues row, pgtq's indexes on the queue table and the AFTER INSERT trigger that keeps
-- group rows and sends the wake-up NOTIFY (channel "pgmq.q_<name>.INSERT", also for plain pgmq.send).
-- Idempotent; calling it again with dlq = true adds a DLQ to a queue that had none (it never removes or
-- renames one).
-- Names follow the queue-name rule (pgmq._queue_name_problem, 101_validate_queue_name.sql): at most 47 bytes
-- (43 with the default DLQ, since '<name>_dlq' must fit), no $ ; -- ' or control characters, and no name
-- that differs only in case from an existing queue or whose derived table names meet another queue's.
-- Raises PQ002 for an invalid queue or DLQ name (naming the value and the limit, or the queue it collides
-- with), P0001 for upstream pgmq's own name errors, PQ003 (dlq NULL; dlq_name given with dlq = false;
-- dlq_name equal to the queue, to a task queue, or to another queue's DLQ; the queue is itself a DLQ).

-- The two-argument form was replaced (a new parameter would otherwise add a second overload).
DO $$
BEGIN
    IF pg_catalog.to_regprocedure('pgtq.create_queue(text,boolean)') IS NOT NULL THEN
        DROP FUNCTION pgtq.create_queue(text, boolean);
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION pgtq.create_queue(queue_name text, dlq boolean DEFAULT true, dlq_name text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_dlq text;
    v_id bigint;
BEGIN
    PERFORM pgtq._check_name('pgtq.create_queue', queue_name);
    IF dlq IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = 'pgtq.create_queue: dlq must not be NULL';
    END IF;
    IF NOT dlq AND dlq_name IS NOT NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('pgtq.create_queue: dlq_name %L given with dlq = false', dlq_name);
    END IF;
    IF dlq AND dlq_name IS NULL THEN
        IF octet_length(queue_name) > 43 THEN
            RAISE EXCEPTION USING
                ERRCODE = 'PQ002',
                MESSAGE = format('pgtq.create_queue: queue name %L is too long for a dead-letter queue %L: %s bytes, '
                                 'the maximum is 43 bytes with the default DLQ (47 without)',
                                 queue_name, queue_name || '_dlq', octet_length(queue_name));
        END IF;
        v_dlq := queue_name || '_dlq';
    ELSIF dlq THEN
        PERFORM pgtq._check_name('pgtq.create_queue', dlq_name);
        v_dlq := dlq_name;
        IF v_dlq = queue_name OR EXISTS (SELECT 1 FROM pgtq.queues q WHERE q.queue_name = v_dlq) THEN
            RAISE EXCEPTION USING
                ERRCODE = 'PQ003',
                MESSAGE = format('pgtq.create_queue: dlq_name %L is a task queue, it cannot be a dead-letter queue', v_dlq);
        END IF;
        IF EXISTS (SELECT 1 FROM pgtq.queues q WHERE q.dlq_name = v_dlq AND q.queue_name <> create_queue.queue_name) THEN
            RAISE EXCEPTION USING
                ERRCODE = 'PQ003',
                MESSAGE = format('pgtq.create_queue: dlq_name %L is already the dead-letter queue of another queue', v_dlq);
        END IF;
    END IF;
    IF EXISTS (SELECT 1 FROM pgtq.queues q WHERE q.dlq_name = create_queue.queue_name) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('pgtq.create_queue: %L is already the dead-letter queue of another queue', queue_name);
    END IF;

    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('pgtq.queue'), pg_catalog.hashtext(queue_name));
    -- Only when missing: pgmq.create's IF NOT EXISTS still locks the live table (SHARE), which queues behind
    -- running workers; create_queue is meant to be called at every application start.
    IF NOT EXISTS (SELECT 1 FROM pgmq.meta m WHERE m.queue_name = create_queue.queue_name) THEN
        PERFORM pgmq.create(queue_name);
    END IF;
    IF v_dlq IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pgmq.meta m WHERE m.queue_name = v_dlq) THEN
        PERFORM pgmq.create(v_dlq);
    END IF;

    INSERT INTO pgtq.queues AS q (queue_name, dlq_name)
    VALUES (queue_name, v_dlq)
    ON CONFLICT ON CONSTRAINT queues_pkey DO UPDATE
    SET dlq_name = coalesce(q.dlq_name, EXCLUDED.dlq_name)
    RETURNING q.queue_id INTO v_id;

    PERFORM pgtq._setup(v_id);
END;
$$;
