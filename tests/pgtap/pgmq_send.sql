-- pgmq.send (6 overloads) and pgmq.send_batch (6 overloads + validation): stored rows, delays in seconds
-- and as timestamps, headers, named-argument calls, array order, errors.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(37);

SELECT pgmq.create('snd');
CREATE TEMP TABLE t0 AS SELECT clock_timestamp() AS started;

-- send(queue_name, msg)
SELECT is((SELECT * FROM pgmq.send('snd', '{"n":1}')), 1::bigint, 'send returns the first msg_id');
SELECT results_eq(
    $$SELECT read_ct, last_read_at, message, headers, enqueued_at = now() FROM pgmq.q_snd WHERE msg_id = 1$$,
    $$VALUES (0, NULL::timestamptz, '{"n":1}'::jsonb, NULL::jsonb, true)$$,
    'send stores the message unread, without headers, enqueued_at = now()');
SELECT ok((SELECT vt >= started AND vt <= clock_timestamp() FROM pgmq.q_snd, t0 WHERE msg_id = 1),
    'send without delay is visible at once (vt = clock_timestamp())');

-- send(queue_name, msg, headers)
SELECT is((SELECT * FROM pgmq.send('snd', '{"n":2}', '{"h":"x"}'::jsonb)), 2::bigint, 'send with headers');
SELECT is((SELECT headers FROM pgmq.q_snd WHERE msg_id = 2), '{"h":"x"}'::jsonb, 'headers are stored');

-- send(queue_name, msg, delay integer): vt is delay seconds after the call's clock.
CREATE TEMP TABLE before_3 AS SELECT clock_timestamp() AS at;
SELECT is((SELECT * FROM pgmq.send('snd', '{"n":3}', 30)), 3::bigint, 'send with an integer delay');
SELECT ok((SELECT vt >= b.at + interval '30 seconds' AND vt <= clock_timestamp() + interval '30 seconds'
           FROM pgmq.q_snd, before_3 b WHERE msg_id = 3), 'integer delay is seconds from clock_timestamp()');

-- send(queue_name, msg, delay timestamptz): vt is exactly the given time.
SELECT is((SELECT * FROM pgmq.send('snd', '{"n":4}', '2100-01-01 00:00:00+00'::timestamptz)), 4::bigint,
    'send with a timestamptz delay');
SELECT is((SELECT vt FROM pgmq.q_snd WHERE msg_id = 4), '2100-01-01 00:00:00+00'::timestamptz, 'timestamptz delay sets vt');

-- send(queue_name, msg, headers, delay integer) and (..., delay timestamptz)
SELECT is((SELECT * FROM pgmq.send('snd', '{"n":5}', '{"h":5}'::jsonb, 60)), 5::bigint, 'send with headers and integer delay');
SELECT ok((SELECT headers = '{"h":5}' AND vt >= (SELECT started FROM t0) + interval '60 seconds'
                  AND vt <= clock_timestamp() + interval '60 seconds' FROM pgmq.q_snd WHERE msg_id = 5),
    'headers and integer delay are both applied');
SELECT is((SELECT * FROM pgmq.send('snd', '{"n":6}', '{"h":6}'::jsonb, '2099-06-01 12:00:00+00'::timestamptz)), 6::bigint,
    'send with headers and timestamptz delay');
SELECT results_eq($$SELECT headers, vt FROM pgmq.q_snd WHERE msg_id = 6$$,
    $$VALUES ('{"h":6}'::jsonb, '2099-06-01 12:00:00+00'::timestamptz)$$, 'headers and timestamptz delay are both applied');

-- Named arguments, as pgmq-py calls them.
SELECT is((SELECT * FROM pgmq.send(queue_name => 'snd', msg => '{"n":7}', headers => '{"h":7}', delay => 0)), 7::bigint,
    'send with named arguments');
SELECT is((SELECT * FROM pgmq.send(queue_name => 'snd', msg => '{"n":8}', delay => 10)), 8::bigint,
    'send with named msg and delay');
-- Only visible messages are readable: 1, 2 and 7 (3..6 and 8 are delayed).
SELECT results_eq($$SELECT msg_id FROM pgmq.read('snd', 30, 10)$$, ARRAY[1, 2, 7]::bigint[],
    'delayed messages are not readable before their time');

-- Errors.
SELECT throws_ok($$SELECT pgmq.send('nope', '{}')$$, '42P01', 'relation "pgmq.q_nope" does not exist',
    'send to an unknown queue');
SELECT throws_ok($$SELECT pgmq.send('a$b', '{}')$$, 'P0001', NULL, 'send checks the queue name');

-- send_batch: ids follow array order, one statement.
SELECT pgmq.create('bat');
SELECT results_eq($$SELECT * FROM pgmq.send_batch('bat', ARRAY['{"b":1}', '{"b":2}', '{"b":3}']::jsonb[])$$,
    ARRAY[1, 2, 3]::bigint[], 'send_batch returns one msg_id per message');
SELECT results_eq($$SELECT msg_id, message, headers FROM pgmq.q_bat ORDER BY msg_id$$,
    $$VALUES (1::bigint, '{"b":1}'::jsonb, NULL::jsonb), (2, '{"b":2}', NULL), (3, '{"b":3}', NULL)$$,
    'send_batch keeps array order');
SELECT results_eq(
    $$SELECT * FROM pgmq.send_batch('bat', ARRAY['{"b":4}', '{"b":5}']::jsonb[], ARRAY['{"h":4}', '{"h":5}']::jsonb[])$$,
    ARRAY[4, 5]::bigint[], 'send_batch with headers');
SELECT results_eq($$SELECT message, headers FROM pgmq.q_bat WHERE msg_id IN (4, 5) ORDER BY msg_id$$,
    $$VALUES ('{"b":4}'::jsonb, '{"h":4}'::jsonb), ('{"b":5}', '{"h":5}')$$, 'headers[i] goes with msgs[i]');
SELECT results_eq($$SELECT * FROM pgmq.send_batch('bat', ARRAY['{"b":6}']::jsonb[], 40)$$, ARRAY[6]::bigint[],
    'send_batch with integer delay');
SELECT ok((SELECT vt >= (SELECT started FROM t0) + interval '40 seconds' AND vt <= clock_timestamp() + interval '40 seconds'
           FROM pgmq.q_bat WHERE msg_id = 6), 'send_batch integer delay in seconds');
SELECT results_eq($$SELECT * FROM pgmq.send_batch('bat', ARRAY['{"b":7}']::jsonb[], '2100-01-01'::timestamptz)$$,
    ARRAY[7]::bigint[], 'send_batch with timestamptz delay');
SELECT is((SELECT vt FROM pgmq.q_bat WHERE msg_id = 7), '2100-01-01'::timestamptz, 'send_batch timestamptz delay');
SELECT results_eq(
    $$SELECT * FROM pgmq.send_batch('bat', ARRAY['{"b":8}', '{"b":9}']::jsonb[], ARRAY['{"h":8}', NULL]::jsonb[], 50)$$,
    ARRAY[8, 9]::bigint[], 'send_batch with headers and integer delay');
SELECT results_eq(
    $$SELECT headers, vt BETWEEN (SELECT started FROM t0) + interval '50 seconds' AND clock_timestamp() + interval '50 seconds' FROM pgmq.q_bat WHERE msg_id IN (8, 9) ORDER BY msg_id$$,
    $$VALUES ('{"h":8}'::jsonb, true), (NULL, true)$$, 'headers and integer delay applied to the batch');
SELECT results_eq(
    $$SELECT * FROM pgmq.send_batch(queue_name => 'bat', msgs => ARRAY['{"b":10}']::jsonb[],
                                   headers => ARRAY['{"h":10}']::jsonb[], delay => '2100-01-02'::timestamptz)$$,
    ARRAY[10]::bigint[], 'send_batch with named headers and timestamptz delay');
SELECT results_eq($$SELECT headers, vt FROM pgmq.q_bat WHERE msg_id = 10$$,
    $$VALUES ('{"h":10}'::jsonb, '2100-01-02'::timestamptz)$$, 'headers and timestamptz delay applied');
SELECT results_eq($$SELECT * FROM pgmq.send_batch('bat', ARRAY['{"b":11}']::jsonb[], NULL::jsonb[])$$,
    ARRAY[11]::bigint[], 'NULL headers array is allowed');

-- send_batch validation (pgmq's texts).
SELECT throws_ok($$SELECT pgmq.send_batch('bat', NULL::jsonb[])$$, 'P0001', 'msgs cannot be NULL or empty',
    'NULL msgs rejected');
SELECT throws_ok($$SELECT pgmq.send_batch('bat', ARRAY[]::jsonb[])$$, 'P0001', 'msgs cannot be NULL or empty',
    'empty msgs rejected');
SELECT throws_ok($$SELECT pgmq.send_batch('bat', ARRAY['{}', '{}']::jsonb[], ARRAY['{}']::jsonb[])$$, 'P0001',
    'headers array length (1) must match msgs array length (2)', 'shorter headers rejected');
SELECT throws_ok($$SELECT pgmq.send_batch('bat', ARRAY['{}', '{}']::jsonb[], ARRAY[]::jsonb[], 0)$$, 'P0001',
    'headers array length (0) must match msgs array length (2)', 'an empty headers array is rejected too');
SELECT is((SELECT count(*) FROM pgmq.q_bat), 11::bigint, 'rejected batches insert nothing');
SELECT throws_ok($$SELECT pgmq.send_batch('nope', ARRAY['{}']::jsonb[])$$, '42P01', 'relation "pgmq.q_nope" does not exist',
    'send_batch to an unknown queue');

SELECT * FROM finish();
ROLLBACK;
