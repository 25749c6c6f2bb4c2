-- pgmq.convert_archive_partitioned(table_name text, partition_interval text DEFAULT '10000',
--   retention_interval text DEFAULT '100000', leading_partition integer DEFAULT 10) RETURNS void
--
-- Kept for signature compatibility only: partitioning needs pg_partman, which PGTQ does not install.
-- Always raises 0A000 (feature_not_supported) and changes nothing.

CREATE OR REPLACE FUNCTION pgmq.convert_archive_partitioned(
    table_name text,
    partition_interval text DEFAULT '10000',
    retention_interval text DEFAULT '100000',
    leading_partition integer DEFAULT 10
)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION USING
        ERRCODE = 'feature_not_supported',
        MESSAGE = format('cannot convert the archive of %L: partitioned queues need pg_partman, which PGTQ does not install', table_name);
END;
$$;
