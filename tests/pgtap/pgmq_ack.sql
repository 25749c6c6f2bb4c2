-- pgmq.delete (2), pgmq.archive (2) and pgmq.set_vt (4): results, unknown ids, archive contents,
-- vt semantics (no read_ct change, no ownership check).
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(27);

SELECT pgmq.create('ack');
SELECT pgmq.send_batch('ack', ARRAY['{"a":1}', '{"a":2}', '{"a":3}', '{"a":4}', '{"a":5}', '{"a":6}']::jsonb[],
                       ARRAY['{"h":1}', '{"h":2}', NULL, NULL, NULL, NULL]::jsonb[]);

-- delete
SELECT is(pgmq.delete('ack', 1::bigint), true, 'delete of an existing message returns true');
SELECT is(pgmq.delete('ack', 1::bigint), false, 'delete of a missing message returns false');
SELECT is(pgmq.delete(queue_name => 'ack', msg_id => 999), false, 'delete with named arguments, unknown id');
SELECT results_eq($$SELECT * FROM pgmq.delete('ack', ARRAY[3, 4, 999]::bigint[]) ORDER BY 1$$, ARRAY[3, 4]::bigint[],
    'batch delete returns only the ids that existed');
SELECT results_eq($$SELECT * FROM pgmq.delete(queue_name => 'ack', msg_ids => ARRAY[3]::bigint[])$$, ARRAY[]::bigint[],
    'batch delete of gone ids returns nothing');
SELECT results_eq($$SELECT msg_id FROM pgmq.q_ack ORDER BY msg_id$$, ARRAY[2, 5, 6]::bigint[], 'deleted messages are gone');
SELECT is((SELECT count(*) FROM pgmq.a_ack), 0::bigint, 'delete archives nothing');

-- archive keeps everything and stamps archived_at.
SELECT pgmq.read('ack', 0, 1);
CREATE TEMP TABLE before_archive AS SELECT msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers FROM pgmq.q_ack WHERE msg_id = 2;
SELECT is(pgmq.archive('ack', 2::bigint), true, 'archive of an existing message returns true');
SELECT is(pgmq.archive('ack', 2::bigint), false, 'archive of a missing message returns false');
SELECT results_eq(
    $$SELECT msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers FROM pgmq.a_ack$$,
    $$SELECT * FROM before_archive$$,
    'the archive row is the queue row (read_ct, enqueued_at, last_read_at, vt, message, headers)');
SELECT results_eq($$SELECT read_ct, headers FROM pgmq.a_ack$$, $$VALUES (1, '{"h":2}'::jsonb)$$,
    'archived read_ct and headers as read');
SELECT is((SELECT archived_at FROM pgmq.a_ack WHERE msg_id = 2), now(), 'archived_at is now()');
SELECT results_eq($$SELECT * FROM pgmq.archive('ack', ARRAY[5, 6, 999]::bigint[]) ORDER BY 1$$, ARRAY[5, 6]::bigint[],
    'batch archive returns only the ids that existed');
SELECT results_eq($$SELECT msg_id FROM pgmq.a_ack ORDER BY msg_id$$, ARRAY[2, 5, 6]::bigint[], 'archived rows are in the archive');
SELECT is((SELECT count(*) FROM pgmq.q_ack), 0::bigint, 'and no longer in the queue');
SELECT is(pgmq.archive(queue_name => 'ack', msg_id => 5), false, 'archive with named arguments');
SELECT throws_ok($$SELECT pgmq.archive('nope', 1::bigint)$$, '42P01', 'relation "pgmq.q_nope" does not exist', 'archive of an unknown queue');

-- set_vt: int = seconds from now, timestamptz = absolute; read_ct and last_read_at untouched; no ownership check.
SELECT pgmq.send_batch('ack', ARRAY['{"v":7}', '{"v":8}', '{"v":9}']::jsonb[]);
SELECT pgmq.read('ack', 60, 1);
CREATE TEMP TABLE sv0 AS SELECT clock_timestamp() AS at;
SELECT results_eq($$SELECT msg_id, read_ct, message FROM pgmq.set_vt('ack', 7, 100)$$,
    $$VALUES (7::bigint, 1, '{"v":7}'::jsonb)$$, 'set_vt(int) returns the updated row, read_ct unchanged');
SELECT ok((SELECT vt BETWEEN at + interval '100 seconds' AND clock_timestamp() + interval '100 seconds' FROM pgmq.q_ack, sv0 WHERE msg_id = 7),
    'set_vt(int) sets vt to clock + seconds');
SELECT results_eq($$SELECT vt FROM pgmq.set_vt('ack', 8::bigint, '2100-01-01'::timestamptz)$$, ARRAY['2100-01-01'::timestamptz],
    'set_vt(timestamptz) sets vt exactly');
SELECT results_eq($$SELECT msg_id, vt FROM pgmq.set_vt('ack', ARRAY[8, 9, 999]::bigint[], '2101-01-01'::timestamptz)$$,
    $$VALUES (8::bigint, '2101-01-01'::timestamptz), (9, '2101-01-01')$$, 'batch set_vt(timestamptz) updates existing ids only');
SELECT results_eq($$SELECT msg_id, vt <= clock_timestamp() FROM pgmq.set_vt(queue_name => 'ack', msg_ids => ARRAY[7, 8, 9]::bigint[], vt => 0)$$,
    $$VALUES (7::bigint, true), (8, true), (9, true)$$, 'batch set_vt(int) 0 makes messages visible now');
SELECT is((SELECT count(*) FROM pgmq.set_vt('ack', 999, 10)), 0::bigint, 'set_vt of an unknown id returns an empty set');
SELECT results_eq($$SELECT msg_id, read_ct, last_read_at IS NULL FROM pgmq.q_ack ORDER BY msg_id$$,
    $$VALUES (7::bigint, 1, false), (8, 0, true), (9, 0, true)$$, 'set_vt never touches read_ct or last_read_at');
SELECT results_eq($$SELECT msg_id FROM pgmq.read('ack', 30, 10)$$, ARRAY[7, 8, 9]::bigint[], 'messages made visible by set_vt are readable');
SELECT results_eq($$SELECT msg_id FROM pgmq.set_vt('ack', 9, '2000-01-01'::timestamptz)$$, ARRAY[9]::bigint[],
    'set_vt also moves an in-flight message (no ownership check)');
SELECT results_eq($$SELECT msg_id FROM pgmq.read('ack', 30, 10)$$, ARRAY[9]::bigint[], 'and it becomes readable again');

SELECT * FROM finish();
ROLLBACK;
