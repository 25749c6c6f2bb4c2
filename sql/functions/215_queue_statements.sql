-- Per-queue statement functions (internal).
--
-- Every queue has its own tables, so the generic functions (pgtq.read, pgtq.complete, ...) can reach them only
-- through EXECUTE, and PostgreSQL plans an EXECUTEd statement on every call: planning was about a third of a
-- plain read and most of a grouped one. So the hot statements are written out once per queue, with the
-- queue's table names in them, as static SQL inside small PL/pgSQL functions, whose plans each session caches.
-- The generic functions call them through a one-line EXECUTE that is cheap to plan. The plans are generic
-- from the first call (plan_cache_mode): with its default, PostgreSQL kept re-planning the claim, whose
-- generic plan it costs higher than a custom one (it cannot know LIMIT qty), though the plan is the same
-- index walk either way; every statement is written to be driven by an index whatever its parameters.
--
-- The statements themselves are plain SQL files, sql/statements/<stmt>.sql, each one CREATE FUNCTION with its
-- own comment; the migrator loads them into pgtq.statement_templates before these function files run.
-- Placeholders: {{fn}} the function's name, {{q}} and {{a}} the queue's table and archive (quoted
-- identifiers). They are substituted in one pass (pgtq._render_statement), so nothing in a queue name (a
-- '%', a '{{') is ever read as a placeholder or a format() specifier.
-- A queue's statement functions are named after its id, never its name ('_q<id>_<stmt>'), and recorded in
-- pgtq.queue_statements: install, re-install and drop go by the recorded regprocedure.
--
-- pgtq._statement(queue_id bigint, stmt text) RETURNS text
--   The name of a queue's statement function: '_q' || queue_id || '_' || stmt.
--
-- pgtq._render_statement(body text, fn text, q_table text, a_table text) RETURNS text
--   The template body with its placeholders replaced (quoted identifiers), in one pass. Raises PQ003 for an
--   unknown placeholder (a template bug).
--
-- pgtq._install_queue_statements(queue_id bigint) RETURNS void
--   (Re)creates the queue's statement functions from pgtq.statement_templates, dropping the recorded ones
--   first; executable by no role: only the SECURITY DEFINER functions call them. Called when a queue is
--   registered (pgtq._setup) and for every queue after each migration of the functions
--   (298_queue_statements.sql), so that they follow the code.
--
-- pgtq._drop_queue_statements(queue_id bigint) RETURNS void
--   Drops the recorded statement functions of the queue and forgets them (pgtq.drop_queue).

CREATE OR REPLACE FUNCTION pgtq._statement(queue_id bigint, stmt text)
RETURNS text
LANGUAGE sql
IMMUTABLE
AS $$
    SELECT '_q' || queue_id || '_' || stmt;
$$;

CREATE OR REPLACE FUNCTION pgtq._render_statement(body text, fn text, q_table text, a_table text)
RETURNS text
LANGUAGE plpgsql
IMMUTABLE
AS $$
DECLARE
    v_out text := '';
    v_part text;
    v_i bigint;
BEGIN
    -- Splitting on the delimiters alternates text (odd parts) and placeholder names (even parts).
    FOR v_part, v_i IN SELECT p, i FROM regexp_split_to_table(body, '\{\{|\}\}') WITH ORDINALITY AS s (p, i) LOOP
        IF v_i % 2 = 1 THEN
            v_out := v_out || v_part;
        ELSE
            v_out := v_out || CASE v_part
                WHEN 'fn' THEN quote_ident(fn)
                WHEN 'q' THEN quote_ident(q_table)
                WHEN 'a' THEN quote_ident(a_table)
            END;
            IF v_part NOT IN ('fn', 'q', 'a') THEN
                RAISE EXCEPTION USING
                    ERRCODE = 'PQ003',
                    MESSAGE = format('pgtq._render_statement: unknown placeholder {{%s}}', v_part);
            END IF;
        END IF;
    END LOOP;
    RETURN v_out;
END;
$$;

CREATE OR REPLACE FUNCTION pgtq._drop_queue_statements(queue_id bigint)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    v_fn regprocedure;
BEGIN
    FOR v_fn IN
        SELECT s.fn FROM pgtq.queue_statements s
        JOIN pg_catalog.pg_proc p ON p.oid = s.fn
        WHERE s.queue_id = _drop_queue_statements.queue_id
    LOOP
        EXECUTE format('DROP FUNCTION %s', v_fn);
    END LOOP;
    DELETE FROM pgtq.queue_statements s WHERE s.queue_id = _drop_queue_statements.queue_id;
END;
$$;

CREATE OR REPLACE FUNCTION pgtq._install_queue_statements(queue_id bigint)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    v_queue text;
    v_t record;
    v_name text;
    v_fn regprocedure;
BEGIN
    SELECT q.queue_name INTO v_queue FROM pgtq.queues q WHERE q.queue_id = _install_queue_statements.queue_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ001',
            MESSAGE = format('pgtq._install_queue_statements: no queue with id %s', queue_id);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pgtq.statement_templates) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = 'pgtq._install_queue_statements: pgtq.statement_templates is empty',
            HINT = 'Install PGTQ with pgtq-migrate (or migrate.Up), which loads sql/statements.';
    END IF;
    PERFORM pgtq._drop_queue_statements(queue_id);

    FOR v_t IN SELECT t.stmt, t.body FROM pgtq.statement_templates t ORDER BY t.stmt LOOP
        v_name := pgtq._statement(queue_id, v_t.stmt);
        EXECUTE pgtq._render_statement(v_t.body, v_name, pgmq.format_table_name(v_queue, 'q'),
                                       pgmq.format_table_name(v_queue, 'a'));
        -- The function just created: the only one of that exact name, as every earlier one was dropped above
        -- (STRICT raises if a template created none or a stray overload of the name exists).
        SELECT p.oid::regprocedure INTO STRICT v_fn FROM pg_catalog.pg_proc p
        WHERE p.pronamespace = 'pgtq'::regnamespace AND p.proname = v_name;
        -- Like every pgtq._* helper: executable only through the SECURITY DEFINER functions.
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', v_fn);
        INSERT INTO pgtq.queue_statements (queue_id, stmt, fn) VALUES (queue_id, v_t.stmt, v_fn);
    END LOOP;
END;
$$;
