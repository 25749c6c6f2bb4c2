-- pgmq.metrics_all() RETURNS SETOF pgmq.metrics_result
--
-- pgmq.metrics for every queue in pgmq.meta, ordered by name. Raises 42P01 if a meta row's table is gone.

CREATE OR REPLACE FUNCTION pgmq.metrics_all()
RETURNS SETOF pgmq.metrics_result
LANGUAGE plpgsql
AS $$
DECLARE
    v_queue_name text;
BEGIN
    FOR v_queue_name IN SELECT m.queue_name FROM pgmq.meta m ORDER BY m.queue_name LOOP
        RETURN NEXT pgmq.metrics(v_queue_name);
    END LOOP;
END;
$$;
