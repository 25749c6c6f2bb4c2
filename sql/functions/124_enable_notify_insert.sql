-- pgmq.enable_notify_insert(queue_name text, throttle_interval_ms integer DEFAULT 250) RETURNS void
--
-- Makes inserts into the queue send NOTIFY on channel "pgmq.q_<lower name>.INSERT" (empty payload), at most
-- once per throttle_interval_ms milliseconds (0 = every insert). Replaces an existing setup: it first calls
-- pgmq.disable_notify_insert (hence a "trigger ... does not exist, skipping" NOTICE the first time), then
-- upserts the throttle row with last_notified_at reset to the epoch, then creates the DEFERRABLE
-- (initially immediate) constraint trigger trigger_notify_queue_insert_listeners, passing the queue name as
-- given so mixed-case names notify.
-- Raises PQ003 if throttle_interval_ms is NULL or negative, PQ001 if the queue is not in pgmq.meta.

CREATE OR REPLACE FUNCTION pgmq.enable_notify_insert(queue_name text, throttle_interval_ms integer DEFAULT 250)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    v_qtable text := pgmq.format_table_name(queue_name, 'q');
BEGIN
    IF throttle_interval_ms IS NULL OR throttle_interval_ms < 0 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('pgmq.enable_notify_insert: throttle_interval_ms must be >= 0, got %s',
                             coalesce(throttle_interval_ms::text, 'NULL'));
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pgmq.meta m WHERE m.queue_name = enable_notify_insert.queue_name) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ001',
            MESSAGE = format('pgmq.enable_notify_insert: queue %L does not exist', queue_name),
            HINT = 'Create it first with pgmq.create().';
    END IF;

    PERFORM pgmq.disable_notify_insert(queue_name);

    INSERT INTO pgmq.notify_insert_throttle (queue_name, throttle_interval_ms, last_notified_at)
    VALUES (queue_name, throttle_interval_ms, to_timestamp(0))
    ON CONFLICT ON CONSTRAINT notify_insert_throttle_queue_name_key DO UPDATE
    SET throttle_interval_ms = EXCLUDED.throttle_interval_ms,
        last_notified_at = EXCLUDED.last_notified_at;

    EXECUTE format(
        $sql$
        CREATE CONSTRAINT TRIGGER trigger_notify_queue_insert_listeners
        AFTER INSERT ON pgmq.%I
        DEFERRABLE
        FOR EACH ROW
        EXECUTE FUNCTION pgmq.notify_queue_listeners(%L)
        $sql$,
        v_qtable, queue_name
    );
END;
$$;
