-- pgmq.list_notify_insert_throttles()
--   RETURNS TABLE(queue_name text, throttle_interval_ms integer, last_notified_at timestamptz)
--
-- One row per queue with NOTIFY on insert enabled: its throttle interval in milliseconds and when it last
-- notified (the epoch if never). Ordered by queue name. Raises nothing.

CREATE OR REPLACE FUNCTION pgmq.list_notify_insert_throttles()
RETURNS TABLE (queue_name text, throttle_interval_ms integer, last_notified_at timestamptz)
LANGUAGE sql
STABLE
AS $$
    SELECT t.queue_name::text, t.throttle_interval_ms, t.last_notified_at
    FROM pgmq.notify_insert_throttle t
    ORDER BY t.queue_name;
$$;
