-- pgmq.list_topic_bindings: the topic bindings with their compiled regex, ordered by queue and pattern.
--
-- list_topic_bindings() RETURNS TABLE(pattern text, queue_name text, bound_at timestamptz, compiled_regex text)
-- list_topic_bindings(queue_name text) RETURNS the same, for one queue (name as given).
-- Raise nothing.

CREATE OR REPLACE FUNCTION pgmq.list_topic_bindings()
RETURNS TABLE (pattern text, queue_name text, bound_at timestamptz, compiled_regex text)
LANGUAGE sql
STABLE
AS $$
    SELECT b.pattern, b.queue_name, b.bound_at, b.compiled_regex
    FROM pgmq.topic_bindings b
    ORDER BY b.queue_name, b.pattern;
$$;

CREATE OR REPLACE FUNCTION pgmq.list_topic_bindings(queue_name text)
RETURNS TABLE (pattern text, queue_name text, bound_at timestamptz, compiled_regex text)
LANGUAGE sql
STABLE
AS $$
    SELECT b.pattern, b.queue_name, b.bound_at, b.compiled_regex
    FROM pgmq.topic_bindings b
    WHERE b.queue_name = $1
    ORDER BY b.pattern;
$$;
