-- pgmq.drop_queue: drops a queue's tables and its pgmq.meta row (cascading to its notify throttle row).
--
-- drop_queue(queue_name text) RETURNS boolean: true if dropped; for a name not in pgmq.meta it emits
--   NOTICE 'pgmq queue `<name>` does not exist' and returns false. The meta lookup is by the name as given
--   (case kept); the tables are lower-cased, so 'MyQ' and 'myq' share them, as in pgmq.
-- drop_queue(queue_name text, partitioned boolean) RETURNS boolean: deprecated form; emits pgmq's WARNING
--   'drop_queue(queue_name, partitioned) is deprecated and will be removed in PGMQ v2.0. Use
--   drop_queue(queue_name) instead', ignores partitioned, drops the queue like the one-argument form (so a
--   missing queue also gets its NOTICE) and always returns true (as pgmq).
-- Partitioned tables are removed from pg_partman's part_config (and their template tables dropped) first.
-- Serialised with create* by pgmq.acquire_queue_lock. Raises P0001 for names with invalid characters.

CREATE OR REPLACE FUNCTION pgmq.drop_queue(queue_name text)
RETURNS boolean
LANGUAGE plpgsql
AS $$
DECLARE
    v_qtable text := pgmq.format_table_name(queue_name, 'q');
    v_atable text := pgmq.format_table_name(queue_name, 'a');
BEGIN
    PERFORM pgmq.acquire_queue_lock(queue_name);

    IF NOT EXISTS (SELECT 1 FROM pgmq.meta m WHERE m.queue_name = drop_queue.queue_name) THEN
        RAISE NOTICE 'pgmq queue `%` does not exist', queue_name;
        RETURN false;
    END IF;

    -- A partitioned table (pgmq.create_partitioned, convert_archive_partitioned) is forgotten by pg_partman
    -- first; DROP TABLE drops its partitions.
    IF pgmq._is_partitioned(v_qtable) THEN
        PERFORM pgmq._partman_drop_config(v_qtable);
    END IF;
    IF pgmq._is_partitioned(v_atable) THEN
        PERFORM pgmq._partman_drop_config(v_atable);
    END IF;
    EXECUTE format('DROP TABLE IF EXISTS pgmq.%I', v_qtable);
    EXECUTE format('DROP TABLE IF EXISTS pgmq.%I', v_atable);
    DELETE FROM pgmq.meta m WHERE m.queue_name = drop_queue.queue_name;
    RETURN true;
END;
$$;

CREATE OR REPLACE FUNCTION pgmq.drop_queue(queue_name text, partitioned boolean)
RETURNS boolean
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE WARNING 'drop_queue(queue_name, partitioned) is deprecated and will be removed in PGMQ v2.0. Use drop_queue(queue_name) instead';
    PERFORM pgmq.drop_queue(queue_name);
    RETURN true;
END;
$$;
