-- pgmq.create_partitioned(queue_name text, partition_interval text DEFAULT '10000',
--   retention_interval text DEFAULT '100000', premake integer DEFAULT 4) RETURNS void
--
-- Kept for signature compatibility only: pgmq's partitioned queues are managed by pg_partman, which PGTQ
-- does not install, and a half feature (partitions nobody maintains) would be worse than a clear error.
-- Always raises 0A000 (feature_not_supported). Use pgmq.create instead.

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
    RAISE EXCEPTION USING
        ERRCODE = 'feature_not_supported',
        MESSAGE = format('cannot create queue %L: partitioned queues need pg_partman, which PGTQ does not install', queue_name),
        HINT = 'Use pgmq.create() for a regular queue.';
END;
$$;
