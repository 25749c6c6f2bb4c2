-- pgmq.send_topic: sends one message to every queue bound by a pattern that matches routing_key.
--
-- send_topic(routing_key text, msg jsonb, headers jsonb, delay integer) RETURNS integer
-- send_topic(routing_key text, msg jsonb) and send_topic(routing_key text, msg jsonb, delay integer)
-- Returns the number of queues the message went to (0 when nothing matches; a queue bound by several
-- matching patterns gets one copy). delay is in seconds. Queues are served in name order so concurrent
-- senders take row locks in the same order. All copies are sent in the caller's transaction.
-- Raises PQ003 for an invalid routing key; errors of pgmq.send for a bound queue whose table is gone.

CREATE OR REPLACE FUNCTION pgmq.send_topic(routing_key text, msg jsonb, headers jsonb, delay integer)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    v_queue_name text;
    v_sent integer := 0;
BEGIN
    PERFORM pgmq.validate_routing_key(routing_key);
    FOR v_queue_name IN
        SELECT DISTINCT b.queue_name
        FROM pgmq.topic_bindings b
        WHERE send_topic.routing_key ~ b.compiled_regex
        ORDER BY b.queue_name
    LOOP
        PERFORM pgmq.send(v_queue_name, msg, headers, delay);
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
