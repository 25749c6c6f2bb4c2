-- pgmq.list_topic_bindings: the topic bindings with their compiled regex, newest first (as pgmq orders them).
--
-- list_topic_bindings() RETURNS TABLE(pattern text, queue_name text, bound_at timestamptz, compiled_regex text)
--   ordered by bound_at DESC, pattern, queue_name.
-- list_topic_bindings(queue_name text) RETURNS the same for one queue (name as given), ordered by
--   bound_at DESC, pattern.
-- Text columns sort in the database's collation, as in pgmq. Raise nothing.

CREATE OR REPLACE FUNCTION pgmq.list_topic_bindings()
RETURNS TABLE (pattern text, queue_name text, bound_at timestamptz, compiled_regex text)
LANGUAGE sql
STABLE
AS $$
    SELECT b.pattern, b.queue_name, b.bound_at, b.compiled_regex
    FROM pgmq.topic_bindings b
    ORDER BY b.bound_at DESC, b.pattern, b.queue_name;
$$;

CREATE OR REPLACE FUNCTION pgmq.list_topic_bindings(queue_name text)
RETURNS TABLE (pattern text, queue_name text, bound_at timestamptz, compiled_regex text)
LANGUAGE sql
STABLE
AS $$
    SELECT b.pattern, b.queue_name, b.bound_at, b.compiled_regex
    FROM pgmq.topic_bindings b
    WHERE b.queue_name = $1
    ORDER BY b.bound_at DESC, b.pattern;
$$;
