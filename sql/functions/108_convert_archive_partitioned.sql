-- pgmq.convert_archive_partitioned(table_name text, partition_interval text DEFAULT '10000',
--   retention_interval text DEFAULT '100000', leading_partition integer DEFAULT 10) RETURNS void
--
-- Turns the archive of queue table_name (a queue name) into a pg_partman-partitioned table, as pgmq does: the
-- existing archive pgmq.a_<name> is renamed pgmq.a_<name>_old (its rows stay there: move them with pg_partman's
-- partition_data tools or drop it), its indexes get an '_old' suffix (names truncated to PostgreSQL's 63 bytes
-- first, so the suffix is never cut off), and a new, empty pgmq.a_<name> with the same columns, defaults and
-- constraints is partitioned by msg_id (a whole-number partition_interval) or by archived_at (a time
-- interval), with the archived_at index "archived_at_idx_<name>", and registered with pg_partman
-- (leading_partition partitions made ahead, retention = retention_interval, retention_keep_table = false,
-- automatic_maintenance 'on'). A queue that is not partitioned stays so (pgmq.meta unchanged).
-- NOTICE and nothing else for an archive that is already partitioned or does not exist (pgmq's behaviour).
-- Raises P0001 'pg_partman is required for partitioned queues' without pg_partman, P0001 for invalid names.

CREATE OR REPLACE FUNCTION pgmq.convert_archive_partitioned(
    table_name text,
    partition_interval text DEFAULT '10000',
    retention_interval text DEFAULT '100000',
    leading_partition integer DEFAULT 10
)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    v_atable text;
    v_old text;
    v_col text;
    v_kind "char";
    v_ix record;
BEGIN
    PERFORM pgmq._ensure_pg_partman_installed();
    v_atable := pgmq.format_table_name(table_name, 'a');
    v_old := v_atable || '_old';
    v_col := CASE WHEN pgmq._get_partition_col(partition_interval) = 'msg_id' THEN 'msg_id' ELSE 'archived_at' END;

    PERFORM pgmq.acquire_queue_lock(table_name);
    SELECT c.relkind INTO v_kind FROM pg_catalog.pg_class c WHERE c.oid = pg_catalog.to_regclass(format('pgmq.%I', v_atable));
    IF v_kind = 'p' THEN
        RAISE NOTICE 'Table %s is already partitioned', v_atable;
        RETURN;
    ELSIF v_kind IS DISTINCT FROM 'r' THEN
        RAISE NOTICE 'Table %s does not exists', v_atable;
        RETURN;
    END IF;

    EXECUTE format('ALTER TABLE pgmq.%I RENAME TO %I', v_atable, v_old);
    -- The old table keeps its indexes under '<name>_old', the name truncated to 63 bytes first (PostgreSQL
    -- would otherwise cut the suffix off, and the new table's index could not take the old name).
    FOR v_ix IN
        SELECT c.relname::text AS name
        FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
        WHERE i.indrelid = format('pgmq.%I', v_old)::regclass
    LOOP
        EXECUTE format('ALTER INDEX pgmq.%I RENAME TO %I', v_ix.name, pgmq._truncate_identifier(v_ix.name, 59) || '_old');
    END LOOP;

    -- Columns, defaults, NOT NULLs and CHECKs; not the indexes (the old primary key does not contain
    -- archived_at, and a partitioned table's unique indexes must).
    EXECUTE format('CREATE TABLE pgmq.%I (LIKE pgmq.%I INCLUDING ALL EXCLUDING INDEXES) PARTITION BY RANGE (%I)',
                   v_atable, v_old, v_col);
    EXECUTE format('CREATE INDEX %I ON pgmq.%I (archived_at)', 'archived_at_idx_' || table_name, v_atable);
    PERFORM pgmq._partman_create_parent(v_atable, v_col, partition_interval, leading_partition, retention_interval);
END;
$$;

-- pgmq._truncate_identifier(name text, max_bytes integer) RETURNS text
--   name cut to at most max_bytes bytes without splitting a multibyte character.
CREATE OR REPLACE FUNCTION pgmq._truncate_identifier(name text, max_bytes integer)
RETURNS text
LANGUAGE plpgsql
IMMUTABLE
AS $$
DECLARE
    v text := name;
BEGIN
    WHILE octet_length(v) > max_bytes LOOP
        v := left(v, -1);
    END LOOP;
    RETURN v;
END;
$$;
