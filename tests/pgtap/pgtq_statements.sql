-- Per-queue statement functions (215_queue_statements.sql): created with the queue (also when a plain pgmq
-- queue is registered on first use), executable by no role, generic plans, gone with the queue; and a
-- session that cached their plans keeps working across drop_queue + create_queue of the same name.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(10);

CREATE FUNCTION pg_temp.statements(q text) RETURNS SETOF text LANGUAGE sql AS $$
    SELECT p.proname::text FROM pg_proc p
    WHERE p.pronamespace = 'pgtq'::regnamespace AND p.proname LIKE '\_q\_' || q || '\_%' ORDER BY 1
$$;

SELECT pgtq.create_queue('st');
SELECT results_eq($$SELECT * FROM pg_temp.statements('st')$$,
    $$VALUES ('_q_st_candidates'), ('_q_st_claim'), ('_q_st_claim_ids'), ('_q_st_complete'), ('_q_st_drop_empty'),
             ('_q_st_enqueue'), ('_q_st_heads'), ('_q_st_in_flight'), ('_q_st_lifo_heads'), ('_q_st_lock_ids')$$,
    'create_queue writes the queue''s statement functions');
SELECT is((SELECT count(*) FROM pg_proc p
           WHERE p.pronamespace = 'pgtq'::regnamespace AND p.proname LIKE '\_q\_st\_%'
             AND (has_function_privilege('public', p.oid, 'EXECUTE')
                  OR has_function_privilege('pgtq_worker', p.oid, 'EXECUTE')
                  OR has_function_privilege('pgtq_admin', p.oid, 'EXECUTE')
                  OR p.prosecdef
                  OR NOT p.proconfig @> ARRAY['plan_cache_mode=force_generic_plan', 'search_path=pg_catalog, pg_temp'])),
    0::bigint, 'no role may execute them; invoker rights, generic plans and a pinned search_path');

-- Plain and grouped reads, LIFO, a limit and an array complete all go through them.
SELECT pgtq.enqueue_batch('st', array_fill('{}'::jsonb, ARRAY[4]), ARRAY[NULL, 'g', 'g', NULL]);
SELECT results_eq($$SELECT msg_id FROM pgtq.read('st', 1, 30, lifo => true)$$, $$VALUES (4::bigint)$$,
    'plain LIFO read through the claim statement');
SELECT results_eq($$SELECT msg_id FROM pgtq.read('st', 5, 30, grouped => true, concurrency_limit => 3)$$,
    $$VALUES (1::bigint), (2::bigint)$$, 'grouped read with a limit: one task of g and the ungrouped one');
SELECT results_eq($$SELECT * FROM pgtq.complete('st', ARRAY[1, 2, 4]::bigint[], ARRAY[1, 1, 1])$$,
    $$VALUES (1::bigint), (2::bigint), (4::bigint)$$, 'array complete through the complete statement');
SELECT results_eq($$SELECT msg_id FROM pgtq.read('st', 5, 30, grouped => true)$$, $$VALUES (3::bigint)$$,
    'the freed group delivers its next task');

-- Dropped with the queue; a new queue of the same name gets new ones, and this session (which cached the
-- old plans) reads the new table.
SELECT pgtq.drop_queue('st');
SELECT is_empty($$SELECT * FROM pg_temp.statements('st')$$, 'drop_queue drops them');
SELECT pgtq.create_queue('st');
SELECT pgtq.enqueue('st', '{"n": 1}');
SELECT results_eq($$SELECT msg_id, payload FROM pgtq.read('st', 5, 30)$$, $$VALUES (1::bigint, '{"n": 1}'::jsonb)$$,
    'after drop_queue + create_queue the same session reads the new queue');

-- A plain pgmq queue registered on first use gets them too.
SELECT pgmq.create('plainq');
SELECT pgmq.send('plainq', '{"p": 1}');
SELECT results_eq($$SELECT msg_id FROM pgtq.read('plainq', 5, 30)$$, $$VALUES (1::bigint)$$,
    'a pgmq queue is read through pgtq');
SELECT isnt_empty($$SELECT * FROM pg_temp.statements('plainq')$$,
    'registering a pgmq queue on first use writes its statement functions');

SELECT * FROM finish();
ROLLBACK;
