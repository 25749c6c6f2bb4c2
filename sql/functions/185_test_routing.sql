-- pgmq.test_routing(routing_key text) RETURNS TABLE(pattern text, queue_name text, compiled_regex text)
--
-- Dry run of topic routing: every binding whose compiled regex matches the routing key (a queue bound by
-- several matching patterns appears once per pattern, although pgmq.send_topic sends it one copy), ordered
-- by queue and pattern. Sends nothing. Raises P0001 with the texts of pgmq.validate_routing_key.

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
