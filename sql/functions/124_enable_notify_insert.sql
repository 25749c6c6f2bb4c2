-- pgmq.enable_notify_insert(queue_name text, throttle_interval_ms integer DEFAULT 250) RETURNS void
--
-- Makes inserts into the queue send NOTIFY on channel "pgmq.q_<lower name>.INSERT" (empty payload), at most
-- once per throttle_interval_ms milliseconds (0 = every insert). Replaces an existing setup: it first calls
-- pgmq.disable_notify_insert (hence a "trigger ... does not exist, skipping" NOTICE the first time), then
-- upserts the throttle row with last_notified_at reset to the epoch, then creates the DEFERRABLE
-- (initially immediate) constraint trigger trigger_notify_queue_insert_listeners, passing the queue name as
-- given so mixed-case names notify.
-- Raises P0001 with pgmq's texts: 'throttle_interval_ms must be non-negative', then 'Queue "<name>" does not
-- exist. Create it first using pgmq.create()' when the queue is not in pgmq.meta (name as given); P0001 for
-- invalid names. A NULL throttle_interval_ms (pgmq has no text for it) raises PQ003.

CREATE OR REPLACE FUNCTION pgmq.enable_notify_insert(queue_name text, throttle_interval_ms integer DEFAULT 250)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    v_qtable text := pgmq.format_table_name(queue_name, 'q');
BEGIN
    IF throttle_interval_ms IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = 'pgmq.enable_notify_insert: throttle_interval_ms must not be NULL';
    END IF;
    IF throttle_interval_ms < 0 THEN
        RAISE EXCEPTION 'throttle_interval_ms must be non-negative';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pgmq.meta m WHERE m.queue_name = enable_notify_insert.queue_name) THEN
        RAISE EXCEPTION 'Queue "%" does not exist. Create it first using pgmq.create()', queue_name;
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
