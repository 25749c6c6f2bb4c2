-- pgmq.send_batch_topic: sends a batch of messages to every queue bound by a pattern that matches routing_key.
--
-- Six overloads, all after (routing_key text, msgs jsonb[]): none, headers jsonb[], delay integer,
-- delay timestamptz, headers jsonb[] + delay integer, headers jsonb[] + delay timestamptz (as send_batch).
-- RETURNS TABLE(queue_name text, msg_id bigint): one row per message per queue, queues in name order,
-- messages in array order. No rows when nothing matches. Routing, one copy per queue and the headers
-- x-pgmq-pattern / x-pgmq-routing-key added to each message's headers (headers[i] belongs to msgs[i]) are
-- those of pgmq.send_topic (186). The (headers, delay timestamptz) form is the one implementation.
-- Raises P0001 with pgmq's texts, in this order and even when nothing matches: those of
-- pgmq.validate_routing_key; 'msgs cannot be NULL or empty' and 'headers array length (h) must match msgs
-- array length (m)' (pgmq.send_batch's); 'msg cannot be NULL' for a NULL element of msgs; and, for the
-- integer forms, 'delay cannot be negative, got: <delay>' (checked first, when the arguments are evaluated).

CREATE OR REPLACE FUNCTION pgmq.send_batch_topic(routing_key text, msgs jsonb[], headers jsonb[], delay timestamptz)
RETURNS TABLE (queue_name text, msg_id bigint)
LANGUAGE plpgsql
AS $$
DECLARE
    v_route record;
BEGIN
    PERFORM pgmq.validate_routing_key(routing_key);
    PERFORM pgmq._validate_batch_params(msgs, headers);
    IF array_position(msgs, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'msg cannot be NULL';
    END IF;
    FOR v_route IN
        SELECT r.queue_name, r.pattern FROM pgmq._topic_routes(routing_key) r ORDER BY r.queue_name
    LOOP
        RETURN QUERY
            SELECT v_route.queue_name, s.id
            FROM pgmq.send_batch(
                v_route.queue_name,
                msgs,
                -- unnest pads a NULL headers array with NULLs, one per message.
                ARRAY(SELECT pgmq._topic_headers(h.headers, v_route.pattern, routing_key)
                      FROM unnest(msgs, send_batch_topic.headers) WITH ORDINALITY AS h(msg, headers, ord)
                      ORDER BY h.ord),
                delay
            ) AS s(id);
    END LOOP;
END;
$$;

CREATE OR REPLACE FUNCTION pgmq.send_batch_topic(routing_key text, msgs jsonb[], headers jsonb[], delay integer)
RETURNS TABLE (queue_name text, msg_id bigint)
LANGUAGE sql
AS $$
    SELECT * FROM pgmq.send_batch_topic(routing_key, msgs, headers, pgmq._topic_delay(delay));
$$;

CREATE OR REPLACE FUNCTION pgmq.send_batch_topic(routing_key text, msgs jsonb[])
RETURNS TABLE (queue_name text, msg_id bigint)
LANGUAGE sql
AS $$
    SELECT * FROM pgmq.send_batch_topic(routing_key, msgs, NULL::jsonb[], clock_timestamp());
$$;

CREATE OR REPLACE FUNCTION pgmq.send_batch_topic(routing_key text, msgs jsonb[], headers jsonb[])
RETURNS TABLE (queue_name text, msg_id bigint)
LANGUAGE sql
AS $$
    SELECT * FROM pgmq.send_batch_topic(routing_key, msgs, headers, clock_timestamp());
$$;

CREATE OR REPLACE FUNCTION pgmq.send_batch_topic(routing_key text, msgs jsonb[], delay integer)
RETURNS TABLE (queue_name text, msg_id bigint)
LANGUAGE sql
AS $$
    SELECT * FROM pgmq.send_batch_topic(routing_key, msgs, NULL::jsonb[], pgmq._topic_delay(delay));
$$;

CREATE OR REPLACE FUNCTION pgmq.send_batch_topic(routing_key text, msgs jsonb[], delay timestamptz)
RETURNS TABLE (queue_name text, msg_id bigint)
LANGUAGE sql
AS $$
    SELECT * FROM pgmq.send_batch_topic(routing_key, msgs, NULL::jsonb[], delay);
$$;
