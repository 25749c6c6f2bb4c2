-- The queue registry (migration 00005, 215_queue_statements.sql, sql/statements/): every queue has an id; its
-- statement functions and indexes are named after the id and recorded, so that names which used to collide
-- ('a' / 'a_lifo', 'x' / 'x_tq_grp') do not; the queue-name rule (101_validate_queue_name.sql) in bytes, with
-- case and derived-name collisions refused; names with %, spaces, double quotes or placeholder braces work
-- end to end; a DLQ of a registered queue cannot be dropped on its own.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(47);

-- What a queue's registry records, as (stmt, function name) and (purpose, index name).
CREATE FUNCTION pg_temp.statements(q text) RETURNS SETOF text LANGUAGE sql AS $$
    SELECT s.stmt || '=' || p.proname FROM pgtq.queue_statements s
    JOIN pgtq.queues u USING (queue_id) JOIN pg_proc p ON p.oid = s.fn
    WHERE u.queue_name = q ORDER BY 1
$$;
CREATE FUNCTION pg_temp.qid(q text) RETURNS bigint LANGUAGE sql AS $$
    SELECT queue_id FROM pgtq.queues WHERE queue_name = q
$$;
-- One grouped LIFO read, its completion, and a plain read + complete: every statement function of queue q.
CREATE FUNCTION pg_temp.exercise(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_t pgtq.task;
    v_out text := '';
BEGIN
    PERFORM pgtq.enqueue_batch(q, ARRAY['{"n":1}', '{"n":2}', '{"n":3}']::jsonb[], ARRAY['g', 'g', NULL]);
    FOR v_t IN SELECT * FROM pgtq.read(q, 5, 30, lifo => true, grouped => true, concurrency_limit => 10) LOOP
        v_out := v_out || (v_t.payload->>'n') || ',';
        PERFORM pgtq.complete(q, v_t.msg_id, v_t.attempt);
    END LOOP;
    FOR v_t IN SELECT * FROM pgtq.read(q, 5, 30, grouped => true) LOOP
        v_out := v_out || (v_t.payload->>'n') || ',';
        PERFORM pgtq.complete(q, ARRAY[v_t.msg_id], ARRAY[v_t.attempt]);
    END LOOP;
    RETURN v_out || (SELECT count(*) FROM pgtq.read(q, 5, 30));
END;
$$;
-- What a migration does for every queue (298_queue_statements.sql).
CREATE FUNCTION pg_temp.remigrate() RETURNS void LANGUAGE sql AS $$
    SELECT pgtq._install_queue_statements(q.queue_id) FROM pgtq.queues q ORDER BY q.queue_id;
    SELECT pgtq._setup(q.queue_id) FROM pgtq.queues q ORDER BY q.queue_id;
$$;

-- Recorded, named after the id, private.
SELECT pgtq.create_queue('st');
SELECT results_eq($$SELECT * FROM pg_temp.statements('st')$$,
    format($$VALUES %s$$, (SELECT string_agg(format('(%L)', s || '=_q' || pg_temp.qid('st') || '_' || s), ', ' ORDER BY s)
                           FROM unnest(ARRAY['candidates', 'claim', 'claim_ids', 'complete', 'drop_empty', 'enqueue',
                                             'heads', 'in_flight', 'lifo_heads', 'lock_ids']) s)),
    'create_queue records one statement function per template, named _q<id>_<stmt>');
SELECT is((SELECT count(*) FROM pgtq.queue_statements s JOIN pg_proc p ON p.oid = s.fn
           WHERE s.queue_id = pg_temp.qid('st')
             AND (has_function_privilege('public', p.oid, 'EXECUTE')
                  OR has_function_privilege('pgtq_worker', p.oid, 'EXECUTE')
                  OR has_function_privilege('pgtq_admin', p.oid, 'EXECUTE')
                  OR p.prosecdef
                  OR NOT p.proconfig @> ARRAY['plan_cache_mode=force_generic_plan', 'search_path=pg_catalog, pg_temp'])),
    0::bigint, 'no role may execute them; invoker rights, generic plans and a pinned search_path');
SELECT results_eq($$SELECT i.purpose, c.relname::text COLLATE "default" FROM pgtq.queue_indexes i JOIN pg_class c ON c.oid = i.idx
                    WHERE i.queue_id = pg_temp.qid('st') ORDER BY 1$$,
    format($$VALUES ('busy', 'pgtq_%1$s_busy'), ('dd', 'pgtq_%1$s_dd'), ('grp', 'pgtq_%1$s_grp'), ('ung', 'pgtq_%1$s_ung')$$,
           pg_temp.qid('st')),
    'its indexes are recorded and named pgtq_<id>_<purpose>');
SELECT is(pg_temp.exercise('st'), '3,2,1,0', 'reads and completes go through them');
SELECT throws_ok($$SELECT pgtq._render_statement('x {{nope}} y', 'f', 'q', 'a')$$, 'PQ003',
    'pgtq._render_statement: unknown placeholder {{nope}}', 'an unknown placeholder is a template error');

-- Dropped with the queue, by their records; a new queue of the same name gets a new id, and this session
-- (which cached the old plans) reads the new table.
CREATE TEMP TABLE old_st AS SELECT fn FROM pgtq.queue_statements WHERE queue_id = pg_temp.qid('st');
SELECT pgtq.drop_queue('st');
SELECT is((SELECT count(*) FROM old_st JOIN pg_proc p ON p.oid = old_st.fn), 0::bigint, 'drop_queue drops them');
SELECT pgtq.create_queue('st');
SELECT pgtq.enqueue('st', '{"n": 1}');
SELECT results_eq($$SELECT msg_id, payload FROM pgtq.read('st', 5, 30)$$, $$VALUES (1::bigint, '{"n": 1}'::jsonb)$$,
    'after drop_queue + create_queue the same session reads the new queue');

-- 'a' / 'a_lifo': a's lifo_heads and a_lifo's heads used to be one function. Both orders, then a re-migration.
SELECT pgtq.create_queue('a');
SELECT pgtq.create_queue('a_lifo');
SELECT pgtq.create_queue('b_lifo');
SELECT pgtq.create_queue('b');
SELECT is((SELECT count(*) FROM pgtq.queue_statements s JOIN pgtq.queues q USING (queue_id)
           WHERE q.queue_name IN ('a', 'a_lifo', 'b', 'b_lifo')), 40::bigint, 'a, a_lifo, b_lifo, b: ten statements each');
SELECT pg_temp.remigrate();
SELECT is(pg_temp.exercise('a'), '3,2,1,0', 'a: grouped LIFO read, completes and plain read after a re-migration');
SELECT is(pg_temp.exercise('a_lifo'), '3,2,1,0', 'a_lifo: the same');
SELECT is(pg_temp.exercise('b_lifo'), '3,2,1,0', 'b_lifo (created before b): the same');
SELECT is(pg_temp.exercise('b'), '3,2,1,0', 'b: the same');

-- 'x' / 'x_tq_grp': x's group index used to be named like x_tq_grp's table.
SELECT pgtq.create_queue('x');
SELECT lives_ok($$SELECT pgtq.create_queue('x_tq_grp')$$, 'x_tq_grp can be created after x');
SELECT is(pg_temp.exercise('x_tq_grp'), '3,2,1,0', 'and works');
SELECT is(pg_temp.exercise('x'), '3,2,1,0', 'and so does x');

-- Names that differ only in case are one table: the second spelling is refused, naming the first.
SELECT pgtq.create_queue('emails');
SELECT throws_ok($$SELECT pgtq.create_queue('Emails')$$, 'PQ002',
    'queue name ''Emails'' differs only in case from the existing queue ''emails'': names that differ only in case would share one table',
    'create_queue(''Emails'') beside emails: PQ002 naming emails');
SELECT is(pgtq.drop_queue('Emails'), false, 'drop_queue(''Emails'') drops nothing');
SELECT lives_ok($$SELECT pgtq.stats('emails')$$, 'emails is intact');
-- Derived names: x_vt_idx's table would be x's vt index.
SELECT throws_ok($$SELECT pgmq.create('x_vt_idx')$$, 'PQ002',
    'queue name ''x_vt_idx'' collides with the existing queue ''x'': a table or index PostgreSQL derives from one name is named like one derived from the other',
    'a name whose derived tables meet another queue''s is refused');

-- Byte limits: 47 bytes (43 with the default DLQ), whatever the characters.
SELECT lives_ok(format('SELECT pgtq.create_queue(%L, dlq => false)', repeat('ö', 23) || 'a'),
    '23 ö + a = 47 bytes without a DLQ: created');
SELECT is(pgtq.enqueue(repeat('ö', 23) || 'a', '{"m":1}'), 1::bigint, 'and its enqueue notifies (channel within 63 bytes)');
SELECT is((SELECT count(*) FROM pgtq.read(repeat('ö', 23) || 'a', 1, 30)), 1::bigint, 'and reads');
SELECT throws_ok(format('SELECT pgtq.create_queue(%L, dlq => false)', repeat('ö', 24)), 'PQ002',
    format('pgtq.create_queue: queue name %L is too long: 48 bytes, the maximum is 47 bytes (names derived from it, '
           'such as template_pgmq_q_<name> and the NOTIFY channel, must fit PostgreSQL''s 63-byte limit)', repeat('ö', 24)),
    '24 ö = 48 bytes: PQ002 with the limit and the value');
SELECT throws_ok(format('SELECT pgmq.create(%L)', repeat('ö', 24)), 'PQ002', NULL, 'pgmq.create applies the same rule');
SELECT throws_ok(format('SELECT pgmq.create(%L)', repeat('o', 48)), 'P0001',
    'queue name is too long, maximum length is 47 characters', 'over 47 characters: upstream''s error');
SELECT lives_ok(format('SELECT pgtq.create_queue(%L)', repeat('ö', 21) || 'a'), '43 bytes with the default DLQ: created');
SELECT throws_ok(format('SELECT pgtq.create_queue(%L)', repeat('ö', 22)), 'PQ002', NULL,
    '44 bytes with the default DLQ: PQ002 (the DLQ name would be 48 bytes)');
SELECT throws_ok(format('SELECT pgtq.create_queue(%L)', 'tab' || chr(9) || 'q'), 'PQ002', NULL, 'a control character: PQ002');
SELECT throws_ok($$SELECT pgtq.create_queue('it''s')$$, 'PQ002', NULL, 'a single quote: PQ002 (pgtq keeps its codes)');
SELECT throws_ok($$SELECT pgmq.create('it''s')$$, 'P0001', NULL, 'pgmq.create: upstream''s error');

-- %, spaces, double quotes and placeholder braces work end to end (nothing is formatted twice).
SELECT lives_ok($$SELECT pgtq.create_queue('pct%%')$$, 'pct%% created');
SELECT is(pg_temp.exercise('pct%%'), '3,2,1,0', 'pct%%: reads and completes');
SELECT lives_ok($$SELECT pgtq.create_queue('with space')$$, 'with space created');
SELECT is(pg_temp.exercise('with space'), '3,2,1,0', 'with space: reads and completes');
SELECT lives_ok($$SELECT pgtq.create_queue('dq"name')$$, 'dq"name created');
SELECT is(pg_temp.exercise('dq"name'), '3,2,1,0', 'dq"name: reads and completes');
SELECT lives_ok($$SELECT pgtq.create_queue('br{{a}}')$$, 'br{{a}} created');
SELECT is(pg_temp.exercise('br{{a}}'), '3,2,1,0', 'br{{a}}: reads and completes (a placeholder in a name stays text)');
SELECT pg_temp.remigrate();
SELECT is(pg_temp.exercise('pct%%') || pg_temp.exercise('br{{a}}'), '3,2,1,03,2,1,0', 'and again after a re-migration');

-- The DLQ of a registered queue cannot be dropped on its own.
SELECT throws_ok($$SELECT pgtq.drop_queue('emails_dlq')$$, 'PQ003',
    'pgtq.drop_queue: ''emails_dlq'' is the dead-letter queue of task queue ''emails''; drop ''emails'' instead (it drops its dead-letter queue with it)',
    'drop_queue of a live queue''s DLQ: PQ003 naming the owner');
SELECT is(pgtq.drop_queue('emails'), true, 'dropping the owner works');
SELECT ok(NOT EXISTS (SELECT 1 FROM pgmq.meta WHERE queue_name IN ('emails', 'emails_dlq')), 'and drops its DLQ with it');

-- A plain pgmq queue registered on first use (a worker's read) gets its statements too.
SELECT pgmq.create('plainq');
SELECT pgmq.send('plainq', '{"p": 1}');
SELECT results_eq($$SELECT msg_id FROM pgtq.read('plainq', 5, 30)$$, $$VALUES (1::bigint)$$,
    'a pgmq queue is read through pgtq');
SELECT is((SELECT count(*) FROM pg_temp.statements('plainq')), 10::bigint,
    'registering a pgmq queue on first use records its statement functions');

-- Queue tables get unthrottled autovacuum after 1000 + 1% dead rows; an operator's own setting is kept.
SELECT pgtq.create_queue('vac');
SELECT is((SELECT reloptions FROM pg_class WHERE oid = 'pgmq.q_vac'::regclass),
    '{autovacuum_vacuum_scale_factor=0.01,autovacuum_vacuum_threshold=1000,autovacuum_vacuum_cost_delay=0}'::text[],
    'a new queue table gets the vacuum settings of a table whose rows die young');
ALTER TABLE pgmq.q_vac RESET (autovacuum_vacuum_threshold, autovacuum_vacuum_cost_delay);
ALTER TABLE pgmq.q_vac SET (autovacuum_vacuum_scale_factor = 0.5);
SELECT pgtq.create_queue('vac');
SELECT is((SELECT reloptions FROM pg_class WHERE oid = 'pgmq.q_vac'::regclass),
    '{autovacuum_vacuum_scale_factor=0.5}'::text[], 'create_queue again leaves an operator''s setting alone');
SELECT pgmq.create('plainvac');
SELECT pgtq.read('plainvac', 1, 30);
SELECT ok((SELECT reloptions FROM pg_class WHERE oid = 'pgmq.q_plainvac'::regclass)
    @> '{autovacuum_vacuum_cost_delay=0}', 'a pgmq queue registered on first use gets them too');

SELECT * FROM finish();
ROLLBACK;
