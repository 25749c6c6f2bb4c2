-- pgmq.send_topic: sends one message to every queue bound by a pattern that matches routing_key.
--
-- send_topic(routing_key text, msg jsonb, headers jsonb, delay integer) RETURNS integer
-- send_topic(routing_key text, msg jsonb) and send_topic(routing_key text, msg jsonb, delay integer)
-- Returns the number of queues the message went to (0 when nothing matches). Each matching queue gets one
-- copy, however many of its bindings match, and the queues are served in name order (so concurrent senders
-- take row locks in the same order). Every copy carries the caller's headers (NULL = none) plus
-- 'x-pgmq-pattern' (the matching binding's pattern; when several bindings of the queue match, the first of
-- them in byte order, e.g. '#' before 'orders.#' before 'orders.*') and 'x-pgmq-routing-key' (routing_key);
-- these two replace caller headers of the same name. delay is in seconds. All copies are sent in the
-- caller's transaction. Raises P0001 with pgmq's texts: those of pgmq.validate_routing_key, then
-- 'msg cannot be NULL', then 'delay cannot be negative, got: <delay>'; 42P01 for a bound queue whose table
-- is gone.
--
-- Internal helpers, shared with pgmq.send_batch_topic (187):
-- pgmq._topic_routes(routing_key text) RETURNS TABLE(queue_name text, pattern text)
--   One row per queue with a binding that matches routing_key, in queue-name order, with the pattern chosen
--   as above. Does not validate the key.
-- pgmq._topic_headers(headers jsonb, pattern text, routing_key text) RETURNS jsonb
--   headers (NULL = '{}') with x-pgmq-pattern and x-pgmq-routing-key set.
-- pgmq._topic_delay(delay integer) RETURNS timestamptz
--   clock_timestamp() + delay seconds; raises P0001 'delay cannot be negative, got: <delay>' for delay < 0.

CREATE OR REPLACE FUNCTION pgmq._topic_routes(routing_key text)
RETURNS TABLE (queue_name text, pattern text)
LANGUAGE sql
STABLE
AS $$
    SELECT DISTINCT ON (b.queue_name) b.queue_name, b.pattern
    FROM pgmq.topic_bindings b
    WHERE _topic_routes.routing_key ~ b.compiled_regex
    ORDER BY b.queue_name, b.pattern COLLATE "C";
$$;

CREATE OR REPLACE FUNCTION pgmq._topic_headers(headers jsonb, pattern text, routing_key text)
RETURNS jsonb
LANGUAGE sql
IMMUTABLE
AS $$
    SELECT coalesce(headers, '{}'::jsonb)
        || jsonb_build_object('x-pgmq-pattern', pattern, 'x-pgmq-routing-key', routing_key);
$$;

CREATE OR REPLACE FUNCTION pgmq._topic_delay(delay integer)
RETURNS timestamptz
LANGUAGE plpgsql
VOLATILE
AS $$
BEGIN
    IF delay < 0 THEN
        RAISE EXCEPTION 'delay cannot be negative, got: %', delay;
    END IF;
    RETURN clock_timestamp() + make_interval(secs => delay);
END;
$$;

CREATE OR REPLACE FUNCTION pgmq.send_topic(routing_key text, msg jsonb, headers jsonb, delay integer)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    v_route record;
    v_vt timestamptz;
    v_sent integer := 0;
BEGIN
    PERFORM pgmq.validate_routing_key(routing_key);
    IF msg IS NULL THEN
        RAISE EXCEPTION 'msg cannot be NULL';
    END IF;
    v_vt := pgmq._topic_delay(delay);
    FOR v_route IN
        SELECT r.queue_name, r.pattern FROM pgmq._topic_routes(routing_key) r ORDER BY r.queue_name
    LOOP
        PERFORM pgmq.send(v_route.queue_name, msg, pgmq._topic_headers(headers, v_route.pattern, routing_key), v_vt);
        v_sent := v_sent + 1;
    END LOOP;
    RETURN v_sent;
END;
$$;

CREATE OR REPLACE FUNCTION pgmq.send_topic(routing_key text, msg jsonb)
RETURNS integer
LANGUAGE sql
AS $$
    SELECT pgmq.send_topic(routing_key, msg, NULL::jsonb, 0);
$$;

CREATE OR REPLACE FUNCTION pgmq.send_topic(routing_key text, msg jsonb, delay integer)
RETURNS integer
LANGUAGE sql
AS $$
    SELECT pgmq.send_topic(routing_key, msg, NULL::jsonb, delay);
$$;
