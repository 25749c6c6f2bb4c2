-- pgmq.unbind_topic(pattern text, queue_name text) RETURNS boolean
--
-- Removes one binding; true if it existed, false otherwise (an unknown queue or pattern is not an error).
-- Raises P0001 with pgmq's texts 'pattern cannot be NULL or empty' and 'queue_name cannot be NULL or empty'.

CREATE OR REPLACE FUNCTION pgmq.unbind_topic(pattern text, queue_name text)
RETURNS boolean
LANGUAGE plpgsql
AS $$
BEGIN
    IF pattern IS NULL OR pattern = '' THEN
        RAISE EXCEPTION 'pattern cannot be NULL or empty';
    END IF;
    IF queue_name IS NULL OR queue_name = '' THEN
        RAISE EXCEPTION 'queue_name cannot be NULL or empty';
    END IF;
    DELETE FROM pgmq.topic_bindings b
    WHERE b.pattern = unbind_topic.pattern AND b.queue_name = unbind_topic.queue_name;
    RETURN FOUND;
END;
$$;
