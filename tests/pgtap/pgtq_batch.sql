-- The batch hot paths: pgtq.complete's array form on a mixed batch (grouped, ungrouped, stale attempts: one
-- statement archives, the group bookkeeping is set-based) and the plain pgtq.read that locks, claims and
-- flags over-attempt tasks in one statement, with and without a concurrency limit.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(20);

-- a: 1, 2   b: 3   ungrouped: 4, 5
SELECT pgtq.create_queue('cb');
SELECT pgtq.enqueue_batch('cb', array_fill('{}'::jsonb, ARRAY[5]), ARRAY['a', 'a', 'b', NULL, NULL]);
CREATE TEMP TABLE c1 AS SELECT * FROM pgtq.read('cb', 10, 30, grouped => true);
SELECT results_eq($$SELECT msg_id, group_key FROM c1 ORDER BY msg_id$$,
    $$VALUES (1::bigint, 'a'), (3::bigint, 'b'), (4::bigint, NULL), (5::bigint, NULL)$$,
    'grouped read: the head of each group and the ungrouped tasks');

-- One call completes 1 (a), 3 (b) and 4; 5 presents a stale attempt, 99 does not exist.
SELECT results_eq($$SELECT * FROM pgtq.complete('cb', ARRAY[5, 4, 3, 1, 99]::bigint[], ARRAY[7, 1, 1, 1, 1])$$,
    $$VALUES (1::bigint), (3::bigint), (4::bigint)$$, 'array complete returns exactly the completed msg_ids');
SELECT results_eq($$SELECT msg_id, headers->>'x-pgtq-status' FROM pgmq.a_cb ORDER BY msg_id$$,
    $$VALUES (1::bigint, 'completed'), (3::bigint, 'completed'), (4::bigint, 'completed')$$,
    'completed tasks archived with status completed, grouped and ungrouped alike');
SELECT results_eq($$SELECT msg_id, headers->>'x-pgtq-status' FROM pgmq.q_cb ORDER BY msg_id$$,
    $$VALUES (2::bigint, 'queued'), (5::bigint, 'processing')$$,
    'the stale attempt left its task alone; the next task of a is still queued');
SELECT results_eq($$SELECT group_key, busy_msg_id, head_msg_id FROM pgtq.groups WHERE queue_name = 'cb'$$,
    $$VALUES ('a'::text, NULL::bigint, 2::bigint)$$,
    'group a is idle with its next task as head hint; the emptied group b lost its row');
SELECT results_eq($$SELECT msg_id FROM pgtq.read('cb', 10, 30, grouped => true)$$, $$VALUES (2::bigint)$$,
    'the freed group a delivers its next task');
SELECT is((SELECT busy_msg_id FROM pgtq.groups WHERE queue_name = 'cb' AND group_key = 'a'), 2::bigint,
    'and is busy with it');
SELECT results_eq($$SELECT * FROM pgtq.complete('cb', ARRAY[2, 5]::bigint[], ARRAY[1, 1])$$,
    $$VALUES (2::bigint), (5::bigint)$$, 'the last tasks complete');
SELECT is((SELECT count(*) FROM pgtq.groups WHERE queue_name = 'cb'), 0::bigint, 'no group row is left');
SELECT is((SELECT count(*) FROM pgtq.complete('cb', '{}'::bigint[], '{}'::integer[])), 0::bigint,
    'an empty batch completes nothing');

-- Two tasks of one group in one batch (claimed by non-grouped reads): both archived, the row goes away.
SELECT pgtq.enqueue_batch('cb', array_fill('{}'::jsonb, ARRAY[2]), ARRAY['c', 'c']);
SELECT is((SELECT count(*) FROM pgtq.read('cb', 5, 30)), 2::bigint, 'a plain read claims both tasks of group c');
SELECT is((SELECT count(*) FROM pgtq.complete('cb', ARRAY[6, 7]::bigint[], ARRAY[1, 1])), 2::bigint,
    'one batch completes both');
SELECT is((SELECT count(*) FROM pgtq.groups WHERE queue_name = 'cb'), 0::bigint, 'group c row deleted once empty');

-- Plain read: over-attempt tasks are dead-lettered and the batch is filled from the following tasks; the
-- concurrency limit counts in the claim statement and dead-lettered tasks do not use a slot.
SELECT pgtq.create_queue('ml');
SELECT pgtq.enqueue_batch('ml', array_fill('{}'::jsonb, ARRAY[6]));
SELECT is((SELECT count(*) FROM pgtq.read('ml', 2, 30)), 2::bigint, 'tasks 1 and 2 claimed');
UPDATE pgmq.q_ml SET vt = clock_timestamp() - interval '1 s' WHERE msg_id IN (1, 2);
SELECT results_eq($$SELECT msg_id, attempt FROM pgtq.read('ml', 2, 30, concurrency_limit => 3, max_lost_leases => 1)$$,
    $$VALUES (3::bigint, 1), (4::bigint, 1)$$,
    'expired tasks at max_attempts are dead-lettered, the next two are claimed instead');
SELECT results_eq($$SELECT msg_id, headers->>'x-pgtq-status' FROM pgmq.a_ml ORDER BY msg_id$$,
    $$VALUES (1::bigint, 'dead_lettered'), (2::bigint, 'dead_lettered')$$, 'both archived as dead_lettered');
SELECT is((SELECT count(*) FROM pgmq.q_ml_dlq), 2::bigint, 'one DLQ entry each');
SELECT results_eq($$SELECT msg_id FROM pgtq.read('ml', 5, 30, concurrency_limit => 3)$$, $$VALUES (5::bigint)$$,
    '2 in flight under limit 3: one more');
SELECT is((SELECT count(*) FROM pgtq.read('ml', 5, 30, concurrency_limit => 3)), 0::bigint, 'at the limit: nothing');
SELECT results_eq($$SELECT msg_id FROM pgtq.read('ml', 5, 30, lifo => true)$$, $$VALUES (6::bigint)$$,
    'without a limit the last task is claimed (LIFO)');

SELECT * FROM finish();
ROLLBACK;
