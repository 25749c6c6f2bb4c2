-- pgmq.bind_topic(pattern text, queue_name text) RETURNS void
--
-- Routes messages whose routing key matches pattern (see pgmq.validate_topic_pattern and
-- pgmq.topic_bindings.compiled_regex) to the queue. Idempotent: binding the same pattern to the same queue
-- again changes nothing (bound_at is kept). The binding goes away with pgmq.unbind_topic or when the queue is
-- dropped (FK cascade). Raises P0001 with pgmq's texts: those of pgmq.validate_topic_pattern,
-- 'queue_name cannot be NULL or empty', and 'Queue "<name>" does not exist. Create the queue first using
-- pgmq.create()' when the queue is not in pgmq.meta (name as given, case kept).

CREATE OR REPLACE FUNCTION pgmq.bind_topic(pattern text, queue_name text)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM pgmq.validate_topic_pattern(pattern);
    IF queue_name IS NULL OR queue_name = '' THEN
        RAISE EXCEPTION 'queue_name cannot be NULL or empty';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pgmq.meta m WHERE m.queue_name = bind_topic.queue_name) THEN
        RAISE EXCEPTION 'Queue "%" does not exist. Create the queue first using pgmq.create()', queue_name;
    END IF;
    INSERT INTO pgmq.topic_bindings (pattern, queue_name)
    VALUES (pattern, queue_name)
    ON CONFLICT ON CONSTRAINT topic_bindings_unique_pattern_queue DO NOTHING;
END;
$$;
