-- Internal helpers of schema pgmq shared by several public functions (not part of the pgmq API).
--
-- pgmq._order_direction(direction text) RETURNS text
--   Normalises the `direction` argument of every read function (read, read_with_poll, pop and the
--   group reads): 'ASC' (FIFO, oldest msg_id first) or 'DESC' (LIFO, newest first), case-insensitive.
--   Returns 'ASC' or 'DESC', safe to splice into ORDER BY. Raises PQ003 for anything else, NULL included.
--
-- pgmq._create_queue(queue_name text, is_unlogged boolean) RETURNS void
--   The one implementation behind create, create_non_partitioned and create_unlogged: the queue table
--   pgmq.q_<name>, the archive pgmq.a_<name>, their indexes and the pgmq.meta row. Idempotent: a repeat
--   emits PostgreSQL's "relation ... already exists, skipping" NOTICEs, as pgmq does. Serialised per name
--   by pgmq.acquire_queue_lock, so two sessions creating one queue cannot collide on the catalog.
--   Raises P0001 for names that are too long or contain invalid characters (pgmq's texts).
--
-- pgmq._extension_exists(extension_name text) RETURNS boolean
--   True when the extension is installed in this database (in any schema).
--
-- pgmq._ensure_pg_partman_installed() RETURNS void
--   Raises P0001 'pg_partman is required for partitioned queues' (pgmq's text) unless pg_partman is
--   installed. Called first by create_partitioned and convert_archive_partitioned.
--
-- pgmq._get_pg_partman_schema() RETURNS text
--   The schema pg_partman is installed in (any schema; NULL without pg_partman), read from pg_extension.
--
-- pgmq._get_pg_partman_major_version() RETURNS integer
--   pg_partman's major version (4: Debian 12's postgresql-15-partman 4.7, partition type 'native'; 5: type
--   'range'), from pg_extension.extversion; NULL without pg_partman.
--
-- pgmq._get_partition_col(partition_interval text) RETURNS text
--   The column a partitioned queue table is partitioned on: 'msg_id' for a whole number of messages
--   ('10000'), 'enqueued_at' for anything else (a time interval such as '1 day'; pg_partman rejects what is
--   neither). The archive uses 'archived_at' where the queue uses 'enqueued_at'.
--
-- pgmq._partman_create_parent(parent_table text, control text, partition_interval text, premake integer,
--   retention text) RETURNS void
--   Registers the partitioned table pgmq.<parent_table> with pg_partman (create_parent, as pg_partman 4 or 5
--   spells it) unless it is already registered, creating the first partitions and the default partition, and
--   sets its retention (retention_keep_table = false: old partitions are dropped, not detached) with
--   automatic_maintenance 'on' (run_maintenance creates and drops partitions).
--
-- pgmq._partman_drop_config(parent_table text) RETURNS void
--   Forgets pgmq.<parent_table> in pg_partman (its part_config row and its template table) before the table
--   is dropped. Nothing without pg_partman or without a registration.
--
-- pgmq._is_partitioned(table_name text) RETURNS boolean
--   True when pgmq.<table_name> exists and is a partitioned table (relkind 'p').

CREATE OR REPLACE FUNCTION pgmq._order_direction(direction text)
RETURNS text
LANGUAGE plpgsql
IMMUTABLE
AS $$
DECLARE
    v_direction text := upper(direction);
BEGIN
    IF v_direction IN ('ASC', 'DESC') THEN
        RETURN v_direction;
    END IF;
    RAISE EXCEPTION USING
        ERRCODE = 'PQ003',
        MESSAGE = format('pgmq: direction must be ''ASC'' or ''DESC'', got %L', direction);
END;
$$;

CREATE OR REPLACE FUNCTION pgmq._create_queue(queue_name text, is_unlogged boolean)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    v_qtable text;
    v_atable text;
BEGIN
    PERFORM pgmq.validate_queue_name(queue_name);
    v_qtable := pgmq.format_table_name(queue_name, 'q');
    v_atable := pgmq.format_table_name(queue_name, 'a');

    -- Without the lock, two first-time creators race on the catalog and one fails with a unique violation
    -- on pg_type instead of skipping.
    PERFORM pgmq.acquire_queue_lock(queue_name);
    -- The queue-name rule (101_validate_queue_name.sql): byte limits, case and derived-name collisions.
    PERFORM pgmq._check_new_queue_name(queue_name);

    EXECUTE format(
        $sql$
        CREATE %s TABLE IF NOT EXISTS pgmq.%I (
            msg_id bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
            read_ct integer NOT NULL DEFAULT 0,
            enqueued_at timestamptz NOT NULL DEFAULT now(),
            last_read_at timestamptz,
            vt timestamptz NOT NULL,
            message jsonb,
            headers jsonb
        )
        $sql$,
        CASE WHEN is_unlogged THEN 'UNLOGGED' ELSE '' END,
        v_qtable
    );

    -- The archive is always logged: it is the record of finished work.
    EXECUTE format(
        $sql$
        CREATE TABLE IF NOT EXISTS pgmq.%I (
            msg_id bigint PRIMARY KEY,
            read_ct integer NOT NULL DEFAULT 0,
            enqueued_at timestamptz NOT NULL DEFAULT now(),
            last_read_at timestamptz,
            archived_at timestamptz NOT NULL DEFAULT now(),
            vt timestamptz NOT NULL,
            message jsonb,
            headers jsonb
        )
        $sql$,
        v_atable
    );

    -- Every read filters on vt.
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON pgmq.%I (vt ASC)', v_qtable || '_vt_idx', v_qtable);
    -- pgmq names this index after the queue name as given (case kept), so it is quoted.
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON pgmq.%I (archived_at)', 'archived_at_idx_' || queue_name, v_atable);

    INSERT INTO pgmq.meta (queue_name, is_partitioned, is_unlogged)
    VALUES (queue_name, false, is_unlogged)
    ON CONFLICT DO NOTHING;
END;
$$;

CREATE OR REPLACE FUNCTION pgmq._extension_exists(extension_name text)
RETURNS boolean
LANGUAGE sql
STABLE
AS $$
    SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension e WHERE e.extname = extension_name);
$$;

CREATE OR REPLACE FUNCTION pgmq._ensure_pg_partman_installed()
RETURNS void
LANGUAGE plpgsql
STABLE
AS $$
BEGIN
    IF NOT pgmq._extension_exists('pg_partman') THEN
        RAISE EXCEPTION 'pg_partman is required for partitioned queues';
    END IF;
END;
$$;

CREATE OR REPLACE FUNCTION pgmq._get_pg_partman_schema()
RETURNS text
LANGUAGE sql
STABLE
AS $$
    SELECT n.nspname::text
    FROM pg_catalog.pg_extension e
    JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_partman';
$$;

CREATE OR REPLACE FUNCTION pgmq._get_pg_partman_major_version()
RETURNS integer
LANGUAGE sql
STABLE
AS $$
    SELECT split_part(e.extversion, '.', 1)::integer FROM pg_catalog.pg_extension e WHERE e.extname = 'pg_partman';
$$;

CREATE OR REPLACE FUNCTION pgmq._get_partition_col(partition_interval text)
RETURNS text
LANGUAGE sql
IMMUTABLE
AS $$
    SELECT CASE WHEN btrim(partition_interval) ~ '^[0-9]+$' THEN 'msg_id' ELSE 'enqueued_at' END;
$$;

CREATE OR REPLACE FUNCTION pgmq._is_partitioned(table_name text)
RETURNS boolean
LANGUAGE sql
STABLE
AS $$
    SELECT coalesce((SELECT c.relkind = 'p' FROM pg_catalog.pg_class c
                     WHERE c.oid = pg_catalog.to_regclass(format('pgmq.%I', table_name))), false);
$$;

CREATE OR REPLACE FUNCTION pgmq._partman_create_parent(
    parent_table text,
    control text,
    partition_interval text,
    premake integer,
    retention text
)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    v_schema text := pgmq._get_pg_partman_schema();
    -- pg_partman records the parent as the text it was given, schema-qualified; it splits it at the dot.
    v_parent text := 'pgmq.' || parent_table;
    v_registered boolean;
BEGIN
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.part_config WHERE parent_table = $1)', v_schema)
    INTO v_registered USING v_parent;
    IF NOT v_registered THEN
        IF pgmq._get_pg_partman_major_version() >= 5 THEN
            EXECUTE format(
                'SELECT %I.create_parent(p_parent_table := $1, p_control := $2, p_interval := $3, '
                'p_type := ''range'', p_premake := $4)', v_schema)
            USING v_parent, control, partition_interval, premake;
        ELSE
            EXECUTE format(
                'SELECT %I.create_parent(p_parent_table := $1, p_control := $2, p_type := ''native'', '
                'p_interval := $3, p_premake := $4)', v_schema)
            USING v_parent, control, partition_interval, premake;
        END IF;
    END IF;
    EXECUTE format(
        'UPDATE %I.part_config SET retention = $1, retention_keep_table = false, retention_keep_index = true, '
        'automatic_maintenance = ''on'' WHERE parent_table = $2', v_schema)
    USING retention, v_parent;
END;
$$;

CREATE OR REPLACE FUNCTION pgmq._partman_drop_config(parent_table text)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    v_schema text := pgmq._get_pg_partman_schema();
    v_template text;
BEGIN
    IF v_schema IS NULL THEN
        RETURN;
    END IF;
    EXECUTE format('DELETE FROM %I.part_config WHERE parent_table = $1 RETURNING template_table', v_schema)
    INTO v_template USING 'pgmq.' || parent_table;
    -- The template table pg_partman made for the parent (recorded in part_config, schema-qualified text).
    IF v_template IS NOT NULL AND pg_catalog.to_regclass(v_template) IS NOT NULL THEN
        EXECUTE format('DROP TABLE %s', pg_catalog.to_regclass(v_template));
    END IF;
END;
$$;
