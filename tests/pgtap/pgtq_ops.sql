-- Operating a queue (issue 12): list_queues, list_tasks (states, group filter, keyset pagination, limits),
-- list_archive, get_task (history through x-pgtq-dlq / x-pgtq-retry / x-pgtq-original, by msg_id and by
-- task_id), cancel (every state; a cancelled lease acknowledges nothing; its group is freed), retry_now, pause
-- and resume (read claims nothing while paused; stats and list_queues show it), reschedule_all (filters) and
-- purge_dlq, with each documented SQLSTATE. The race of cancel with a worker's complete is in
-- tests/go/ops_race_test.go (it needs two connections).
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(77);

SELECT pgtq.create_queue('op');
SELECT pgtq.create_queue('op2', dlq => false);

-- States: 1 queued, 2 delayed, 3 processing, 4 retrying, 5 grouped queued, 6 grouped queued (same group)
SELECT pgtq.enqueue('op', '{"n":1}');                          -- 1
SELECT pgtq.enqueue('op', '{"n":2}', delay => 600);            -- 2
SELECT pgtq.enqueue('op', '{"n":3}');                          -- 3
SELECT pgtq.enqueue('op', '{"n":4}');                          -- 4
UPDATE pgmq.q_op SET vt = clock_timestamp() + interval '1 hour' WHERE msg_id = 1;  -- keep 1 out of the reads below
SELECT msg_id FROM pgtq.read('op', 2, 30);                     -- claims 3, 4
UPDATE pgmq.q_op SET vt = clock_timestamp() - interval '1 s' WHERE msg_id = 1;
SELECT pgtq.fail('op', 4, 1, 'boom: disk full', true, 3, 600);  -- 4 retrying
SELECT pgtq.enqueue('op', '{"n":5}', 'g1');                    -- 5
SELECT pgtq.enqueue('op', '{"n":6}', 'g1');                    -- 6

-- list_queues
SELECT results_eq($$SELECT queue_name, queued, delayed, processing, retrying, paused FROM pgtq.list_queues()$$,
    $$VALUES ('op'::text, 3::bigint, 1::bigint, 1::bigint, 1::bigint, false), ('op2', 0, 0, 0, 0, false)$$,
    'list_queues: every registered queue''s stats in one call, by name (DLQs not listed)');

-- list_tasks
SELECT results_eq($$SELECT msg_id, status FROM pgtq.list_tasks('op')$$,
    $$VALUES (1::bigint, 'queued'::text), (2, 'delayed'), (3, 'processing'), (4, 'retrying'), (5, 'queued'), (6, 'queued')$$,
    'list_tasks: every task with its effective state, msg_id ascending');
SELECT results_eq($$SELECT msg_id FROM pgtq.list_tasks('op', 'queued')$$, ARRAY[1, 5, 6]::bigint[], 'status queued');
SELECT results_eq($$SELECT msg_id FROM pgtq.list_tasks('op', 'delayed')$$, ARRAY[2]::bigint[], 'status delayed');
SELECT results_eq($$SELECT msg_id FROM pgtq.list_tasks('op', 'processing')$$, ARRAY[3]::bigint[], 'status processing');
SELECT results_eq($$SELECT msg_id FROM pgtq.list_tasks('op', 'retrying')$$, ARRAY[4]::bigint[], 'status retrying');
SELECT results_eq($$SELECT msg_id, group_key FROM pgtq.list_tasks('op', group_key => 'g1')$$,
    $$VALUES (5::bigint, 'g1'::text), (6, 'g1')$$, 'group filter');
SELECT results_eq($$SELECT msg_id FROM pgtq.list_tasks('op', after_msg_id => 2, qty => 2)$$, ARRAY[3, 4]::bigint[],
    'keyset page: after_msg_id and qty');
SELECT results_eq($$SELECT msg_id FROM pgtq.list_tasks('op', after_msg_id => 6)$$, ARRAY[]::bigint[], 'past the end: empty');
SELECT ok((SELECT bool_and(place = 'queue' AND archived_at IS NULL AND task_id IS NOT NULL AND read_ct IS NOT NULL)
           FROM pgtq.list_tasks('op')), 'rows carry place queue, task_id and read_ct');
SELECT throws_ok($$SELECT * FROM pgtq.list_tasks('op', 'done')$$, 'PQ003', NULL, 'unknown status: PQ003');
SELECT throws_ok($$SELECT * FROM pgtq.list_tasks('op', qty => 0)$$, 'PQ003', NULL, 'qty 0: PQ003');
SELECT throws_ok($$SELECT * FROM pgtq.list_tasks('op', qty => 1001)$$, 'PQ003', NULL, 'qty over the hard maximum 1000: PQ003');
SELECT throws_ok($$SELECT * FROM pgtq.list_tasks('nope')$$, 'PQ001', NULL, 'unknown queue: PQ001');
SELECT throws_ok($$SELECT * FROM pgtq.list_tasks('x;y')$$, 'PQ002', NULL, 'invalid name: PQ002');
SELECT pgmq.create('plain');
SELECT throws_ok($$SELECT * FROM pgtq.list_tasks('plain')$$, 'PQ001', NULL, 'an unregistered pgmq queue: PQ001 (not registered by a look)');

-- cancel: each state
SELECT results_eq($$SELECT cancelled, status FROM pgtq.cancel('op', 2)$$, $$VALUES (true, 'delayed'::text)$$, 'cancel a delayed task');
SELECT results_eq($$SELECT cancelled, status FROM pgtq.cancel('op', 4)$$, $$VALUES (true, 'retrying'::text)$$, 'cancel a retrying task');
SELECT results_eq($$SELECT cancelled, status FROM pgtq.cancel('op', 3)$$, $$VALUES (true, 'processing'::text)$$, 'cancel a processing task');
SELECT results_eq($$SELECT cancelled, status FROM pgtq.cancel('op', 1)$$, $$VALUES (true, 'queued'::text)$$, 'cancel a queued task');
SELECT results_eq($$SELECT msg_id, headers->>'x-pgtq-status' FROM pgmq.a_op ORDER BY msg_id$$,
    $$VALUES (1::bigint, 'cancelled'::text), (2, 'cancelled'), (3, 'cancelled'), (4, 'cancelled')$$,
    'cancelled tasks are archived with x-pgtq-status cancelled');
SELECT is((SELECT count(*) FROM pgmq.q_op WHERE msg_id <= 4), 0::bigint, 'and gone from the queue');
SELECT is(pgtq.complete('op', 3, 1), false, 'the cancelled lease no longer completes');
SELECT is(pgtq.fail('op', 3, 1, 'x'), 'lease_lost', 'nor fails');
SELECT is(pgtq.extend_lease('op', 3, 1, 30), false, 'nor extends');
SELECT is(pgtq.release('op', 3, 1), false, 'nor releases');
SELECT results_eq($$SELECT cancelled, status FROM pgtq.cancel('op', 3)$$, $$VALUES (false, 'cancelled'::text)$$,
    'cancel again: not cancelled, reports the archived status');
SELECT throws_ok($$SELECT * FROM pgtq.cancel('op', 999)$$, 'PQ005', NULL, 'cancel of an unknown msg_id: PQ005');
SELECT throws_ok($$SELECT * FROM pgtq.cancel('op', NULL)$$, 'PQ003', NULL, 'cancel msg_id NULL: PQ003');
SELECT throws_ok($$SELECT * FROM pgtq.cancel('nope', 1)$$, 'PQ001', NULL, 'cancel in an unknown queue: PQ001');
SELECT throws_ok($$SELECT * FROM pgtq.cancel('x;y', 1)$$, 'PQ002', NULL, 'cancel invalid name: PQ002');

-- cancel of a grouped processing task frees its group: the group's next task can start
SELECT msg_id FROM pgtq.read('op', 1, 30, grouped => true);    -- claims 5 (group g1)
SELECT is((SELECT count(*) FROM pgtq.read('op', 5, 30, grouped => true)), 0::bigint, 'g1 is busy: 6 waits');
SELECT is((SELECT cancelled FROM pgtq.cancel('op', 5)), true, 'cancel the busy task of g1');
SELECT results_eq($$SELECT msg_id FROM pgtq.read('op', 5, 30, grouped => true)$$, ARRAY[6]::bigint[],
    'its group is free: the next task starts');
SELECT pgtq.complete('op', 6, 1);
SELECT is((SELECT count(*) FROM pgtq.groups WHERE queue_name = 'op'), 0::bigint, 'the emptied group row is gone');

-- retry_now
SELECT pgtq.enqueue('op', '{"n":7}', delay => 600);            -- 7
SELECT pgtq.enqueue('op', '{"n":8}');                          -- 8
SELECT msg_id FROM pgtq.read('op', 1, 30);                     -- claims 8
SELECT pgtq.fail('op', 8, 1, 'later', true, 3, 600);           -- 8 retrying
SELECT results_eq($$SELECT made_due, status FROM pgtq.retry_now('op', 7)$$, $$VALUES (true, 'delayed'::text)$$, 'retry_now of a delayed task');
SELECT results_eq($$SELECT made_due, status FROM pgtq.retry_now('op', 8)$$, $$VALUES (true, 'retrying'::text)$$, 'retry_now of a retrying task');
SELECT results_eq($$SELECT msg_id, attempt FROM pgtq.read('op', 5, 30)$$, $$VALUES (7::bigint, 1), (8, 2)$$,
    'both are due now; the retry keeps its attempts');
SELECT results_eq($$SELECT made_due, status FROM pgtq.retry_now('op', 7)$$, $$VALUES (false, 'processing'::text)$$, 'retry_now of a processing task changes nothing');
SELECT results_eq($$SELECT made_due, status FROM pgtq.retry_now('op', 1)$$, $$VALUES (false, 'cancelled'::text)$$, 'retry_now of an archived task reports its status');
SELECT throws_ok($$SELECT * FROM pgtq.retry_now('op', 999)$$, 'PQ005', NULL, 'retry_now of an unknown msg_id: PQ005');
SELECT throws_ok($$SELECT * FROM pgtq.retry_now('op', NULL)$$, 'PQ003', NULL, 'retry_now msg_id NULL: PQ003');
SELECT throws_ok($$SELECT * FROM pgtq.retry_now('nope', 1)$$, 'PQ001', NULL, 'retry_now in an unknown queue: PQ001');
SELECT pgtq.complete('op', 7, 1);
SELECT pgtq.complete('op', 8, 2);

-- pause / resume
SELECT pgtq.enqueue('op', '{"n":9}');                          -- 9
SELECT is(pgtq.pause('op'), true, 'pause a running queue');
SELECT is(pgtq.pause('op'), false, 'pause again: already paused');
SELECT is((SELECT count(*) FROM pgtq.read('op', 5, 30)), 0::bigint, 'a paused queue: read claims nothing');
SELECT is((SELECT count(*) FROM pgtq.read('op', 5, 30, grouped => true, concurrency_limit => 5)), 0::bigint, 'whatever the read options');
SELECT ok((SELECT paused AND queued = 1 FROM pgtq.stats('op')), 'stats: paused, the task still queued');
SELECT ok((SELECT paused FROM pgtq.list_queues() WHERE queue_name = 'op'), 'list_queues shows it paused');
SELECT is(pgtq.resume('op'), true, 'resume');
SELECT is(pgtq.resume('op'), false, 'resume again: not paused');
SELECT results_eq($$SELECT msg_id FROM pgtq.read('op', 5, 30)$$, ARRAY[9]::bigint[], 'after resume the task is claimed');
SELECT throws_ok($$SELECT pgtq.pause('nope')$$, 'PQ001', NULL, 'pause an unknown queue: PQ001');
SELECT throws_ok($$SELECT pgtq.resume('x;y')$$, 'PQ002', NULL, 'resume invalid name: PQ002');
SELECT pgtq.fail('op', 9, 1, 'fatal: bad input', false);       -- 9 dead-lettered (DLQ 1)

-- get_task: history through the headers
SELECT pgtq.reschedule('op', 1);                               -- DLQ 1 -> task 10
SELECT msg_id FROM pgtq.read('op', 1, 30);                     -- claims 10
SELECT pgtq.fail('op', 10, 1, 'fatal again', false);           -- 10 dead-lettered (DLQ 2)
SELECT pgtq.reschedule('op', 2);                               -- DLQ 2 -> task 11 (queued)
SELECT results_eq($$SELECT place, msg_id, status FROM pgtq.get_task('op', 10)$$,
    $$VALUES ('archive'::text, 9::bigint, 'dead_lettered'::text), ('dlq_archive', 1, 'rescheduled'),
             ('archive', 10, 'dead_lettered'), ('dlq_archive', 2, 'rescheduled'), ('queue', 11, 'queued')$$,
    'get_task by any msg_id: the whole history, oldest first');
SELECT results_eq($$SELECT place, msg_id FROM pgtq.get_task('op', task_id => (SELECT headers->>'x-pgtq-task-id' FROM pgmq.q_op WHERE msg_id = 11))$$,
    $$VALUES ('archive'::text, 9::bigint), ('dlq_archive', 1), ('archive', 10), ('dlq_archive', 2), ('queue', 11)$$,
    'get_task by task_id: the same');
SELECT results_eq($$SELECT place, msg_id, status FROM pgtq.get_task('op', 3)$$, $$VALUES ('archive'::text, 3::bigint, 'cancelled'::text)$$,
    'get_task of a cancelled task');
SELECT throws_ok($$SELECT * FROM pgtq.get_task('op', 999)$$, 'PQ005', NULL, 'get_task of an unknown msg_id: PQ005');
SELECT throws_ok($$SELECT * FROM pgtq.get_task('op')$$, 'PQ003', NULL, 'get_task without msg_id or task_id: PQ003');

-- list_archive: newest first, keyset
SELECT results_eq($$SELECT msg_id FROM pgtq.list_archive('op', qty => 3)$$, ARRAY[10, 9, 8]::bigint[], 'list_archive: newest first');
SELECT results_eq($$SELECT msg_id, status FROM pgtq.list_archive('op', 8, 2)$$, $$VALUES (7::bigint, 'completed'::text), (6, 'completed')$$,
    'list_archive: the next page before a msg_id');
SELECT throws_ok($$SELECT * FROM pgtq.list_archive('op', qty => 1001)$$, 'PQ003', NULL, 'list_archive qty over 1000: PQ003');

-- reschedule_all and purge_dlq
SELECT pgtq.enqueue('op', '{"n":12}', 'ga');                   -- 12
SELECT pgtq.enqueue('op', '{"n":13}', 'gb');                   -- 13
SELECT pgtq.enqueue('op', '{"n":14}', 'gb');                   -- 14
SELECT count(*) FROM pgtq.read('op', 10, 30);                  -- claims 11..14
SELECT pgtq.fail('op', i, 1, CASE WHEN i = 14 THEN 'timeout' ELSE 'refused' END, false) FROM generate_series(11, 14) i;
SELECT is(pgtq.reschedule_all('op', 'gb', 'time'), 1::bigint, 'reschedule_all with group and error filters');
SELECT is(pgtq.reschedule_all('op', 'zz'), 0::bigint, 'no match: 0');
SELECT is(pgtq.reschedule_all('op'), 3::bigint, 'no filter: every remaining entry');
SELECT is((SELECT count(*) FROM pgmq.q_op_dlq), 0::bigint, 'the DLQ is empty');
SELECT throws_ok($$SELECT pgtq.reschedule_all('op2')$$, 'PQ003', NULL, 'reschedule_all of a queue without DLQ: PQ003');
SELECT throws_ok($$SELECT pgtq.reschedule_all('nope')$$, 'PQ001', NULL, 'reschedule_all of an unknown queue: PQ001');
SELECT pgtq.fail('op', msg_id, attempt, 'again', false) FROM pgtq.read('op', 10, 30);
SELECT is((SELECT count(*) FROM pgmq.q_op_dlq), 4::bigint, 'four new DLQ entries');
UPDATE pgmq.q_op_dlq SET enqueued_at = now() - interval '2 days' WHERE msg_id IN (SELECT msg_id FROM pgmq.q_op_dlq ORDER BY msg_id LIMIT 3);
SELECT is(pgtq.purge_dlq('op', interval '1 day'), 3::bigint, 'purge_dlq deletes the entries older than older_than');
SELECT is(pgtq.purge_dlq('op', interval '0'), 1::bigint, 'interval 0: all of them');
SELECT is(pgtq.purge_dlq('op2', interval '0'), 0::bigint, 'a queue without DLQ: 0');
SELECT throws_ok($$SELECT pgtq.purge_dlq('op', NULL)$$, 'PQ003', NULL, 'purge_dlq older_than NULL: PQ003');
SELECT throws_ok($$SELECT pgtq.purge_dlq('op', interval '-1 s')$$, 'PQ003', NULL, 'purge_dlq negative: PQ003');
SELECT throws_ok($$SELECT pgtq.purge_dlq('nope', interval '1 s')$$, 'PQ001', NULL, 'purge_dlq of an unknown queue: PQ001');

-- grants
SELECT ok(has_function_privilege('pgtq_admin', 'pgtq.cancel(text,bigint)', 'EXECUTE')
      AND has_function_privilege('pgtq_admin', 'pgtq.list_queues()', 'EXECUTE'), 'admin may operate queues');
SELECT ok(NOT has_function_privilege('pgtq_worker', 'pgtq.pause(text)', 'EXECUTE')
      AND NOT has_function_privilege('pgtq_producer', 'pgtq.list_tasks(text,text,text,bigint,integer)', 'EXECUTE'),
    'workers and producers may not');

SELECT * FROM finish();
ROLLBACK;
