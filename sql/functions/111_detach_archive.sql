-- pgmq.detach_archive(queue_name text) RETURNS void
--
-- A no-op kept for compatibility: in pgmq it detached the archive table from the extension; PGTQ installs
-- plain tables, so there is nothing to detach. Emits pgmq's WARNING 'detach_archive(queue_name) is deprecated
-- and is a no-op. It will be removed in PGMQ v2.0. Archive tables are no longer member objects.' Raises nothing.

CREATE OR REPLACE FUNCTION pgmq.detach_archive(queue_name text)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE WARNING 'detach_archive(queue_name) is deprecated and is a no-op. It will be removed in PGMQ v2.0. Archive tables are no longer member objects.';
END;
$$;
