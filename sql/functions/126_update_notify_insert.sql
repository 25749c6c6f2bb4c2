-- pgmq.update_notify_insert(queue_name text, throttle_interval_ms integer) RETURNS void
--
-- Changes the throttle interval (milliseconds, 0 = notify on every insert) of a queue that already has
-- NOTIFY on insert enabled; last_notified_at is kept. Raises PQ003 if throttle_interval_ms is NULL or
-- negative, PQ001 if the queue does not exist, PQ003 if notifications are not enabled for it.

CREATE OR REPLACE FUNCTION pgmq.update_notify_insert(queue_name text, throttle_interval_ms integer)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    IF throttle_interval_ms IS NULL OR throttle_interval_ms < 0 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('pgmq.update_notify_insert: throttle_interval_ms must be >= 0, got %s',
                             coalesce(throttle_interval_ms::text, 'NULL'));
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pgmq.meta m WHERE m.queue_name = update_notify_insert.queue_name) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ001',
            MESSAGE = format('pgmq.update_notify_insert: queue %L does not exist', queue_name);
    END IF;

    UPDATE pgmq.notify_insert_throttle t
    SET throttle_interval_ms = update_notify_insert.throttle_interval_ms
    WHERE t.queue_name = update_notify_insert.queue_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('pgmq.update_notify_insert: notify on insert is not enabled for queue %L', queue_name),
            HINT = 'Enable it first with pgmq.enable_notify_insert().';
    END IF;
END;
$$;
