-- pgmq.send_batch_topic: pgmq.send_batch to every queue bound by a pattern that matches routing_key.
--
-- Six overloads, all after (routing_key text, msgs jsonb[]): none, headers jsonb[], delay integer,
-- delay timestamptz, headers jsonb[] + delay integer, headers jsonb[] + delay timestamptz (as send_batch).
-- RETURNS TABLE(queue_name text, msg_id bigint): one row per message per queue, queues in name order,
-- messages in array order. No rows when nothing matches. A queue bound by several matching patterns gets
-- one copy. The (headers, delay timestamptz) form is the one implementation.
-- Raises PQ003 for an invalid routing key; the send_batch errors (P0001) for NULL/empty msgs or a headers
-- array of another length, even when nothing matches.

CREATE OR REPLACE FUNCTION pgmq.send_batch_topic(routing_key text, msgs jsonb[], headers jsonb[], delay timestamptz)
RETURNS TABLE (queue_name text, msg_id bigint)
LANGUAGE plpgsql
AS $$
DECLARE
    v_queue_name text;
BEGIN
    PERFORM pgmq.validate_routing_key(routing_key);
    -- Validate up front so a bad batch fails the same way whether or not a queue matches.
    PERFORM pgmq._validate_batch_params(msgs, headers);
    FOR v_queue_name IN
        SELECT DISTINCT b.queue_name
        FROM pgmq.topic_bindings b
        WHERE send_batch_topic.routing_key ~ b.compiled_regex
        ORDER BY b.queue_name
    LOOP
        RETURN QUERY SELECT v_queue_name, s.id FROM pgmq.send_batch(v_queue_name, msgs, headers, delay) AS s(id);
    END LOOP;
END;
$$;

CREATE OR REPLACE FUNCTION pgmq.send_batch_topic(routing_key text, msgs jsonb[], headers jsonb[], delay integer)
RETURNS TABLE (queue_name text, msg_id bigint)
LANGUAGE sql
AS $$
    SELECT * FROM pgmq.send_batch_topic(routing_key, msgs, headers, clock_timestamp() + make_interval(secs => delay));
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
    SELECT * FROM pgmq.send_batch_topic(routing_key, msgs, NULL::jsonb[], clock_timestamp() + make_interval(secs => delay));
$$;

CREATE OR REPLACE FUNCTION pgmq.send_batch_topic(routing_key text, msgs jsonb[], delay timestamptz)
RETURNS TABLE (queue_name text, msg_id bigint)
LANGUAGE sql
AS $$
    SELECT * FROM pgmq.send_batch_topic(routing_key, msgs, NULL::jsonb[], delay);
$$;
