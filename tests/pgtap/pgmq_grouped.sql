-- pgTAP: FIFO group reads of schema pgmq (read_grouped, read_grouped_rr, read_grouped_head, their _with_poll
-- forms, create_fifo_index, create_fifo_indexes_all). One assertion per rule; every ordering rule is checked
-- both with the fifo index (loose index scan) and without it (sequential fallback).
BEGIN;
SELECT plan(84);

-- Queue layout used by the ordering tests (msg_id: group):
--   1:a 2:b 3:a 4:'' 5:<no headers> 6:b 7:<x-pgmq-group null> 8:a 9:'' 10:<headers {}>
-- Groups: a=[1,3,8]  b=[2,6]  ''=[4,9]  _default_fifo_group=[5,7,10].
CREATE FUNCTION pg_temp.fill(q text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_headers jsonb[] := ARRAY[
        '{"x-pgmq-group": "a"}', '{"x-pgmq-group": "b"}', '{"x-pgmq-group": "a"}', '{"x-pgmq-group": ""}',
        NULL, '{"x-pgmq-group": "b"}', '{"x-pgmq-group": null}', '{"x-pgmq-group": "a"}',
        '{"x-pgmq-group": ""}', '{}'
    ]::jsonb[];
BEGIN
    PERFORM pgmq.create(q);
    FOR i IN 1 .. 10 LOOP
        PERFORM pgmq.send(q, jsonb_build_object('i', i), v_headers[i]);
    END LOOP;
END;
$$;

-- Runs a read and returns its msg_ids in result order.
CREATE FUNCTION pg_temp.ids(sql text) RETURNS bigint[] LANGUAGE plpgsql AS $$
DECLARE
    v bigint[];
BEGIN
    EXECUTE format('SELECT array_agg(r.msg_id ORDER BY r.n) FROM (SELECT msg_id, row_number() OVER () AS n FROM (%s) s) r', sql)
        INTO v;
    RETURN COALESCE(v, '{}');
END;
$$;

-- Makes every message of the queue visible again (the ordering tests read with vt 30 and start afresh).
CREATE FUNCTION pg_temp.reset(q text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('UPDATE pgmq.%I SET vt = clock_timestamp() - interval ''1 second''', 'q_' || q);
END;
$$;

SELECT pg_temp.fill('gplain');
SELECT pg_temp.fill('gidx');
SELECT pgmq.create_fifo_index('gidx');
-- With the index, a group read first looks for heads among the oldest (newest) messages, a window that
-- covers these small queues whole. Switch that step off so that the tests below check the full search (the
-- loose index scan); the window has its own section.
SET LOCAL pgmq.group_read_window = 0;

-- ---------------------------------------------------------------- signatures
SELECT has_function('pgmq', 'read_grouped', ARRAY['text', 'integer', 'integer', 'text'], 'read_grouped(queue_name, vt, qty, direction)');
SELECT has_function('pgmq', 'read_grouped_with_poll', ARRAY['text', 'integer', 'integer', 'integer', 'integer', 'text'], 'read_grouped_with_poll signature');
SELECT has_function('pgmq', 'read_grouped_rr', ARRAY['text', 'integer', 'integer', 'text'], 'read_grouped_rr signature');
SELECT has_function('pgmq', 'read_grouped_rr_with_poll', ARRAY['text', 'integer', 'integer', 'integer', 'integer', 'text'], 'read_grouped_rr_with_poll signature');
SELECT has_function('pgmq', 'read_grouped_head', ARRAY['text', 'integer', 'integer', 'text'], 'read_grouped_head signature');
SELECT has_function('pgmq', 'read_grouped_head_with_poll', ARRAY['text', 'integer', 'integer', 'integer', 'integer', 'text'], 'read_grouped_head_with_poll signature');
SELECT is(
    (SELECT string_agg(p.proname || '(' || pg_get_function_arguments(p.oid) || ')', E'\n' ORDER BY p.proname)
     FROM pg_proc p WHERE p.pronamespace = 'pgmq'::regnamespace AND p.proname LIKE 'read\_grouped%'),
    'read_grouped(queue_name text, vt integer, qty integer, direction text DEFAULT ''ASC''::text)' || E'\n' ||
    'read_grouped_head(queue_name text, vt integer, qty integer, direction text DEFAULT ''ASC''::text)' || E'\n' ||
    'read_grouped_head_with_poll(queue_name text, vt integer, qty integer, max_poll_seconds integer DEFAULT 5, poll_interval_ms integer DEFAULT 100, direction text DEFAULT ''ASC''::text)' || E'\n' ||
    'read_grouped_rr(queue_name text, vt integer, qty integer, direction text DEFAULT ''ASC''::text)' || E'\n' ||
    'read_grouped_rr_with_poll(queue_name text, vt integer, qty integer, max_poll_seconds integer DEFAULT 5, poll_interval_ms integer DEFAULT 100, direction text DEFAULT ''ASC''::text)' || E'\n' ||
    'read_grouped_with_poll(queue_name text, vt integer, qty integer, max_poll_seconds integer DEFAULT 5, poll_interval_ms integer DEFAULT 100, direction text DEFAULT ''ASC''::text)',
    'exactly one signature per group read, each ending in direction DEFAULT ''ASC'''
);
SELECT function_returns('pgmq', 'read_grouped_rr', ARRAY['text', 'integer', 'integer', 'text'], 'setof pgmq.message_record', 'group reads return SETOF pgmq.message_record');
SELECT has_function('pgmq', 'create_fifo_index', ARRAY['text'], 'create_fifo_index(queue_name)');
SELECT has_function('pgmq', 'create_fifo_indexes_all', ARRAY[]::text[], 'create_fifo_indexes_all()');

-- ---------------------------------------------------------------- fifo index
SELECT is(
    pg_get_indexdef('pgmq.q_gidx_fifo_idx'::regclass),
    'CREATE INDEX q_gidx_fifo_idx ON pgmq.q_gidx USING btree (COALESCE((headers ->> ''x-pgmq-group''::text), ''_default_fifo_group''::text), msg_id)',
    'create_fifo_index builds a btree on (group key, msg_id)'
);
SELECT ok(pgmq._fifo_index_ready('q_gidx') AND NOT pgmq._fifo_index_ready('q_gplain'), 'the group reads see the index on gidx only');
CREATE TEMP TABLE idx_oid AS SELECT 'pgmq.q_gidx_fifo_idx'::regclass::oid AS oid;
SELECT lives_ok($$SELECT pgmq.create_fifo_index('gidx')$$, 'create_fifo_index is idempotent');
SELECT is('pgmq.q_gidx_fifo_idx'::regclass::oid, (SELECT oid FROM idx_oid), 'a repeat keeps the existing index');
SELECT pgmq.create('ggin');
CREATE INDEX q_ggin_fifo_idx ON pgmq.q_ggin USING gin (headers);
SELECT pgmq.create_fifo_index('ggin');
SELECT ok(pgmq._fifo_index_ready('q_ggin'), 'an upstream-style GIN index of that name is replaced by the btree');
SELECT pgmq.create('gall1');
SELECT pgmq.create('GAll2');
SELECT pgmq.create_fifo_indexes_all();
SELECT ok(pgmq._fifo_index_ready('q_gall1') AND pgmq._fifo_index_ready('q_gall2') AND pgmq._fifo_index_ready('q_gplain'),
    'create_fifo_indexes_all indexes every queue, mixed-case names too');
DROP INDEX pgmq.q_gplain_fifo_idx;
SELECT throws_ok($$SELECT pgmq.create_fifo_index('nope')$$, '42P01', NULL, 'create_fifo_index of an unknown queue fails');

-- ---------------------------------------------------------------- read_grouped_head
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped_head('gplain', 30, 10)$$), '{1,2,4,5}',
    'head: one message per group, its oldest, groups by head (no index)');
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped_head('gidx', 30, 10)$$), '{1,2,4,5}',
    'head: one message per group, its oldest, groups by head (index)');
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped_head('gidx', 30, 10)$$), '{}',
    'head: in-flight heads block their groups, though later messages are visible');
SELECT pg_temp.reset('gplain'); SELECT pg_temp.reset('gidx');
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped_head('gplain', 30, 2)$$), '{1,2}', 'head: at most qty (no index)');
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped_head('gidx', 30, 2)$$), '{1,2}', 'head: at most qty (index)');
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped_head('gidx', 30, 10)$$), '{4,5}',
    'head: the next read gets only the groups not in flight');
SELECT pg_temp.reset('gplain'); SELECT pg_temp.reset('gidx');
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped_head('gplain', 30, 10, 'DESC')$$), '{10,9,8,6}',
    'head DESC: each group''s newest message, newest group first (no index)');
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped_head('gidx', 30, 10, 'desc')$$), '{10,9,8,6}',
    'head DESC: each group''s newest message, newest group first (index, lower-case direction)');
SELECT pg_temp.reset('gplain'); SELECT pg_temp.reset('gidx');

-- ---------------------------------------------------------------- group keys
SELECT is(
    (SELECT array_agg(msg_id ORDER BY msg_id) FROM pgmq.read_grouped_rr('gidx', 0, 10) WHERE msg_id IN (5, 7, 10)),
    '{5,7,10}', 'no headers, a null x-pgmq-group and headers without it all read back');
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped_head('gidx', 0, 10)$$), '{1,2,4,5}',
    'missing header, JSON null and {} share _default_fifo_group (one head, msg 5)');
SELECT pgmq.send('gidx', '{"i": 11}'::jsonb, '{"x-pgmq-group": "_default_fifo_group"}'::jsonb);
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped_head('gidx', 0, 10)$$), '{1,2,4,5}',
    'an explicit _default_fifo_group header joins the default group');
UPDATE pgmq.q_gidx SET vt = clock_timestamp() + interval '1 minute' WHERE msg_id = 5;
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped_head('gidx', 0, 10)$$), '{1,2,4}',
    'an in-flight default-group head blocks every header-less message');
UPDATE pgmq.q_gidx SET vt = clock_timestamp() + interval '1 minute' WHERE msg_id = 4;
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped_head('gidx', 0, 10)$$), '{1,2}',
    'the empty string is a group of its own, separate from the default group');
DELETE FROM pgmq.q_gidx WHERE msg_id = 11;
SELECT pg_temp.reset('gidx');

-- ---------------------------------------------------------------- read_grouped (SQS style)
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped('gplain', 30, 10)$$), '{1,3,8,2,6,4,9,5,7,10}',
    'sqs: whole groups, oldest group first, FIFO inside a group (no index)');
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped('gidx', 30, 10)$$), '{1,3,8,2,6,4,9,5,7,10}',
    'sqs: whole groups, oldest group first, FIFO inside a group (index)');
SELECT pg_temp.reset('gplain'); SELECT pg_temp.reset('gidx');
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped('gplain', 30, 4)$$), '{1,3,8,2}', 'sqs: qty caps the batch across groups (no index)');
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped('gidx', 30, 4)$$), '{1,3,8,2}', 'sqs: qty caps the batch across groups (index)');
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped('gidx', 30, 10)$$), '{4,9,5,7,10}',
    'sqs: group b, whose head is in flight, is skipped though msg 6 is visible');
SELECT pg_temp.reset('gplain'); SELECT pg_temp.reset('gidx');
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped('gplain', 30, 10, 'DESC')$$), '{10,7,5,9,4,8,3,1,6,2}',
    'sqs DESC: newest group first, LIFO inside a group (no index)');
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped('gidx', 30, 10, 'DESC')$$), '{10,7,5,9,4,8,3,1,6,2}',
    'sqs DESC: newest group first, LIFO inside a group (index)');
SELECT pg_temp.reset('gidx');
UPDATE pgmq.q_gidx SET vt = clock_timestamp() + interval '1 minute' WHERE msg_id = 3;
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped('gidx', 30, 3)$$), '{1,8,2}',
    'sqs: a later invisible message of a visible-headed group is passed over, as in pgmq');
SELECT pg_temp.reset('gplain'); SELECT pg_temp.reset('gidx');

-- ---------------------------------------------------------------- read_grouped_rr
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped_rr('gplain', 30, 10)$$), '{1,2,4,5,3,6,9,7,8,10}',
    'rr: layers (every group''s 1st, then 2nd, ...), groups by head, in selection order (no index)');
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped_rr('gidx', 30, 10)$$), '{1,2,4,5,3,6,9,7,8,10}',
    'rr: layers (every group''s 1st, then 2nd, ...), groups by head, in selection order (index)');
SELECT pg_temp.reset('gplain'); SELECT pg_temp.reset('gidx');
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped_rr('gplain', 30, 6)$$), '{1,2,4,5,3,6}', 'rr: qty cuts the layers (no index)');
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped_rr('gidx', 30, 6)$$), '{1,2,4,5,3,6}', 'rr: qty cuts the layers (index)');
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped_rr('gidx', 30, 10)$$), '{}',
    'rr: every group has its head in flight, so nothing, though 7, 8, 9 and 10 are visible');
SELECT pg_temp.reset('gplain'); SELECT pg_temp.reset('gidx');
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped_rr('gplain', 30, 10, 'DESC')$$), '{10,9,8,6,7,4,3,2,5,1}',
    'rr DESC: layers of newest messages, newest group first (no index)');
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped_rr('gidx', 30, 10, 'DESC')$$), '{10,9,8,6,7,4,3,2,5,1}',
    'rr DESC: layers of newest messages, newest group first (index)');
SELECT pg_temp.reset('gidx');
UPDATE pgmq.q_gidx SET vt = clock_timestamp() + interval '1 minute' WHERE msg_id = 10;
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped_rr('gidx', 30, 10, 'DESC')$$), '{9,8,6,4,3,2,1}',
    'rr DESC: an in-flight newest message blocks its group');
SELECT pg_temp.reset('gidx');

-- ---------------------------------------------------------------- window of oldest / newest messages first
SET LOCAL pgmq.group_read_window = 3;
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped_head('gidx', 30, 2)$$), '{1,2}',
    'window 3 (msgs 1-3) holds the heads of a and b: enough for qty 2');
SELECT pg_temp.reset('gidx');
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped_head('gidx', 30, 10)$$), '{1,2,4,5}',
    'window 3 holds too few heads for qty 10: the full search completes the batch in the same order');
SELECT pg_temp.reset('gidx');
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped('gidx', 30, 4)$$), '{1,3,8,2}',
    'sqs through the window and the full search');
SELECT pg_temp.reset('gidx');
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped_rr('gidx', 30, 3, 'DESC')$$), '{10,9,8}',
    'DESC window (msgs 10, 9, 8) holds three heads: enough for qty 3');
SELECT pg_temp.reset('gidx');
UPDATE pgmq.q_gidx SET vt = clock_timestamp() + interval '1 minute' WHERE msg_id = 1;
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped_rr('gidx', 30, 10)$$), '{2,4,5,6,9,7,10}',
    'window: an in-flight head (1) keeps its visible followers (3 in the window) out');
SELECT pg_temp.reset('gidx');
SET LOCAL pgmq.group_read_window = 4;
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped_head('gidx', 30, 3)$$), '{1,2,4}',
    'window 4 (msgs 1-4): 3 is not a head (1 precedes it), so the window yields 1, 2, 4');
SELECT pg_temp.reset('gidx');
UPDATE pgmq.q_gidx SET vt = clock_timestamp() + interval '1 minute' WHERE msg_id = 1;
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped_head('gidx', 30, 2)$$), '{2,4}',
    'window 4 with msg 1 in flight: 3 is still not a head, the window yields 2, 4');
SELECT pg_temp.reset('gidx');
RESET pgmq.group_read_window;
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped_rr('gidx', 30, 10)$$), '{1,2,4,5,3,6,9,7,8,10}',
    'default window (covers the queue): rr layers');
SELECT pg_temp.reset('gidx');
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped('gidx', 30, 10, 'DESC')$$), '{10,7,5,9,4,8,3,1,6,2}',
    'default window: sqs DESC');
SELECT pg_temp.reset('gidx');
SET LOCAL pgmq.group_read_window = 0;

-- ---------------------------------------------------------------- index present, but about one message per group
ANALYZE pgmq.q_gidx;
SELECT ok(pgmq._fifo_index_ready('q_gidx') AND NOT pgmq._fifo_loose_scan_pays('q_gidx'),
    'with 4 groups in 10 messages the statistics choose one sequential pass for the heads');
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped_rr('gidx', 30, 10)$$), '{1,2,4,5,3,6,9,7,8,10}',
    'rr: same layers when the heads come from the sequential pass and the fill from the index');
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped('gidx', 30, 10)$$), '{}',
    'sqs: every head in flight, nothing, on the sequential-pass path too');
SELECT pg_temp.reset('gidx');

-- ---------------------------------------------------------------- delayed heads
SELECT pgmq.create('gdelay');
SELECT pgmq.create_fifo_index('gdelay');
SELECT pgmq.send('gdelay', '{"i": 1}'::jsonb, '{"x-pgmq-group": "x"}'::jsonb, 60);
SELECT pgmq.send('gdelay', '{"i": 2}'::jsonb, '{"x-pgmq-group": "x"}'::jsonb);
SELECT pgmq.send('gdelay', '{"i": 3}'::jsonb, '{"x-pgmq-group": "y"}'::jsonb);
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped('gdelay', 0, 10)$$), '{3}', 'sqs: a delayed head holds back its group');
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped_rr('gdelay', 0, 10)$$), '{3}', 'rr: a delayed head holds back its group');
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped_head('gdelay', 0, 10)$$), '{3}', 'head: a delayed head holds back its group');

-- ---------------------------------------------------------------- vt, read_ct, last_read_at
UPDATE pgmq.q_gidx SET read_ct = 0, last_read_at = NULL, vt = clock_timestamp() - interval '1 second';
CREATE TEMP TABLE t_before AS SELECT clock_timestamp() AS t0;
CREATE TEMP TABLE got AS SELECT * FROM pgmq.read_grouped_head('gidx', 30, 1);
SELECT is((SELECT read_ct FROM got), 1, 'a group read returns read_ct incremented from 0 to 1');
SELECT is((SELECT read_ct FROM got), (SELECT read_ct FROM pgmq.q_gidx WHERE msg_id = 1), 'the returned read_ct is the stored one');
SELECT ok((SELECT g.vt BETWEEN t.t0 + interval '30 seconds' AND clock_timestamp() + interval '30 seconds' FROM got g, t_before t),
    'vt = clock_timestamp() + vt seconds');
SELECT ok((SELECT g.last_read_at BETWEEN t.t0 AND clock_timestamp() FROM got g, t_before t), 'last_read_at is set to the read time');
UPDATE pgmq.q_gidx SET read_ct = 0, vt = clock_timestamp() - interval '1 second';
SELECT is(
    (SELECT array_agg(read_ct) FROM pgmq.read_grouped('gidx', 0, 3)), '{1,1,1}', 'read_grouped increments read_ct by one');
SELECT is(
    (SELECT array_agg(read_ct) FROM pgmq.read_grouped_rr('gidx', 0, 2)), '{2,1}', 'read_grouped_rr increments read_ct by one (msg 1 then 2)');
SELECT is(
    (SELECT read_ct FROM pgmq.q_gidx WHERE msg_id = 10), 0, 'messages not returned keep their read_ct');
SELECT ok(
    (SELECT vt <= clock_timestamp() FROM pgmq.q_gidx WHERE msg_id = 1), 'vt 0 leaves a message visible');

-- ---------------------------------------------------------------- arguments and errors
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped('gidx', 0, 0)$$), '{}', 'qty 0 returns nothing');
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped_rr('gidx', 0, -1)$$), '{}', 'a negative qty returns nothing');
SELECT throws_ok($$SELECT * FROM pgmq.read_grouped('gidx', 0, 1, 'up')$$, 'PQ003',
    'pgmq: direction must be ''ASC'' or ''DESC'', got ''up''', 'read_grouped: a bad direction raises PQ003 naming it');
SELECT throws_ok($$SELECT * FROM pgmq.read_grouped_rr('gidx', 0, 1, 'sideways')$$, 'PQ003', NULL, 'read_grouped_rr: bad direction');
SELECT throws_ok($$SELECT * FROM pgmq.read_grouped_head('gidx', 0, 1, NULL)$$, 'PQ003', NULL, 'read_grouped_head: NULL direction');
SELECT throws_ok($$SELECT * FROM pgmq.read_grouped_with_poll('gidx', 0, 1, 5, 100, 'LIFO')$$, 'PQ003', NULL, 'read_grouped_with_poll: bad direction, before waiting');
SELECT throws_ok($$SELECT * FROM pgmq.read_grouped_rr_with_poll('gidx', 0, 1, 5, 100, '')$$, 'PQ003', NULL, 'read_grouped_rr_with_poll: bad direction');
SELECT throws_ok($$SELECT * FROM pgmq.read_grouped_head_with_poll('gidx', 0, 1, 5, 100, 'ascending')$$, 'PQ003', NULL, 'read_grouped_head_with_poll: bad direction');
SELECT throws_ok($$SELECT * FROM pgmq.read_grouped('missing_q', 0, 1)$$, '42P01', NULL, 'an unknown queue raises undefined_table');
SELECT throws_ok($$SELECT * FROM pgmq.read_grouped_head('bad;name', 0, 1)$$, 'P0001',
    E'queue name contains invalid characters: $, ;, --, or \\''', 'an invalid queue name raises pgmq''s error');

-- ---------------------------------------------------------------- _with_poll
SELECT pgmq.create('gpoll');
SELECT pgmq.create_fifo_index('gpoll');
CREATE TEMP TABLE poll_t AS SELECT clock_timestamp() AS t0;
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped_head_with_poll('gpoll', 30, 1, 1, 50)$$), '{}',
    'head_with_poll: nothing to read gives no rows');
SELECT ok(clock_timestamp() - (SELECT t0 FROM poll_t) >= interval '1 second', 'head_with_poll waited max_poll_seconds');
SELECT pgmq.send('gpoll', '{"i": 1}'::jsonb, '{"x-pgmq-group": "p"}'::jsonb, 1);
SELECT pgmq.send('gpoll', '{"i": 2}'::jsonb, '{"x-pgmq-group": "p"}'::jsonb, 1);
UPDATE poll_t SET t0 = clock_timestamp();
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped_with_poll('gpoll', 30, 5, 5, 20, 'DESC')$$), '{2,1}',
    'read_grouped_with_poll returns as soon as a delayed group becomes visible, in direction order');
SELECT ok(clock_timestamp() - (SELECT t0 FROM poll_t) < interval '3 seconds', 'read_grouped_with_poll did not wait out max_poll_seconds');
UPDATE pgmq.q_gpoll SET vt = clock_timestamp() + interval '1 second';
SELECT is(pg_temp.ids($$SELECT * FROM pgmq.read_grouped_rr_with_poll('gpoll', 30, 5, 5, 20)$$), '{1,2}',
    'read_grouped_rr_with_poll picks the group up once its head is visible again');

SELECT * FROM finish();
ROLLBACK;
