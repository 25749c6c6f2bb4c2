-- pgmq.create_partitioned(queue_name text, partition_interval text DEFAULT '10000',
--   retention_interval text DEFAULT '100000', premake integer DEFAULT 4) RETURNS void
--
-- pgmq's partitioned queues are managed by pg_partman. Without pg_partman this raises pgmq's own error,
-- P0001 'pg_partman is required for partitioned queues', after the name checks (P0001, pgmq's texts).
-- PGTQ does not create partitioned queues yet: with pg_partman installed it raises 0A000
-- (feature_not_supported) and creates nothing. Use pgmq.create for a regular queue.

CREATE OR REPLACE FUNCTION pgmq.create_partitioned(
    queue_name text,
    partition_interval text DEFAULT '10000',
    retention_interval text DEFAULT '100000',
    premake integer DEFAULT 4
)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM pgmq.validate_queue_name(queue_name);
    PERFORM pgmq.format_table_name(queue_name, 'q');
    PERFORM pgmq._ensure_pg_partman_installed();
    RAISE EXCEPTION USING
        ERRCODE = 'feature_not_supported',
        MESSAGE = format('cannot create queue %L: PGTQ does not support partitioned queues yet', queue_name),
        HINT = 'Use pgmq.create() for a regular queue.';
END;
$$;
