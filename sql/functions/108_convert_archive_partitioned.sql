-- pgmq.convert_archive_partitioned(table_name text, partition_interval text DEFAULT '10000',
--   retention_interval text DEFAULT '100000', leading_partition integer DEFAULT 10) RETURNS void
--
-- pgmq turns a queue's archive into a pg_partman-partitioned table here. Without pg_partman this raises
-- pgmq's own error, P0001 'pg_partman is required for partitioned queues', and changes nothing. PGTQ does
-- not partition archives yet: with pg_partman installed it raises 0A000 (feature_not_supported).

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
    PERFORM pgmq._ensure_pg_partman_installed();
    RAISE EXCEPTION USING
        ERRCODE = 'feature_not_supported',
        MESSAGE = format('cannot convert the archive of %L: PGTQ does not support partitioned archives yet', table_name);
END;
$$;
