-- pgmq.validate_queue_name(queue_name text) RETURNS void
--
-- Upstream's length check: names longer than 47 characters raise P0001 'queue name is too long, maximum length
-- is 47 characters' (the longest table PostgreSQL derives from a queue is template_pgmq_q_<name>: 16 + 47 =
-- 63). PostgreSQL's limit is 63 *bytes*, though, so a name within 47 characters but over 47 bytes would be
-- truncated in some derived names and overflow the NOTIFY channel: that raises PQ002 (no upstream text).
--
-- The queue-name rule, in this one place (used by every pgmq.create*, by pgtq.create_queue and, through
-- the PQ002 errors it raises, by the Go driver):
--
-- pgmq._queue_name_problem(queue_name text) RETURNS text
--   NULL when queue_name is a valid name, else what is wrong with it (names the value and the limit):
--     * NULL or empty;
--     * over 47 bytes (every derived name must fit PostgreSQL's 63-byte identifiers and NOTIFY channels:
--       template_pgmq_q_<name>, archived_at_idx_<name>, q_<name>_msg_id_seq, "pgmq.q_<name>.INSERT");
--     * upstream's forbidden characters $ ; -- ' (checked by pgmq.format_table_name with upstream's text);
--     * control characters (U+0000-U+001F, U+007F): they survive %I quoting but not logs, LISTEN commands
--       typed by people or the NOTIFY channel names that clients build.
--   Anything else (spaces, %, double quotes, multibyte letters) works: every identifier goes through %I,
--   every value through USING, and no statement text is formatted twice.
--
-- pgmq._derived_names(queue_name text) RETURNS SETOF text
--   Every relation name in schema pgmq that pgmq derives from a queue name, now or later (pgmq.create*,
--   create_fifo_index, pg_partman's template and default partitions).
--
-- pgmq._check_new_queue_name(queue_name text) RETURNS void
--   For a name that is not yet a queue: applies the rule above and refuses a name whose derived names meet an
--   existing queue's (names that differ only in case share their tables: 'Emails' beside 'emails'; 'x_vt_idx'
--   is the table that 'x''s vt index would be), naming the existing queue. Takes a transaction advisory lock
--   that serialises queue creation, so two creators of colliding names cannot both pass.
--   Raises P0001 (upstream's texts: over 47 characters, forbidden characters), PQ002 otherwise.

CREATE OR REPLACE FUNCTION pgmq.validate_queue_name(queue_name text)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    IF length(queue_name) > 47 THEN
        RAISE EXCEPTION 'queue name is too long, maximum length is 47 characters';
    END IF;
    IF octet_length(queue_name) > 47 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ002',
            MESSAGE = pgmq._queue_name_problem(queue_name);
    END IF;
END;
$$;

CREATE OR REPLACE FUNCTION pgmq._queue_name_problem(queue_name text)
RETURNS text
LANGUAGE sql
IMMUTABLE
AS $$
    SELECT CASE
        WHEN queue_name IS NULL OR queue_name = '' THEN
            format('queue name must not be NULL or empty, got %s', coalesce(quote_literal(queue_name), 'NULL'))
        WHEN octet_length(queue_name) > 47 THEN
            format('queue name %L is too long: %s bytes, the maximum is 47 bytes (names derived from it, such as '
                   'template_pgmq_q_<name> and the NOTIFY channel, must fit PostgreSQL''s 63-byte limit)',
                   queue_name, octet_length(queue_name))
        WHEN queue_name ~ '\$|;|--|''' THEN
            format('queue name %L contains invalid characters: $, ;, --, or ''', queue_name)
        WHEN queue_name ~ '[\x01-\x1f\x7f]' THEN
            format('queue name %L contains a control character', queue_name)
    END;
$$;

CREATE OR REPLACE FUNCTION pgmq._derived_names(queue_name text)
RETURNS SETOF text
LANGUAGE sql
IMMUTABLE
AS $$
    SELECT lower(n) FROM unnest(ARRAY[
        'q_' || queue_name, 'a_' || queue_name,
        'q_' || queue_name || '_pkey', 'a_' || queue_name || '_pkey',
        'q_' || queue_name || '_vt_idx', 'q_' || queue_name || '_msg_id_seq',
        'q_' || queue_name || '_fifo_idx', 'q_' || queue_name || '_part_idx',
        'q_' || queue_name || '_default', 'a_' || queue_name || '_default',
        'template_pgmq_q_' || queue_name, 'template_pgmq_a_' || queue_name]) AS n
    UNION ALL
    -- pgmq keeps the name's case in the archive index.
    SELECT 'archived_at_idx_' || queue_name;
$$;

CREATE OR REPLACE FUNCTION pgmq._check_new_queue_name(queue_name text)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    v_problem text;
    v_other text;
BEGIN
    -- Upstream's texts first (P0001), for the checks upstream makes.
    PERFORM pgmq.validate_queue_name(queue_name);
    PERFORM pgmq.format_table_name(queue_name, 'q');
    v_problem := pgmq._queue_name_problem(queue_name);
    IF v_problem IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'PQ002', MESSAGE = v_problem;
    END IF;
    -- Queue creation is rare: one lock for all of it makes the check below race-free (two creators of
    -- 'Emails' and 'emails' take different per-name locks).
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('pgmq.create_queue'));
    IF EXISTS (SELECT 1 FROM pgmq.meta m WHERE m.queue_name = _check_new_queue_name.queue_name) THEN
        RETURN;
    END IF;
    SELECT m.queue_name INTO v_other FROM pgmq.meta m
    WHERE lower(m.queue_name) = lower(_check_new_queue_name.queue_name)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ002',
            MESSAGE = format('queue name %L differs only in case from the existing queue %L: names that differ '
                             'only in case would share one table', queue_name, v_other);
    END IF;
    SELECT m.queue_name INTO v_other FROM pgmq.meta m
    WHERE EXISTS (SELECT 1 FROM pgmq._derived_names(m.queue_name) o
                  JOIN pgmq._derived_names(_check_new_queue_name.queue_name) n ON n = o)
    ORDER BY m.queue_name
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ002',
            MESSAGE = format('queue name %L collides with the existing queue %L: a table or index PostgreSQL '
                             'derives from one name is named like one derived from the other', queue_name, v_other);
    END IF;
END;
$$;
