-- Compatibility check: the gist of pgmq's own regression test (test/sql/base.sql), rewritten as pgTAP with
-- the calls written the way upstream and pgmq-py write them (positional, untyped literals, ARRAY[1, 2]
-- integer arrays, named arguments), so overload resolution is exercised as clients see it.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(42);

-- Unlogged queue.
SELECT lives_ok($$SELECT pgmq.create_unlogged('test_unlogged_queue')$$, 'create_unlogged');
SELECT results_eq($$SELECT * FROM pgmq.send('test_unlogged_queue', '{"hello": "world"}')$$, ARRAY[1]::bigint[], 'send to the unlogged queue');
SELECT results_eq($$SELECT msg_id, read_ct, enqueued_at > now(), vt > now(), message FROM pgmq.read('test_unlogged_queue', 2, 1)$$,
    $$VALUES (1::bigint, 1, false, true, '{"hello": "world"}'::jsonb)$$, 'read from the unlogged queue');

-- Maximum queue name size.
SELECT throws_ok($$SELECT * FROM pgmq.create(repeat('a', 48))$$, 'P0001',
    'queue name is too long, maximum length is 47 characters', 'create with 48 characters fails');
SELECT lives_ok($$SELECT * FROM pgmq.create(repeat('a', 47))$$, 'create with 47 characters works');

-- Lifecycle.
SELECT lives_ok($$SELECT pgmq.create('test_default_queue')$$, 'create');
SELECT results_eq($$SELECT * FROM pgmq.send('test_default_queue', '{"hello": "world"}')$$, ARRAY[1]::bigint[], 'send');
SELECT results_eq($$SELECT msg_id, read_ct, enqueued_at > now(), vt > now(), message FROM pgmq.read('test_default_queue', 2, 1)$$,
    $$VALUES (1::bigint, 1, false, true, '{"hello": "world"}'::jsonb)$$, 'read');
SELECT pgmq.set_vt('test_default_queue', 1, 0);
SELECT results_eq($$SELECT msg_id, read_ct, message FROM pgmq.read('test_default_queue', 2, 1, '{"hello": "world"}')$$,
    $$VALUES (1::bigint, 2, '{"hello": "world"}'::jsonb)$$, 'read with a positional conditional');
SELECT results_eq($$SELECT vt > clock_timestamp() + '4 seconds'::interval FROM pgmq.set_vt('test_default_queue', 1, 5)$$,
    ARRAY[true], 'set_vt to 5 seconds');
SELECT is((SELECT count(*) FROM pgmq.read('test_default_queue', 2, 1)), 0::bigint, 'nothing to read while vt is in the future');
SELECT pgmq.set_vt('test_default_queue', 1, 1);
SELECT results_eq($$SELECT msg_id, read_ct FROM pgmq.read_with_poll('test_default_queue', 10, 1, 10)$$,
    $$VALUES (1::bigint, 3)$$, 'read_with_poll blocks until the message is visible again');
SELECT results_eq($$SELECT msg_id FROM pgmq.set_vt('test_default_queue', 1, 0)$$, ARRAY[1]::bigint[], 'set_vt to now');
SELECT results_eq($$SELECT msg_id, read_ct FROM pgmq.read('test_default_queue', 2, 1)$$, $$VALUES (1::bigint, 4)$$, 'read again');
SELECT results_eq($$SELECT pgmq.archive('test_default_queue', 1)$$, ARRAY[true], 'archive with an integer literal id');
SELECT results_eq($$SELECT msg_id, read_ct, message FROM pgmq.a_test_default_queue$$,
    $$VALUES (1::bigint, 4, '{"hello": "world"}'::jsonb)$$, 'the archive holds it');
SELECT results_eq($$SELECT * FROM pgmq.send('test_default_queue', '{"hello": "world"}', 0)$$, ARRAY[2]::bigint[], 'send with delay 0');
SELECT results_eq($$SELECT msg_id, read_ct, message FROM pgmq.pop('test_default_queue')$$,
    $$VALUES (2::bigint, 0, '{"hello": "world"}'::jsonb)$$, 'pop');
SELECT is((SELECT count(*) FROM pgmq.pop('test_default_queue')), 0::bigint, 'pop of an empty queue');
SELECT results_eq($$SELECT * FROM pgmq.send('test_default_queue', '{"hello": "world"}', clock_timestamp() + interval '1 hour')$$,
    ARRAY[3]::bigint[], 'send with a timestamp delay');
SELECT results_eq($$SELECT pgmq.delete('test_default_queue', 3)$$, ARRAY[true], 'delete with an integer literal id');
SELECT results_eq($$SELECT pgmq.delete('test_default_queue', 3)$$, ARRAY[false], 'delete again');

-- Batches with integer arrays.
SELECT pgmq.create('batch_queue');
SELECT ok(ARRAY(SELECT pgmq.send_batch('batch_queue', ARRAY['{"hello": "world_0"}', '{"hello": "world_1"}', '{"hello": "world_2"}', '{"hello": "world_3"}']::jsonb[]))
          = ARRAY[1, 2, 3, 4]::bigint[], 'send_batch');
SELECT results_eq($$SELECT msg_id FROM pgmq.set_vt('batch_queue', ARRAY[1, 2], 0)$$, ARRAY[1, 2]::bigint[], 'batch set_vt with ARRAY[1, 2]');
SELECT results_eq($$SELECT pgmq.delete('batch_queue', ARRAY[1, 3])$$, ARRAY[1, 3]::bigint[], 'batch delete with ARRAY[1, 3]');
SELECT results_eq($$SELECT pgmq.archive('batch_queue', ARRAY[2, 4, 5])$$, ARRAY[2, 4]::bigint[], 'batch archive with ARRAY[2, 4, 5]');
SELECT is((SELECT count(*) FROM pgmq.q_batch_queue), 0::bigint, 'batch queue is empty');
SELECT results_eq($$SELECT msg_id FROM pgmq.a_batch_queue ORDER BY msg_id$$, ARRAY[2, 4]::bigint[], 'batch archive contents');

-- pgmq-py style named arguments.
SELECT pgmq.create(queue_name => 'py_queue');
SELECT results_eq($$SELECT * FROM pgmq.send(queue_name => 'py_queue', msg => '{"py": 1}', delay => 0)$$, ARRAY[1]::bigint[], 'py send');
SELECT results_eq($$SELECT * FROM pgmq.send_batch(queue_name => 'py_queue', msgs => ARRAY['{"py": 2}', '{"py": 3}']::jsonb[], delay => 0)$$,
    ARRAY[2, 3]::bigint[], 'py send_batch');
SELECT results_eq($$SELECT msg_id FROM pgmq.read(queue_name => 'py_queue', vt => 30, qty => 2)$$, ARRAY[1, 2]::bigint[], 'py read');
SELECT results_eq($$SELECT msg_id FROM pgmq.read_with_poll(queue_name => 'py_queue', vt => 30, qty => 5, max_poll_seconds => 1, poll_interval_ms => 10)$$,
    ARRAY[3]::bigint[], 'py read_with_poll');
SELECT results_eq($$SELECT msg_id FROM pgmq.set_vt(queue_name => 'py_queue', msg_id => 3, vt => 0)$$, ARRAY[3]::bigint[], 'py set_vt');
SELECT results_eq($$SELECT msg_id FROM pgmq.pop(queue_name => 'py_queue')$$, ARRAY[3]::bigint[], 'py pop');
SELECT results_eq($$SELECT pgmq.archive(queue_name => 'py_queue', msg_ids => ARRAY[1])$$, ARRAY[1]::bigint[], 'py archive');
SELECT results_eq($$SELECT pgmq.delete(queue_name => 'py_queue', msg_id => 2)$$, ARRAY[true], 'py delete');

-- Metrics and list_queues.
SELECT results_eq(
    $$SELECT queue_name, queue_length, total_messages FROM pgmq.metrics('test_default_queue')$$,
    $$VALUES ('test_default_queue'::text, 0::bigint, 3::bigint)$$, 'metrics');
SELECT ok((SELECT count(*) FROM pgmq.metrics_all() WHERE queue_name IN ('test_default_queue', 'batch_queue', 'py_queue', 'test_unlogged_queue')) = 4,
    'metrics_all');
SELECT results_eq(
    $$SELECT queue_name, is_unlogged FROM pgmq.list_queues() WHERE queue_name IN ('test_default_queue', 'test_unlogged_queue') ORDER BY queue_name COLLATE "C"$$,
    $$VALUES ('test_default_queue'::varchar, false), ('test_unlogged_queue', true)$$, 'list_queues');

-- Drop.
SELECT results_eq($$SELECT pgmq.drop_queue('test_default_queue')$$, ARRAY[true], 'drop_queue');
SELECT results_eq($$SELECT pgmq.drop_queue('test_default_queue')$$, ARRAY[false], 'drop_queue of a dropped queue');
SELECT throws_ok($$SELECT * FROM pgmq.send('test_default_queue', '{}')$$, '42P01',
    'relation "pgmq.q_test_default_queue" does not exist', 'the dropped queue is gone');

SELECT * FROM finish();
ROLLBACK;
