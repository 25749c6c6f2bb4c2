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
