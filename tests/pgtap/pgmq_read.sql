-- pgmq.read, pgmq.read_with_poll and pgmq.pop: FIFO/LIFO order (PGTQ's direction argument), vt semantics,
-- read_ct, last_read_at, conditional, named arguments, polling, deletion by pop, errors.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(45);

SELECT pgmq.create('rd');
SELECT pgmq.send_batch('rd', ARRAY['{"n":1,"k":"a"}', '{"n":2,"k":"b"}', '{"n":3,"k":"a"}', '{"n":4,"k":"b"}', '{"n":5,"k":"a"}']::jsonb[]);

-- FIFO by default.
CREATE TEMP TABLE r0 AS SELECT clock_timestamp() AS before;
CREATE TEMP TABLE r1 AS SELECT * FROM pgmq.read('rd', 30, 2);
SELECT results_eq($$SELECT msg_id FROM r1$$, ARRAY[1, 2]::bigint[], 'read takes the oldest visible messages first');
SELECT results_eq($$SELECT read_ct FROM r1$$, ARRAY[1, 1], 'read returns read_ct after the read');
SELECT ok((SELECT bool_and(last_read_at >= before AND last_read_at <= clock_timestamp()) FROM r1, r0),
    'read sets last_read_at to the read time');
SELECT ok((SELECT bool_and(vt - last_read_at >= interval '30 seconds' AND vt - last_read_at < interval '31 seconds') FROM r1),
    'read hides the message for vt seconds');
SELECT results_eq($$SELECT msg_id, read_ct, vt, last_read_at FROM pgmq.q_rd WHERE msg_id IN (1, 2) ORDER BY msg_id$$,
    $$SELECT msg_id, read_ct, vt, last_read_at FROM r1 ORDER BY msg_id$$, 'the returned rows are what is stored');
SELECT results_eq($$SELECT message FROM r1$$, $$VALUES ('{"n":1,"k":"a"}'::jsonb), ('{"n":2,"k":"b"}')$$, 'read returns the bodies');
SELECT results_eq($$SELECT msg_id FROM pgmq.read('rd', 30, 1)$$, ARRAY[3]::bigint[], 'invisible messages are skipped');

-- LIFO: newest visible first, case-insensitive, results in that order.
SELECT results_eq($$SELECT msg_id FROM pgmq.read('rd', 30, 1, '{}', 'DESC')$$, ARRAY[5]::bigint[], 'DESC takes the newest first');
SELECT results_eq($$SELECT msg_id FROM pgmq.read('rd', 0, 5, direction => 'desc')$$, ARRAY[4]::bigint[],
    'lower-case desc works and skips invisible messages');

-- vt = 0 leaves the message visible while read_ct still counts.
SELECT results_eq($$SELECT read_ct FROM pgmq.read('rd', 0, 1, direction => 'Desc')$$, ARRAY[2], 'vt 0: readable again, read_ct 2');
SELECT results_eq($$SELECT read_ct FROM pgmq.read(queue_name => 'rd', vt => 0, qty => 1)$$, ARRAY[3],
    'named arguments as pgmq-py uses; read_ct 3');

-- Make everything visible again; FIFO and LIFO then return the whole queue in order.
SELECT pgmq.set_vt('rd', ARRAY[1, 2, 3, 4, 5]::bigint[], 0);
SELECT results_eq($$SELECT msg_id FROM pgmq.read('rd', 0, 10, '{}', 'ASC')$$, ARRAY[1, 2, 3, 4, 5]::bigint[],
    'ASC returns rows in ascending msg_id order');
SELECT results_eq($$SELECT msg_id FROM pgmq.read('rd', 0, 3, '{}', 'DESC')$$, ARRAY[5, 4, 3]::bigint[],
    'DESC returns rows in descending msg_id order');
SELECT results_eq($$SELECT msg_id FROM pgmq.read('rd', 0, 2, direction => 'asc')$$, ARRAY[1, 2]::bigint[], 'lower-case asc');

-- conditional (@>), '{}' and NULL mean no filter.
SELECT results_eq($$SELECT msg_id FROM pgmq.read('rd', 0, 10, '{"k":"a"}')$$, ARRAY[1, 3, 5]::bigint[], 'conditional filters by containment');
SELECT results_eq($$SELECT msg_id FROM pgmq.read('rd', 0, 10, '{"k":"b"}', 'DESC')$$, ARRAY[4, 2]::bigint[], 'conditional with DESC');
SELECT results_eq($$SELECT msg_id FROM pgmq.read('rd', 0, 10, NULL)$$, ARRAY[1, 2, 3, 4, 5]::bigint[], 'NULL conditional means no filter');
SELECT is((SELECT count(*) FROM pgmq.read('rd', 0, 10, '{"k":"z"}')), 0::bigint, 'a conditional that matches nothing');

-- read_ct was counted by every read above that returned the message (message 4 was read twice more with
-- vt 0); set_vt did not touch it.
SELECT results_eq($$SELECT msg_id, read_ct FROM pgmq.q_rd ORDER BY msg_id$$,
    $$VALUES (1::bigint, 5), (2, 5), (3, 5), (4, 7), (5, 5)$$, 'read_ct counts every read of each message');

-- Direction errors (PQ003, message names the value), also before anything is claimed.
SELECT throws_ok($$SELECT * FROM pgmq.read('rd', 30, 1, '{}', 'sideways')$$, 'PQ003',
    'pgmq: direction must be ''ASC'' or ''DESC'', got ''sideways''', 'read rejects an unknown direction');
SELECT throws_ok($$SELECT * FROM pgmq.read('rd', 30, 1, '{}', NULL)$$, 'PQ003',
    'pgmq: direction must be ''ASC'' or ''DESC'', got NULL', 'read rejects a NULL direction');
SELECT throws_ok($$SELECT * FROM pgmq.read('rd', 30, 1, '{}', ' ASC')$$, 'PQ003', NULL, 'no trimming: '' ASC'' is rejected');
SELECT is((SELECT count(*) FROM pgmq.q_rd WHERE vt > clock_timestamp()), 0::bigint, 'failed reads claimed nothing');
SELECT is(pgmq._order_direction('aSc'), 'ASC', '_order_direction normalises to ASC');
SELECT is(pgmq._order_direction('dEsC'), 'DESC', '_order_direction normalises to DESC');
SELECT throws_ok($$SELECT * FROM pgmq.read('nope', 30, 1)$$, '42P01', 'relation "pgmq.q_nope" does not exist', 'read of an unknown queue');

-- read_with_poll: returns at once when something is visible, in the requested order.
SELECT results_eq($$SELECT msg_id FROM pgmq.read_with_poll('rd', 30, 2)$$, ARRAY[1, 2]::bigint[], 'read_with_poll FIFO');
SELECT results_eq($$SELECT msg_id FROM pgmq.read_with_poll('rd', 30, 2, 1, 10, '{}', 'DESC')$$, ARRAY[5, 4]::bigint[], 'read_with_poll LIFO');
SELECT results_eq($$SELECT msg_id FROM pgmq.read_with_poll(queue_name => 'rd', vt => 30, qty => 5, max_poll_seconds => 1,
                                                          poll_interval_ms => 10, conditional => '{"k":"a"}', direction => 'desc')$$,
    ARRAY[3]::bigint[], 'read_with_poll with named arguments and conditional');
SELECT results_eq($$SELECT read_ct FROM pgmq.q_rd WHERE msg_id = 5$$, ARRAY[6], 'read_with_poll counts read_ct');
SELECT throws_ok($$SELECT * FROM pgmq.read_with_poll('rd', 30, 1, 5, 100, '{}', 'up')$$, 'PQ003',
    'pgmq: direction must be ''ASC'' or ''DESC'', got ''up''', 'read_with_poll rejects an unknown direction');

SELECT throws_ok($$SELECT * FROM pgmq.read_with_poll('rd', 30, 1, NULL)$$, 'PQ003',
    'pgmq.read_with_poll: max_poll_seconds and poll_interval_ms must not be NULL, got NULL and 100',
    'read_with_poll refuses a NULL deadline instead of polling forever');

-- An empty queue: waits max_poll_seconds, then returns nothing.
SELECT pgmq.create('rd_empty');
CREATE TEMP TABLE p0 AS SELECT clock_timestamp() AS at;
SELECT is((SELECT count(*) FROM pgmq.read_with_poll('rd_empty', 30, 1, 1, 50)), 0::bigint, 'read_with_poll on an empty queue returns nothing');
SELECT ok((SELECT clock_timestamp() - at BETWEEN interval '1 second' AND interval '1.9 seconds' FROM p0),
    'read_with_poll waited about max_poll_seconds');
-- A message that becomes visible during the poll is returned then, not at the deadline.
SELECT pgmq.send('rd_empty', '{"late":true}', clock_timestamp() + interval '300 milliseconds');
CREATE TEMP TABLE p1 AS SELECT clock_timestamp() AS at;
SELECT results_eq($$SELECT message FROM pgmq.read_with_poll('rd_empty', 30, 1, 3, 20, '{}', 'DESC')$$,
    $$VALUES ('{"late":true}'::jsonb)$$, 'read_with_poll returns a message that becomes visible while it waits');
SELECT ok((SELECT clock_timestamp() - at < interval '2 seconds' FROM p1), 'and returns well before the deadline');

-- pop: deletes and returns visible messages unchanged, FIFO or LIFO; nothing archived.
SELECT pgmq.create('pp');
SELECT pgmq.send_batch('pp', ARRAY['{"p":1}', '{"p":2}', '{"p":3}', '{"p":4}', '{"p":5}']::jsonb[]);
SELECT pgmq.send('pp', '{"p":6}', 3600);
SELECT pgmq.read('pp', 0, 1);
SELECT results_eq($$SELECT msg_id, read_ct, message FROM pgmq.pop('pp')$$, $$VALUES (1::bigint, 1, '{"p":1}'::jsonb)$$,
    'pop takes the oldest message, read_ct unchanged');
SELECT results_eq($$SELECT msg_id FROM pgmq.pop('pp', 2, 'DESC')$$, ARRAY[5, 4]::bigint[], 'pop DESC takes the newest visible first, in order');
SELECT results_eq($$SELECT msg_id FROM pgmq.pop(queue_name => 'pp', qty => 10, direction => 'asc')$$, ARRAY[2, 3]::bigint[],
    'pop ASC with named arguments, skipping the delayed message');
SELECT results_eq($$SELECT msg_id FROM pgmq.q_pp$$, ARRAY[6]::bigint[], 'popped messages are deleted; the delayed one stays');
SELECT is((SELECT count(*) FROM pgmq.a_pp), 0::bigint, 'pop archives nothing');
SELECT is((SELECT count(*) FROM pgmq.pop('pp')), 0::bigint, 'pop of a queue with nothing visible returns no rows');
SELECT throws_ok($$SELECT * FROM pgmq.pop('pp', 1, 'LIFO')$$, 'PQ003', 'pgmq: direction must be ''ASC'' or ''DESC'', got ''LIFO''',
    'pop rejects an unknown direction');
SELECT pgmq.set_vt('pp', 6, 0);
SELECT throws_ok($$SELECT * FROM pgmq.pop('pp', 1, '')$$, 'PQ003', NULL, 'pop rejects an empty direction');
SELECT results_eq($$SELECT msg_id FROM pgmq.q_pp$$, ARRAY[6]::bigint[], 'a rejected pop deletes nothing');

SELECT * FROM finish();
ROLLBACK;
