-- pgtq.create_queue, pgtq.enqueue, pgtq.enqueue_batch: results, headers, delay, dedupe, validation errors,
-- group rows, seed-style queues (plain pgmq.create) registered lazily.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(68);

-- create_queue
SELECT lives_ok($$SELECT pgtq.create_queue('eq')$$, 'create_queue creates a queue with a DLQ');
SELECT lives_ok($$SELECT pgtq.create_queue('eq')$$, 'create_queue is idempotent');
SELECT is((SELECT dlq_name FROM pgtq.queues WHERE queue_name = 'eq'), 'eq_dlq', 'the DLQ is <name>_dlq');
SELECT ok(EXISTS (SELECT 1 FROM pgmq.meta WHERE queue_name = 'eq_dlq'), 'the DLQ pgmq queue exists');
SELECT lives_ok($$SELECT pgtq.create_queue('eqnodlq', dlq => false)$$, 'create_queue without a DLQ');
SELECT is((SELECT dlq_name FROM pgtq.queues WHERE queue_name = 'eqnodlq'), NULL, 'no DLQ recorded');
SELECT ok(NOT EXISTS (SELECT 1 FROM pgmq.meta WHERE queue_name = 'eqnodlq_dlq'), 'no DLQ pgmq queue');
SELECT ok(EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'pgmq.q_eq'::regclass AND tgname = 'pgtq_after_insert'),
    'the insert trigger is installed');
SELECT throws_ok($$SELECT pgtq.create_queue(NULL)$$, 'PQ002', NULL, 'NULL name: PQ002');
SELECT throws_ok($$SELECT pgtq.create_queue('')$$, 'PQ002', NULL, 'empty name: PQ002');
SELECT throws_ok($$SELECT pgtq.create_queue('a;b')$$, 'PQ002', NULL, 'invalid characters: PQ002');
SELECT throws_ok($$SELECT pgtq.create_queue(repeat('x', 44))$$, 'PQ002', NULL, '44 characters plus _dlq is too long');
SELECT lives_ok($$SELECT pgtq.create_queue(repeat('x', 47), dlq => false)$$, '47 characters without a DLQ is fine');
SELECT throws_ok($$SELECT pgtq.create_queue('eq_dlq')$$, 'PQ003', NULL, 'a DLQ cannot become a task queue');
SELECT lives_ok($$SELECT pgtq.create_queue('eqc', dlq_name => 'eqc_dead')$$, 'create_queue with a custom DLQ name');
SELECT ok((SELECT dlq_name = 'eqc_dead' FROM pgtq.queues WHERE queue_name = 'eqc')
          AND EXISTS (SELECT 1 FROM pgmq.meta WHERE queue_name = 'eqc_dead'), 'the custom DLQ is created and recorded');
SELECT throws_ok($$SELECT pgtq.create_queue('eqd', false, 'eqd_dead')$$, 'PQ003', NULL, 'dlq_name with dlq = false: PQ003');
SELECT throws_ok($$SELECT pgtq.create_queue('eqe', dlq_name => 'eq')$$, 'PQ003', NULL, 'a task queue cannot be a DLQ: PQ003');
SELECT throws_ok($$SELECT pgtq.create_queue('eqf', dlq_name => 'eq_dlq')$$, 'PQ003', NULL, 'another queue''s DLQ: PQ003');
SELECT throws_ok($$SELECT pgtq.create_queue('eqg', dlq_name => 'bad;name')$$, 'PQ002', NULL, 'invalid DLQ name: PQ002');

-- enqueue: headers
SELECT is(pgtq.enqueue('eq', '{"n":1}'), 1::bigint, 'enqueue returns the msg_id');
SELECT is((SELECT message FROM pgmq.q_eq WHERE msg_id = 1), '{"n":1}'::jsonb, 'payload stored as the message');
SELECT is((SELECT headers->>'x-pgtq-status' FROM pgmq.q_eq WHERE msg_id = 1), 'queued', 'status queued');
SELECT matches((SELECT headers->>'x-pgtq-task-id' FROM pgmq.q_eq WHERE msg_id = 1),
    '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$', 'task id is a uuid');
SELECT ok((SELECT NOT (headers ? 'x-pgmq-group') AND NOT (headers ? 'x-pgtq-dedupe-key') FROM pgmq.q_eq WHERE msg_id = 1),
    'no group or dedupe header when not given');
SELECT ok((SELECT vt <= clock_timestamp() FROM pgmq.q_eq WHERE msg_id = 1), 'visible at once without a delay');

SELECT is(pgtq.enqueue('eq', '{"n":2}', 'g1', 0, '{"trace":"abc"}'), 2::bigint, 'enqueue with group and headers');
SELECT is((SELECT headers - 'x-pgtq-task-id' FROM pgmq.q_eq WHERE msg_id = 2),
    '{"trace":"abc","x-pgmq-group":"g1","x-pgtq-status":"queued"}'::jsonb, 'caller headers merged with ours');
SELECT isnt((SELECT headers->>'x-pgtq-task-id' FROM pgmq.q_eq WHERE msg_id = 2),
    (SELECT headers->>'x-pgtq-task-id' FROM pgmq.q_eq WHERE msg_id = 1), 'every task gets its own task id');
SELECT is((SELECT busy_msg_id FROM pgtq.groups WHERE queue_name = 'eq' AND group_key = 'g1'), NULL,
    'enqueue creates an idle group row');
SELECT is(pgtq.enqueue(queue_name => 'eq', payload => '{"n":3}', headers => '{"x-pgmq-group":"hg"}'), 3::bigint,
    'a caller x-pgmq-group header is the group when group_key is NULL');
SELECT ok(EXISTS (SELECT 1 FROM pgtq.groups WHERE queue_name = 'eq' AND group_key = 'hg'), 'group row for it');

-- delay is seconds from now
SELECT pgtq.enqueue('eq', '{"n":4}', delay => 30);
SELECT ok((SELECT vt BETWEEN clock_timestamp() + interval '29 seconds' AND clock_timestamp() + interval '31 seconds'
           FROM pgmq.q_eq WHERE msg_id = 4), 'delay 30 makes the task visible 30 s from now');

-- dedupe
SELECT is(pgtq.enqueue('eq', '{"n":5}', dedupe_key => 'k'), 5::bigint, 'first enqueue with a dedupe key');
SELECT is(pgtq.enqueue('eq', '{"n":6}', dedupe_key => 'k'), 5::bigint, 'second enqueue with the key returns the first task');
SELECT is((SELECT count(*) FROM pgmq.q_eq WHERE message->>'n' = '6'), 0::bigint, 'and inserts nothing');
SELECT is((SELECT headers->>'x-pgtq-dedupe-key' FROM pgmq.q_eq WHERE msg_id = 5), 'k', 'dedupe key header');
SELECT pgmq.delete('eq', 5::bigint);
SELECT isnt(pgtq.enqueue('eq', '{"n":7}', dedupe_key => 'k'), 5::bigint, 'the key is free again once the task left the queue');

-- validation: bad input raises and changes nothing
CREATE TEMP TABLE before_bad AS SELECT count(*) AS n FROM pgmq.q_eq;
SELECT throws_ok($$SELECT pgtq.enqueue('eq', NULL)$$, 'PQ004', NULL, 'NULL payload: PQ004');
SELECT throws_ok($$SELECT pgtq.enqueue('eq', '[1,2]')$$, 'PQ004', NULL, 'array payload: PQ004');
SELECT throws_ok($$SELECT pgtq.enqueue('eq', '"x"')$$, 'PQ004', NULL, 'string payload: PQ004');
SELECT throws_ok($$SELECT pgtq.enqueue('eq', '{}', delay => -5)$$, 'PQ003', 'pgtq.enqueue: delay must be >= 0, got -5',
    'negative delay: PQ003 naming the value');
SELECT throws_ok($$SELECT pgtq.enqueue('eq', '{}', delay => NULL)$$, 'PQ003', NULL, 'NULL delay: PQ003');
SELECT throws_ok($$SELECT pgtq.enqueue('eq', '{}', headers => '{"x-pgtq-status":"completed"}')$$, 'PQ003', NULL,
    'callers cannot set x-pgtq-* headers');
SELECT throws_ok($$SELECT pgtq.enqueue('eq', '{}', headers => '[1]')$$, 'PQ003', NULL, 'headers must be an object');
SELECT throws_ok($$SELECT pgtq.enqueue('nope', '{}')$$, 'PQ001', NULL, 'unknown queue: PQ001');
SELECT throws_ok($$SELECT pgtq.enqueue('a$b', '{}')$$, 'PQ002', NULL, 'invalid queue name: PQ002');
SELECT is((SELECT count(*) FROM pgmq.q_eq), (SELECT n FROM before_bad), 'failed calls inserted nothing');

-- enqueue_batch
SELECT results_eq($$SELECT * FROM pgtq.enqueue_batch('eqnodlq', ARRAY['{"b":1}', '{"b":2}', '{"b":3}']::jsonb[],
                      ARRAY['bg', NULL, 'bg'], 0, ARRAY['{"h":1}', NULL, NULL]::jsonb[])$$,
    ARRAY[1, 2, 3]::bigint[], 'enqueue_batch returns the ids in payload order');
SELECT results_eq($$SELECT message->>'b', headers->>'x-pgmq-group', headers->>'h', headers->>'x-pgtq-status'
                    FROM pgmq.q_eqnodlq ORDER BY msg_id$$,
    $$VALUES ('1', 'bg', '1', 'queued'), ('2', NULL, NULL, 'queued'), ('3', 'bg', NULL, 'queued')$$,
    'each task gets its own group, headers and status');
SELECT is((SELECT count(DISTINCT headers->>'x-pgtq-task-id') FROM pgmq.q_eqnodlq), 3::bigint, 'distinct task ids');
SELECT throws_ok($$SELECT pgtq.enqueue_batch('eqnodlq', ARRAY[]::jsonb[])$$, 'PQ003', NULL, 'empty batch: PQ003');
SELECT throws_ok($$SELECT pgtq.enqueue_batch('eqnodlq', ARRAY['{}', '1']::jsonb[])$$, 'PQ004',
    'pgtq.enqueue_batch: payloads[2] must be a JSON object, got 1', 'bad element: PQ004 naming its index');
SELECT throws_ok($$SELECT pgtq.enqueue_batch('eqnodlq', ARRAY['{}', '{}']::jsonb[], ARRAY['a'])$$, 'PQ003', NULL,
    'group_keys length mismatch: PQ003');
SELECT throws_ok($$SELECT pgtq.enqueue_batch('eqnodlq', ARRAY['{}']::jsonb[], headers => ARRAY['{"x-pgtq-task-id":"1"}']::jsonb[])$$,
    'PQ003', NULL, 'reserved header in a batch: PQ003');
SELECT throws_ok($$SELECT pgtq.enqueue_batch('eqnodlq', ARRAY['{}', '{}']::jsonb[],
                     headers => ARRAY['{"ok":1}', '{"x-pgtq-status":"done"}']::jsonb[])$$,
    'PQ003', 'pgtq.enqueue_batch: header ''x-pgtq-status'' is reserved for pgtq', 'the first bad header object is named');
SELECT throws_ok($$SELECT pgtq.enqueue_batch('eqnodlq', ARRAY['{}', '{}']::jsonb[], headers => ARRAY[NULL, '[1]']::jsonb[])$$,
    'PQ003', 'pgtq.enqueue_batch: headers must be a JSON object, got [1]', 'a header element that is no object: PQ003');
SELECT is((SELECT count(*) FROM pgmq.q_eqnodlq), 3::bigint, 'failed batches inserted nothing');
CREATE TEMP TABLE hb AS SELECT * FROM pgtq.enqueue_batch('eqnodlq', ARRAY['{}', '{}']::jsonb[], ARRAY['k', NULL],
                                  0, ARRAY['{"x-pgmq-group":"h1"}', '{"x-pgmq-group":"h2"}']::jsonb[]) AS id;
SELECT results_eq($$SELECT q.headers->>'x-pgmq-group' FROM pgmq.q_eqnodlq q JOIN hb ON hb.id = q.msg_id ORDER BY q.msg_id$$,
    $$VALUES ('k'), ('h2')$$, 'a group key wins over an x-pgmq-group header, which applies without one');

-- seed-style queue: plain pgmq.create + pgmq.send before pgtq ever saw it
SELECT pgmq.create('seedq');
SELECT pgmq.create('seedq_dlq');
SELECT pgmq.send('seedq', '{"s":1}', '{"x-pgmq-group":"sg"}'::jsonb);
SELECT throws_ok($$SELECT pgtq.enqueue('seedq', '{"s":2}', 'sg')$$, 'PQ001',
    'pgtq.enqueue: queue ''seedq'' is a pgmq queue but not a registered task queue',
    'a producer''s enqueue does not register a plain pgmq queue');
SELECT is((SELECT count(*) FROM pg_index WHERE indrelid = 'pgmq.q_seedq'::regclass), 2::bigint,
    'no index of ours was built on it (pgmq''s pkey and vt index only)');
SELECT is((SELECT count(*) FROM pgtq.next_due('seedq')), 1::bigint, 'a worker''s call registers it');
SELECT is(pgtq.enqueue('seedq', '{"s":2}', 'sg'), 2::bigint, 'then enqueue works on a queue made with pgmq.create');
SELECT is((SELECT dlq_name FROM pgtq.queues WHERE queue_name = 'seedq'), 'seedq_dlq', 'registered lazily with its DLQ');
-- key limits: within the index row limit, named in the error
SELECT throws_ok(format('SELECT pgtq.enqueue(%L, %L, %L)', 'seedq', '{}', repeat('g', 1025)), 'PQ003',
    'pgtq.enqueue: group_key is 1025 bytes long, the maximum is 1024 bytes', 'group key over 1024 bytes: PQ003');
SELECT throws_ok(format('SELECT pgtq.enqueue(%L, %L, dedupe_key => %L)', 'seedq', '{}', repeat('ö', 513)), 'PQ003',
    'pgtq.enqueue: dedupe_key is 1026 bytes long, the maximum is 1024 bytes', 'dedupe key over 1024 bytes: PQ003');
SELECT throws_ok(format('SELECT pgtq.enqueue_batch(%L, ARRAY[%L, %L]::jsonb[], ARRAY[NULL, %L])', 'seedq', '{}', '{}',
                        repeat('g', 10000)), 'PQ003',
    'pgtq.enqueue_batch: group_keys[2] is 10000 bytes long, the maximum is 1024 bytes', 'a batch group key over the limit: PQ003');
SELECT lives_ok(format('SELECT pgtq.enqueue(%L, %L, %L, dedupe_key => %L)', 'seedq', '{}', repeat('g', 1024), repeat('d', 1024)),
    'keys of exactly 1024 bytes are fine');

SELECT * FROM finish();
ROLLBACK;
