-- pgmq.read_with_poll(queue_name text, vt integer, qty integer, max_poll_seconds integer DEFAULT 5,
--   poll_interval_ms integer DEFAULT 100, conditional jsonb DEFAULT '{}', direction text DEFAULT 'ASC')
--   RETURNS SETOF pgmq.message_record
--
-- pgmq.read, repeated every poll_interval_ms milliseconds until it returns something or max_poll_seconds
-- seconds have passed (then it returns no rows). Each attempt runs in a new snapshot under READ COMMITTED,
-- so messages committed meanwhile are seen; under REPEATABLE READ they are not (as in pgmq). Holds its
-- connection and transaction while it waits. Makes at least one attempt, and never sleeps past the deadline.
-- direction as in pgmq.read. Raises PQ003 for an unknown direction (before waiting) and for a NULL
-- max_poll_seconds or poll_interval_ms (pgmq would poll forever), P0001 for invalid names, 42P01 for an
-- unknown queue.

CREATE OR REPLACE FUNCTION pgmq.read_with_poll(
    queue_name text,
    vt integer,
    qty integer,
    max_poll_seconds integer DEFAULT 5,
    poll_interval_ms integer DEFAULT 100,
    conditional jsonb DEFAULT '{}',
    direction text DEFAULT 'ASC'
)
RETURNS SETOF pgmq.message_record
LANGUAGE plpgsql
AS $$
DECLARE
    v_direction text := pgmq._order_direction(direction);
    v_stop_at timestamptz := clock_timestamp() + make_interval(secs => max_poll_seconds);
    v_remaining double precision;
BEGIN
    -- pgmq would poll forever with a NULL deadline; refuse instead of hanging a connection.
    IF max_poll_seconds IS NULL OR poll_interval_ms IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('pgmq.read_with_poll: max_poll_seconds and poll_interval_ms must not be NULL, got %s and %s',
                             coalesce(max_poll_seconds::text, 'NULL'), coalesce(poll_interval_ms::text, 'NULL'));
    END IF;
    LOOP
        RETURN QUERY SELECT * FROM pgmq.read(queue_name, vt, qty, conditional, v_direction);
        IF FOUND THEN
            RETURN;
        END IF;
        v_remaining := extract(epoch FROM v_stop_at - clock_timestamp());
        IF v_remaining <= 0 THEN
            RETURN;
        END IF;
        PERFORM pg_catalog.pg_sleep(least(poll_interval_ms / 1000.0, v_remaining));
    END LOOP;
END;
$$;
