-- pgmq.detach_archive(queue_name text) RETURNS void
--
-- A no-op kept for compatibility: in pgmq it detached the archive table from the extension; PGTQ installs
-- plain tables, so there is nothing to detach. Emits a WARNING saying so. Raises nothing.

CREATE OR REPLACE FUNCTION pgmq.detach_archive(queue_name text)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE WARNING 'detach_archive(queue_name) is deprecated and does nothing: archive tables are plain tables';
END;
$$;
