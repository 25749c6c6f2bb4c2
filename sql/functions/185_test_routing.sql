-- pgmq.test_routing(routing_key text) RETURNS TABLE(pattern text, queue_name text, compiled_regex text)
--
-- Dry run of topic routing: the bindings a message with this routing key would be delivered through,
-- ordered by queue and pattern. Sends nothing. Raises PQ003 for an invalid routing key.

CREATE OR REPLACE FUNCTION pgmq.test_routing(routing_key text)
RETURNS TABLE (pattern text, queue_name text, compiled_regex text)
LANGUAGE plpgsql
STABLE
AS $$
BEGIN
    PERFORM pgmq.validate_routing_key(routing_key);
    RETURN QUERY
        SELECT b.pattern, b.queue_name, b.compiled_regex
        FROM pgmq.topic_bindings b
        WHERE test_routing.routing_key ~ b.compiled_regex
        ORDER BY b.queue_name, b.pattern;
END;
$$;
