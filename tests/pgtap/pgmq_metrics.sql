-- pgmq.metrics and pgmq.metrics_all: lengths, visible length (vt <= now()), ages, total_messages from the
-- identity sequence, scrape_time, default_partition_length NULL, queue name echoed as given.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(12);

SELECT pgmq.create('MetQ');
SELECT results_eq(
    $$SELECT queue_name, queue_length, newest_msg_age_sec, oldest_msg_age_sec, total_messages, scrape_time,
             queue_visible_length, default_partition_length FROM pgmq.metrics('MetQ')$$,
    $$VALUES ('MetQ'::text, 0::bigint, NULL::integer, NULL::integer, 0::bigint, now(), 0::bigint, NULL::bigint)$$,
    'metrics of an empty, never used queue');

SELECT pgmq.send_batch('MetQ', ARRAY['{"m":1}', '{"m":2}', '{"m":3}', '{"m":4}']::jsonb[]);
-- Visibility in metrics is judged against now(); pin vt so the result does not depend on timing.
SELECT pgmq.set_vt('MetQ', ARRAY[1, 2, 3]::bigint[], now() - interval '1 second');
SELECT pgmq.set_vt('MetQ', 4, now() + interval '1 hour');
UPDATE pgmq.q_metq SET enqueued_at = now() - interval '120 seconds' WHERE msg_id = 1;
UPDATE pgmq.q_metq SET enqueued_at = now() - interval '30 seconds' WHERE msg_id IN (2, 3, 4);
SELECT results_eq(
    $$SELECT queue_length, queue_visible_length, oldest_msg_age_sec, newest_msg_age_sec, total_messages FROM pgmq.metrics('MetQ')$$,
    $$VALUES (4::bigint, 3::bigint, 120, 30, 4::bigint)$$,
    'lengths, visible length, ages in seconds and total');

SELECT pgmq.delete('MetQ', 1::bigint);
SELECT pgmq.archive('MetQ', 2::bigint);
SELECT results_eq(
    $$SELECT queue_length, queue_visible_length, oldest_msg_age_sec, total_messages FROM pgmq.metrics('MetQ')$$,
    $$VALUES (2::bigint, 1::bigint, 30, 4::bigint)$$,
    'total_messages counts messages ever sent, not the current ones');
SELECT pgmq.purge_queue('MetQ');
SELECT results_eq($$SELECT queue_length, total_messages FROM pgmq.metrics('MetQ')$$, $$VALUES (0::bigint, 4::bigint)$$,
    'purge empties the queue but total_messages stays');
SELECT is((SELECT queue_name FROM pgmq.metrics(queue_name => 'MetQ')), 'MetQ', 'metrics with a named argument echoes the name as given');
SELECT is((SELECT queue_name FROM pgmq.metrics('metq')), 'metq', 'another spelling reads the same table');
SELECT throws_ok($$SELECT * FROM pgmq.metrics('nope')$$, '42P01', NULL, 'metrics of an unknown queue');

-- A 47-character queue: the identity sequence name is truncated by PostgreSQL, metrics still finds it.
SELECT pgmq.create(repeat('m', 47));
SELECT pgmq.send(repeat('m', 47), '{}');
SELECT is((SELECT total_messages FROM pgmq.metrics(repeat('m', 47))), 1::bigint, 'metrics finds the sequence of a 47-character queue');

-- metrics_all: one row per queue in pgmq.meta.
SELECT pgmq.create('met_other');
SELECT pgmq.send('met_other', '{}');
SELECT results_eq(
    $$SELECT queue_name, queue_length, total_messages FROM pgmq.metrics_all() WHERE queue_name IN ('MetQ', 'met_other', repeat('m', 47))
      ORDER BY queue_name COLLATE "C"$$,
    $$VALUES ('MetQ'::text, 0::bigint, 4::bigint), ('met_other', 1, 1), (repeat('m', 47), 1, 1)$$,
    'metrics_all covers every queue');
SELECT is((SELECT count(*) FROM pgmq.metrics_all()), (SELECT count(*) FROM pgmq.meta), 'metrics_all returns one row per meta row');
SELECT ok((SELECT bool_and(scrape_time = now() AND default_partition_length IS NULL) FROM pgmq.metrics_all()),
    'scrape_time is now() and default_partition_length NULL everywhere');
SELECT ok(has_function_privilege('pg_monitor', 'pgmq.metrics(text)', 'EXECUTE')
          AND has_sequence_privilege('pg_monitor', 'pgmq.q_metq_msg_id_seq', 'SELECT'), 'pg_monitor can compute metrics');

SELECT * FROM finish();
ROLLBACK;
