-- Grouped reads: one task per group per read, a group blocked while its task is processing or waiting to
-- retry, freed by complete / dead-lettering / release, a delayed task not holding its group back, FIFO and
-- LIFO next task, redelivery of an expired busy task first, ungrouped tasks as their own groups, group rows.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(38);

SELECT pgtq.create_queue('gr');
-- a: 1, 2, 3   b: 4, 5   ungrouped: 6, 7
SELECT pgtq.enqueue_batch('gr', array_fill('{}'::jsonb, ARRAY[7]), ARRAY['a', 'a', 'a', 'b', 'b', NULL, NULL]);

SELECT is((SELECT count(*) FROM pgtq.groups WHERE queue_name = 'gr'), 2::bigint, 'one group row per active group');
SELECT results_eq($$SELECT msg_id, group_key FROM pgtq.read('gr', 10, 30, grouped => true)$$,
    $$VALUES (1::bigint, 'a'), (4::bigint, 'b'), (6::bigint, NULL), (7::bigint, NULL)$$,
    'one task per group per read, each group''s oldest; ungrouped tasks are their own groups');
SELECT results_eq($$SELECT group_key, busy_msg_id FROM pgtq.groups WHERE queue_name = 'gr' ORDER BY 1$$,
    $$VALUES ('a', 1::bigint), ('b', 4::bigint)$$, 'both groups busy with their claimed task');
SELECT is((SELECT count(*) FROM pgtq.read('gr', 10, 30, grouped => true)), 0::bigint,
    'busy groups give nothing more although tasks 2, 3, 5 are visible');
SELECT results_eq($$SELECT msg_id FROM pgtq.read('gr', 10, 30) ORDER BY 1$$, ARRAY[2, 3, 5]::bigint[],
    '(a non-grouped read would take them: they are visible)');
-- put them back for the rest of the test
UPDATE pgmq.q_gr SET vt = clock_timestamp(), read_ct = 0, headers = headers || '{"x-pgtq-status":"queued"}' WHERE msg_id IN (2, 3, 5);

-- complete frees the group; the next is the oldest visible
SELECT is(pgtq.complete('gr', 1, 1), true, 'complete task 1');
SELECT is((SELECT busy_msg_id FROM pgtq.groups WHERE queue_name = 'gr' AND group_key = 'a'), NULL, 'group a idle again');
SELECT results_eq($$SELECT msg_id FROM pgtq.read('gr', 10, 30, grouped => true)$$, ARRAY[2]::bigint[],
    'group a continues with task 2; b still busy');

-- retrying keeps the group busy
SELECT is(pgtq.fail('gr', 2, 1, 'x', true, 1, 60), 'retrying', 'task 2 fails and waits to retry');
SELECT is((SELECT busy_msg_id FROM pgtq.groups WHERE queue_name = 'gr' AND group_key = 'a'), 2::bigint, 'group a stays busy with it');
SELECT is((SELECT count(*) FROM pgtq.read('gr', 10, 30, grouped => true)), 0::bigint, 'task 3 is blocked behind the retry');
UPDATE pgmq.q_gr SET vt = clock_timestamp() - interval '1 s' WHERE msg_id = 2;
SELECT results_eq($$SELECT msg_id, attempt FROM pgtq.read('gr', 10, 30, grouped => true)$$, $$VALUES (2::bigint, 2)$$,
    'when due, the retry is redelivered before anything else of the group');

-- dead-lettering frees the group
SELECT is(pgtq.fail('gr', 2, 2, 'y', true, 1, 0), 'dead_lettered', 'task 2 dead-lettered');
SELECT results_eq($$SELECT msg_id FROM pgtq.read('gr', 10, 30, grouped => true)$$, ARRAY[3]::bigint[],
    'group a continues with task 3');

-- an expired lease: the same task is redelivered, nothing else of the group starts
UPDATE pgmq.q_gr SET vt = clock_timestamp() - interval '1 s' WHERE msg_id = 4;
SELECT results_eq($$SELECT msg_id, attempt FROM pgtq.read('gr', 10, 30, grouped => true)$$, $$VALUES (4::bigint, 2)$$,
    'expired busy task 4 is redelivered (not task 5)');
SELECT is(pgtq.complete('gr', 4, 1), false, 'the first holder lost the lease');

-- release frees the group without burning the attempt
SELECT is(pgtq.release('gr', 4, 2), true, 'release task 4');
SELECT is((SELECT busy_msg_id FROM pgtq.groups WHERE queue_name = 'gr' AND group_key = 'b'), NULL, 'group b idle after release');
SELECT results_eq($$SELECT msg_id, attempt FROM pgtq.read('gr', 10, 30, grouped => true)$$, $$VALUES (4::bigint, 2)$$,
    'the released task is the oldest again and keeps attempt 2 (release did not count)');

-- group rows vanish with the group's last task
SELECT pgtq.complete('gr', 3, 1);
SELECT ok(NOT EXISTS (SELECT 1 FROM pgtq.groups WHERE queue_name = 'gr' AND group_key = 'a'), 'empty group a removed');
SELECT pgtq.complete('gr', 4, 2);
SELECT results_eq($$SELECT msg_id FROM pgtq.read('gr', 10, 30, grouped => true)$$, ARRAY[5]::bigint[], 'then task 5');
SELECT pgtq.complete('gr', 5, 1);
SELECT is((SELECT count(*) FROM pgtq.groups WHERE queue_name = 'gr'), 0::bigint, 'no group rows left');

-- a delayed task does not hold its group back
SELECT pgtq.create_queue('gd');
SELECT pgtq.enqueue('gd', '{"d":1}', 'g', delay => 300);               -- 1, delayed
SELECT pgtq.enqueue('gd', '{"d":2}', 'g');                             -- 2
SELECT pgtq.enqueue('gd', '{"d":3}', 'g');                             -- 3
SELECT results_eq($$SELECT msg_id FROM pgtq.read('gd', 10, 30, grouped => true)$$, ARRAY[2]::bigint[],
    'the group starts with its oldest visible task; the delayed one does not block it');
SELECT pgtq.complete('gd', 2, 1);
SELECT results_eq($$SELECT msg_id FROM pgtq.read('gd', 10, 30, grouped => true)$$, ARRAY[3]::bigint[], 'then task 3');

-- LIFO: the group's newest visible task first, groups ordered newest first
SELECT pgtq.create_queue('gl');
SELECT pgtq.enqueue_batch('gl', array_fill('{}'::jsonb, ARRAY[5]), ARRAY['x', 'y', 'x', 'y', 'x']);
SELECT results_eq($$SELECT msg_id, group_key FROM pgtq.read('gl', 10, 30, lifo => true, grouped => true)$$,
    $$VALUES (5::bigint, 'x'), (4::bigint, 'y')$$, 'LIFO: each group''s newest task, newest group first');
SELECT is((SELECT count(*) FROM pgtq.read('gl', 10, 30, lifo => true, grouped => true)), 0::bigint, 'LIFO groups are serialised too');
SELECT pgtq.complete('gl', 5, 1);
SELECT results_eq($$SELECT msg_id FROM pgtq.read('gl', 10, 30, lifo => true, grouped => true)$$, ARRAY[3]::bigint[],
    'LIFO next of group x is its newest remaining task');

-- LIFO heads come from a window of the newest visible tasks (qty 3: 20 * (3 * 3 + 16) = 500 rows) ...
SELECT pgtq.create_queue('gw');
SELECT pgtq.enqueue_batch('gw', array_fill('{}'::jsonb, ARRAY[700]), ARRAY(SELECT 'w' || (i % 50) FROM generate_series(1, 700) i));
SELECT results_eq($$SELECT msg_id FROM pgtq.read('gw', 3, 30, lifo => true, grouped => true)$$, ARRAY[700, 699, 698]::bigint[],
    'LIFO over a full window: the three newest groups'' newest tasks');
-- ... and when the window holds only busy groups, every idle group is probed
SELECT pgtq.create_queue('gh');
SELECT pgtq.enqueue_batch('gh', array_fill('{}'::jsonb, ARRAY[5]), ARRAY['a', 'b', 'c', 'd', 'e']);
SELECT pgtq.enqueue_batch('gh', array_fill('{}'::jsonb, ARRAY[500]), array_fill('hot'::text, ARRAY[500]));
SELECT results_eq($$SELECT msg_id FROM pgtq.read('gh', 1, 30, lifo => true, grouped => true)$$, ARRAY[505]::bigint[],
    'LIFO: the hot group''s newest task first');
SELECT results_eq($$SELECT msg_id FROM pgtq.read('gh', 2, 30, lifo => true, grouped => true)$$, ARRAY[5, 4]::bigint[],
    'LIFO: with the newest 440 visible tasks all in the busy hot group, the older idle groups are still found');

-- qty limits the number of groups, in FIFO order of their heads
SELECT pgtq.create_queue('gq');
SELECT pgtq.enqueue_batch('gq', array_fill('{}'::jsonb, ARRAY[6]), ARRAY['p', 'q', 'r', 'p', 'q', 'r']);
SELECT results_eq($$SELECT msg_id FROM pgtq.read('gq', 2, 30, grouped => true)$$, ARRAY[1, 2]::bigint[],
    'qty 2 takes the two oldest heads');
-- a concurrency limit applies to grouped reads as well
SELECT results_eq($$SELECT msg_id FROM pgtq.read('gq', 5, 30, grouped => true, concurrency_limit => 3)$$, ARRAY[3]::bigint[],
    'limit 3 with 2 in flight: one more group');

-- seed-style: messages sent with plain pgmq.send and a group header are grouped too
SELECT pgmq.create('gs');
SELECT pgmq.send('gs', '{"s":1}', '{"x-pgmq-group":"k"}'::jsonb);
SELECT pgmq.send('gs', '{"s":2}', '{"x-pgmq-group":"k"}'::jsonb);
SELECT results_eq($$SELECT msg_id FROM pgtq.read('gs', 10, 30, grouped => true)$$, ARRAY[1]::bigint[],
    'pgmq.send messages of one group are serialised (backfilled group row)');
SELECT pgmq.send('gs', '{"s":3}', '{"x-pgmq-group":"m"}'::jsonb);
SELECT results_eq($$SELECT msg_id FROM pgtq.read('gs', 10, 30, grouped => true)$$, ARRAY[3]::bigint[],
    'a group first seen through pgmq.send after registration gets its row from the trigger');

-- max_attempts in a grouped read: the expired busy task is dead-lettered, which frees its group
SELECT pgtq.create_queue('gm');
SELECT pgtq.enqueue_batch('gm', array_fill('{}'::jsonb, ARRAY[2]), ARRAY['z', 'z']);
SELECT pgtq.read('gm', 1, 30, grouped => true, max_lost_leases => 1);
UPDATE pgmq.q_gm SET vt = clock_timestamp() - interval '1 s' WHERE msg_id = 1;
SELECT is((SELECT count(*) FROM pgtq.read('gm', 5, 30, grouped => true, max_lost_leases => 1)), 0::bigint,
    'the expired task over max_attempts is not delivered (and the group''s next waits for the next read)');
SELECT is((SELECT headers->>'x-pgtq-status' FROM pgmq.a_gm WHERE msg_id = 1), 'dead_lettered', 'it was dead-lettered');
SELECT results_eq($$SELECT msg_id FROM pgtq.read('gm', 5, 30, grouped => true, max_lost_leases => 1)$$, ARRAY[2]::bigint[],
    'the group is free: its next task starts');

-- a busy task removed behind pgtq's back (pgmq.delete) does not block its group for ever
SELECT pgmq.delete('gm', 2::bigint);
SELECT pgtq.enqueue('gm', '{}', 'z');
SELECT results_eq($$SELECT msg_id FROM pgtq.read('gm', 5, 30, grouped => true)$$, ARRAY[3]::bigint[],
    'the group heals and delivers its next task');

SELECT * FROM finish();
ROLLBACK;
