-- The queue registry: every task queue gets a stable id, and every queue-specific object of ours (statement
-- functions, indexes) takes its name from that id and is recorded here, so that install, re-install and
-- drop never find objects by a name pattern. Names derived from queue names collided: queue 'a''s statement
-- 'lifo_heads' and queue 'a_lifo''s 'heads' were one function, 'x''s index 'q_x_tq_grp' was queue
-- 'x_tq_grp''s table name.
--
--   pgtq.queues.queue_id        stable id (identity, never reused).
--   pgtq.statement_templates    the per-queue statement templates (sql/statements/<stmt>.sql), loaded by
--                               the migrator before the function files on every migrate.
--   pgtq.queue_statements       one row per installed statement function of a queue.
--   pgtq.queue_indexes          one row per index of ours on a queue table (purpose: grp, ung, dd, busy).
-- Existing queues' indexes are renamed to their id-based names here (matched one last time by the old
-- names, on the queue's own table); their statement functions are dropped here and re-installed from the
-- templates by the function files (298_queue_statements.sql). pgtq.read's last parameter is renamed
-- (max_attempts -> max_lost_leases), and the internal helpers that took a table name now take the id.

-- +goose Up
ALTER TABLE pgtq.queues ADD COLUMN queue_id bigint GENERATED ALWAYS AS IDENTITY;
ALTER TABLE pgtq.queues ADD CONSTRAINT queues_queue_id_key UNIQUE (queue_id);

CREATE TABLE pgtq.statement_templates (
    stmt text PRIMARY KEY,
    body text NOT NULL
);

CREATE TABLE pgtq.queue_statements (
    queue_id bigint NOT NULL REFERENCES pgtq.queues (queue_id) ON DELETE CASCADE,
    stmt     text NOT NULL,
    fn       regprocedure NOT NULL,
    PRIMARY KEY (queue_id, stmt)
);

CREATE TABLE pgtq.queue_indexes (
    queue_id bigint NOT NULL REFERENCES pgtq.queues (queue_id) ON DELETE CASCADE,
    purpose  text NOT NULL,
    idx      regclass NOT NULL,
    PRIMARY KEY (queue_id, purpose)
);

-- +goose StatementBegin
DO $$
DECLARE
    q record;
    v_purpose text;
    v_old regclass;
    v_fn regprocedure;
BEGIN
    FOR q IN SELECT queue_id, queue_name, 'q_' || lower(queue_name) AS q_table FROM pgtq.queues LOOP
        FOREACH v_purpose IN ARRAY ARRAY['grp', 'ung', 'dd', 'busy'] LOOP
            SELECT i.indexrelid::regclass INTO v_old
            FROM pg_catalog.pg_index i
            JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid = pg_catalog.to_regclass(format('pgmq.%I', q.q_table))
              AND c.relname = q.q_table || '_tq_' || v_purpose;
            IF v_old IS NOT NULL THEN
                EXECUTE format('ALTER INDEX %s RENAME TO %I', v_old, 'pgtq_' || q.queue_id || '_' || v_purpose);
                INSERT INTO pgtq.queue_indexes (queue_id, purpose, idx) VALUES (q.queue_id, v_purpose, v_old);
            END IF;
        END LOOP;
        FOR v_fn IN
            SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
            WHERE p.pronamespace = 'pgtq'::regnamespace
              AND p.proname IN (SELECT '_' || q.q_table || '_' || s FROM unnest(ARRAY[
                  'claim', 'claim_ids', 'lock_ids', 'candidates', 'lifo_heads', 'in_flight', 'complete', 'heads',
                  'drop_empty', 'enqueue']) AS s)
        LOOP
            EXECUTE format('DROP FUNCTION %s', v_fn);
        END LOOP;
    END LOOP;
END
$$;
-- +goose StatementEnd

DROP FUNCTION IF EXISTS pgtq._statement(text, text);
DROP FUNCTION IF EXISTS pgtq._queue_statements(text);
DROP FUNCTION IF EXISTS pgtq._drop_queue_statements(text);
DROP FUNCTION IF EXISTS pgtq._install_queue_statements(text);
DROP FUNCTION IF EXISTS pgtq._groups_done(text, text, text[], bigint[]);
DROP FUNCTION IF EXISTS pgtq._group_done(text, text, text, bigint);
DROP FUNCTION IF EXISTS pgtq._notify(text);
DROP FUNCTION IF EXISTS pgtq._append_error(jsonb, integer, text);
DROP FUNCTION IF EXISTS pgtq._queue(text, text, boolean);
DROP FUNCTION IF EXISTS pgtq.read(text, integer, integer, boolean, boolean, integer, integer);

-- +goose Down
-- +goose StatementBegin
DO $$
DECLARE
    v_fn regprocedure;
BEGIN
    FOR v_fn IN SELECT s.fn FROM pgtq.queue_statements s
                JOIN pg_catalog.pg_proc p ON p.oid = s.fn LOOP
        EXECUTE format('DROP FUNCTION %s', v_fn);
    END LOOP;
END
$$;
-- +goose StatementEnd
DROP FUNCTION IF EXISTS pgtq.read(text, integer, integer, boolean, boolean, integer, integer);
DROP FUNCTION IF EXISTS pgtq._queue(text, text, boolean);
DROP TABLE pgtq.queue_indexes;
DROP TABLE pgtq.queue_statements;
DROP TABLE pgtq.statement_templates;
ALTER TABLE pgtq.queues DROP COLUMN queue_id;
