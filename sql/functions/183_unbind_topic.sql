-- pgmq.unbind_topic(pattern text, queue_name text) RETURNS boolean
--
-- Removes one binding; true if it existed, false otherwise. Raises nothing.

CREATE OR REPLACE FUNCTION pgmq.unbind_topic(pattern text, queue_name text)
RETURNS boolean
LANGUAGE plpgsql
AS $$
BEGIN
    DELETE FROM pgmq.topic_bindings b
    WHERE b.pattern = unbind_topic.pattern AND b.queue_name = unbind_topic.queue_name;
    RETURN FOUND;
END;
$$;
