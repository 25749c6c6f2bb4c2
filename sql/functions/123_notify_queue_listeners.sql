-- pgmq.notify_queue_listeners() RETURNS trigger
--
-- The AFTER INSERT constraint trigger installed by pgmq.enable_notify_insert. TG_ARGV[0] is the queue name
-- as given in pgmq.meta: pgmq up to 1.13.0 derived it from the lower-cased table name, so queues with
-- upper-case letters never notified. For each inserted row it bumps the queue's throttle row when the
-- throttle allows (interval 0, or at least throttle_interval_ms milliseconds since last_notified_at) and
-- then sends pg_notify('pgmq.q_<lower name>.INSERT', NULL), delivered at commit; PostgreSQL folds
-- duplicate notifications of one transaction into one. Raises nothing of its own.

CREATE OR REPLACE FUNCTION pgmq.notify_queue_listeners()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    -- Triggers created without an argument (none of ours) fall back to the table name, as old pgmq did.
    v_queue_name text := coalesce(TG_ARGV[0], substr(TG_TABLE_NAME, 3));
    v_updated integer;
BEGIN
    UPDATE pgmq.notify_insert_throttle t
    SET last_notified_at = clock_timestamp()
    WHERE t.queue_name = v_queue_name
      AND (t.throttle_interval_ms = 0
           OR clock_timestamp() - t.last_notified_at >= t.throttle_interval_ms * interval '1 millisecond');
    GET DIAGNOSTICS v_updated = ROW_COUNT;

    IF v_updated > 0 THEN
        PERFORM pg_catalog.pg_notify('pgmq.' || TG_TABLE_NAME || '.' || TG_OP, NULL);
    END IF;
    RETURN NULL;
END;
$$;
