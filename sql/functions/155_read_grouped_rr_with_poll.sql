-- pgmq.read_grouped_rr_with_poll(queue_name text, vt integer, qty integer, max_poll_seconds integer DEFAULT 5,
--   poll_interval_ms integer DEFAULT 100, direction text DEFAULT 'ASC') RETURNS SETOF pgmq.message_record
--
-- pgmq.read_grouped_rr repeated every poll_interval_ms milliseconds until it returns messages, for at most
-- max_poll_seconds seconds (then no rows). Each attempt runs in a fresh snapshot (READ COMMITTED), but the
-- caller's connection and transaction stay open for the whole wait, as in pgmq. Arguments and ordering as in
-- pgmq.read_grouped_rr. Raises PQ003 for a bad direction (before waiting), P0001 for an invalid queue name,
-- 42P01 for an unknown queue.

CREATE OR REPLACE FUNCTION pgmq.read_grouped_rr_with_poll(
    queue_name text,
    vt integer,
    qty integer,
    max_poll_seconds integer DEFAULT 5,
    poll_interval_ms integer DEFAULT 100,
    direction text DEFAULT 'ASC'
)
RETURNS SETOF pgmq.message_record
LANGUAGE sql
AS $$
    SELECT * FROM pgmq._read_grouped_poll(queue_name, vt, qty, max_poll_seconds, poll_interval_ms, direction, 'rr');
$$;
