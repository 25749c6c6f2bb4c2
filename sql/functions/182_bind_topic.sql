-- pgmq.bind_topic(pattern text, queue_name text) RETURNS void
--
-- Routes messages whose routing key matches pattern (see pgmq.validate_topic_pattern) to the queue.
-- Idempotent: binding the same pattern to the same queue again changes nothing. The binding goes away
-- with pgmq.unbind_topic or when the queue is dropped (FK cascade).
-- Raises PQ003 for an invalid pattern, PQ001 if the queue is not in pgmq.meta (name as given).

CREATE OR REPLACE FUNCTION pgmq.bind_topic(pattern text, queue_name text)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM pgmq.validate_topic_pattern(pattern);
    IF NOT EXISTS (SELECT 1 FROM pgmq.meta m WHERE m.queue_name = bind_topic.queue_name) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ001',
            MESSAGE = format('pgmq.bind_topic: queue %L does not exist', queue_name),
            HINT = 'Create it first with pgmq.create().';
    END IF;
    INSERT INTO pgmq.topic_bindings (pattern, queue_name)
    VALUES (pattern, queue_name)
    ON CONFLICT ON CONSTRAINT topic_bindings_unique_pattern_queue DO NOTHING;
END;
$$;
