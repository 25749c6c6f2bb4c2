-- pgmq.update_notify_insert(queue_name text, throttle_interval_ms integer) RETURNS void
--
-- Changes the throttle interval (milliseconds, 0 = notify on every insert) of a queue that already has
-- NOTIFY on insert enabled; last_notified_at is kept. Raises P0001 with pgmq's texts, in this order:
-- 'throttle_interval_ms must be non-negative, got: <n>'; 'Queue "<name>" does not exist. Create the queue
-- first using pgmq.create()' (name as given); 'Queue "<name>" does not have notify_insert enabled. Enable it
-- first using pgmq.enable_notify_insert()'. A NULL throttle_interval_ms (pgmq has no text for it) raises PQ003.

CREATE OR REPLACE FUNCTION pgmq.update_notify_insert(queue_name text, throttle_interval_ms integer)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    IF throttle_interval_ms IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = 'pgmq.update_notify_insert: throttle_interval_ms must not be NULL';
    END IF;
    IF throttle_interval_ms < 0 THEN
        RAISE EXCEPTION 'throttle_interval_ms must be non-negative, got: %', throttle_interval_ms;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pgmq.meta m WHERE m.queue_name = update_notify_insert.queue_name) THEN
        RAISE EXCEPTION 'Queue "%" does not exist. Create the queue first using pgmq.create()', queue_name;
    END IF;

    UPDATE pgmq.notify_insert_throttle t
    SET throttle_interval_ms = update_notify_insert.throttle_interval_ms
    WHERE t.queue_name = update_notify_insert.queue_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'Queue "%" does not have notify_insert enabled. Enable it first using pgmq.enable_notify_insert()',
            queue_name;
    END IF;
END;
$$;
