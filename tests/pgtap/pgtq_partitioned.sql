-- pgtq on partitioned queues (pgmq.create_partitioned, pg_partman): registration by create_queue and by a first
-- read, our indexes (a plain dedupe index, an msg_id index on time-partitioned tables), reads (FIFO, LIFO,
-- grouped, limit, concurrency limit), complete, fail, DLQ, reschedule, dedupe keys, stats, and prune: whole
-- partitions dropped on a time-partitioned archive, rows deleted in the partition that straddles the cutoff,
-- in the default partition and on an archive partitioned by msg_id.
-- Runs where the server has pg_partman (scripts/deps.sh installs postgresql-15-partman): the extension is
-- created in schema partman inside this file's transaction, which is rolled back. Skips otherwise.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(44);

SELECT pgmq._extension_exists('pg_partman') AS had_partman,
       EXISTS (SELECT 1 FROM pg_catalog.pg_available_extensions WHERE name = 'pg_partman') AS can_partman \gset

\if :can_partman
\if :had_partman
\else
CREATE SCHEMA partman;
CREATE EXTENSION pg_partman SCHEMA partman;
\endif

CREATE FUNCTION pg_temp.purposes(q text) RETURNS text[] LANGUAGE sql AS $$
    SELECT array_agg(i.purpose ORDER BY i.purpose) FROM pgtq.queue_indexes i
    JOIN pgtq.queues x ON x.queue_id = i.queue_id WHERE x.queue_name = q;
$$;
-- Leaf partitions of pgmq.<t> (not the default) whose range ends at or before the given time.
CREATE FUNCTION pg_temp.partitions_ending_by(t text, ts timestamptz) RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
    CROSS JOIN LATERAL regexp_match(pg_catalog.pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']*)''\)$') AS m (b)
    WHERE i.inhparent = pg_catalog.to_regclass('pgmq.' || t) AND m.b[1]::timestamptz <= ts;
$$;
CREATE FUNCTION pg_temp.n_partitions(t text) RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM pg_catalog.pg_partition_tree(pg_catalog.to_regclass('pgmq.' || t)) WHERE isleaf;
$$;
-- Make a task visible again (pretend its lease or retry delay passed).
CREATE FUNCTION pg_temp.due(q text, id bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('UPDATE pgmq.%I SET vt = clock_timestamp() - interval ''1 s'' WHERE msg_id = $1', 'q_' || q) USING id;
END;
$$;

-- Registration.
SELECT pgmq.create_partitioned('tq_n', '100', '100000');
SELECT pgmq.create_partitioned('tq_t', '1 day', '30 days');
SELECT lives_ok($$SELECT pgtq.create_queue('tq_n')$$, 'create_queue registers a queue made with create_partitioned (msg_id)');
SELECT lives_ok($$SELECT pgtq.create_queue('tq_t')$$, 'create_queue registers a queue made with create_partitioned (time)');
SELECT is((SELECT dlq_name FROM pgtq.queues WHERE queue_name = 'tq_t'), 'tq_t_dlq', 'with its DLQ');
SELECT is(pg_temp.purposes('tq_n'), ARRAY['busy', 'dd', 'grp', 'ung'], 'our indexes on a table partitioned by msg_id');
SELECT is(pg_temp.purposes('tq_t'), ARRAY['busy', 'dd', 'grp', 'id', 'ung'],
    'plus an msg_id index on a table partitioned by time');
SELECT is((SELECT pi.indisunique FROM pgtq.queue_indexes i JOIN pg_catalog.pg_index pi ON pi.indexrelid = i.idx
           JOIN pgtq.queues x ON x.queue_id = i.queue_id WHERE x.queue_name = 'tq_t' AND i.purpose = 'dd'),
    false, 'the dedupe index is not unique on a partitioned table');
SELECT lives_ok($$SELECT pgtq.create_queue('tq_t')$$, 'create_queue again is a no-op');
SELECT pgmq.create_partitioned('tq_r', '1 day');
SELECT pgmq.send('tq_r', '{"seed":1}');
SELECT is((SELECT count(*) FROM pgtq.read('tq_r', 5, 30)), 1::bigint, 'a first read registers a partitioned pgmq queue');
SELECT ok(EXISTS (SELECT 1 FROM pgtq.queues WHERE queue_name = 'tq_r'), 'and records it');

-- Plain reads: FIFO, LIFO, qty, concurrency limit.
SELECT pgtq.enqueue('tq_t', format('{"i":%s}', i)::jsonb) FROM generate_series(1, 6) i;     -- msgs 1-6
SELECT is((SELECT array_agg(msg_id ORDER BY msg_id) FROM pgtq.read('tq_t', 2, 30)), ARRAY[1, 2]::bigint[], 'FIFO read, qty 2');
SELECT is((SELECT array_agg(msg_id ORDER BY msg_id) FROM pgtq.read('tq_t', 2, 30, lifo => true)), ARRAY[5, 6]::bigint[], 'LIFO read');
SELECT is((SELECT array_agg(msg_id ORDER BY msg_id) FROM pgtq.read('tq_t', 5, 30, concurrency_limit => 5)),
    ARRAY[3]::bigint[], 'the concurrency limit counts live leases');
SELECT is((SELECT processing FROM pgtq.stats('tq_t')), 5::bigint, 'stats: processing');
SELECT is((SELECT queued FROM pgtq.stats('tq_t')), 1::bigint, 'stats: queued');

-- complete, fail, DLQ, reschedule.
SELECT is(pgtq.complete('tq_t', 1, 1), true, 'complete');
SELECT is((SELECT headers->>'x-pgtq-status' FROM pgmq.a_tq_t WHERE msg_id = 1), 'completed', 'archived as completed');
SELECT is(pgtq.complete('tq_t', 2, 7), false, 'complete with a stale attempt: lease lost');
SELECT is(pgtq.fail('tq_t', 2, 1, 'boom', true, 1, 0), 'retrying', 'fail: retrying');
SELECT pg_temp.due('tq_t', 2);
SELECT is((SELECT attempt FROM pgtq.read('tq_t', 1, 30)), 2, 'the retry is read again (attempt 2)');
SELECT is(pgtq.fail('tq_t', 2, 2, 'boom again', true, 1, 0), 'dead_lettered', 'fail: dead-lettered');
SELECT results_eq($$SELECT message->'errors', (message->>'msg_id')::bigint, (headers->>'x-pgtq-original')::bigint FROM pgmq.q_tq_t_dlq$$,
    $$VALUES ('["boom", "boom again"]'::jsonb, 2::bigint, 2::bigint)$$, 'the DLQ entry: errors as strings, the original msg_id');
SELECT is((SELECT headers->>'x-pgtq-status' FROM pgmq.a_tq_t WHERE msg_id = 2), 'dead_lettered', 'the original archived as dead_lettered');
SELECT is(pgtq.reschedule('tq_t', 1), 7::bigint, 'reschedule: a new task');
SELECT is((SELECT message FROM pgmq.q_tq_t WHERE msg_id = 7), '{"i": 2}'::jsonb, 'with the payload');
SELECT is((SELECT headers->>'x-pgtq-status' FROM pgmq.a_tq_t_dlq WHERE msg_id = 1), 'rescheduled', 'the DLQ entry archived as rescheduled');

-- Grouped reads: one task per group, the group held until its task is done.
SELECT pgtq.enqueue('tq_n', '{}', group_key => g) FROM unnest(ARRAY['a', 'a', 'b', 'b', 'c']) g;  -- msgs 1-5
SELECT is((SELECT array_agg(group_key ORDER BY group_key) FROM pgtq.read('tq_n', 10, 30, grouped => true)),
    ARRAY['a', 'b', 'c'], 'grouped read: one task per group');
SELECT is((SELECT count(*) FROM pgtq.read('tq_n', 10, 30, grouped => true)), 0::bigint, 'busy groups hold back their next task');
SELECT is(pgtq.complete('tq_n', 1, 1), true, 'complete a grouped task');
SELECT is((SELECT array_agg(msg_id) FROM pgtq.read('tq_n', 10, 30, grouped => true)), ARRAY[2]::bigint[],
    'its group''s next task is delivered');
SELECT pgtq.enqueue('tq_n', '{}', group_key => 'd') FROM generate_series(1, 3);                   -- msgs 6-8
SELECT is((SELECT array_agg(msg_id) FROM pgtq.read('tq_n', 10, 30, lifo => true, grouped => true)), ARRAY[8]::bigint[],
    'grouped LIFO: the newest task of the idle group');

-- Dedupe keys: enforced across partitions without a unique index.
SELECT is(pgtq.enqueue('tq_t', '{"d":1}', dedupe_key => 'k'), 8::bigint, 'enqueue with a dedupe key');
SELECT is(pgtq.enqueue('tq_t', '{"d":2}', dedupe_key => 'k'), 8::bigint, 'the same key returns the queued task');
SELECT is((SELECT count(*) FROM pgmq.q_tq_t WHERE headers->>'x-pgtq-dedupe-key' = 'k'), 1::bigint, 'and inserts nothing');
SELECT pgmq.delete('tq_t', 8::bigint);
SELECT is(pgtq.enqueue('tq_t', '{"d":3}', dedupe_key => 'k'), 9::bigint, 'a key whose task left the queue is free again');
SELECT is((SELECT count(*) FROM pgtq.enqueue_batch('tq_t', ARRAY['{"b":1}', '{"b":2}']::jsonb[])), 2::bigint, 'enqueue_batch');

-- prune on the time-partitioned archive: whole partitions older than the cutoff are dropped, the rows of the
-- partition that straddles it and of the default partition are deleted one by one.
DELETE FROM pgmq.a_tq_t;
INSERT INTO pgmq.a_tq_t (msg_id, vt, archived_at, message) VALUES
    (101, now(), now() - interval '3 days', '{}'),                      -- a partition that ends before the cutoff
    (102, now(), now() - interval '36 hours' - interval '1 s', '{}'),   -- the partition straddling the cutoff
    (103, now(), now() - interval '36 hours' + interval '1 s', '{}'),   -- ditto, younger: kept
    (104, now(), now() - interval '1 hour', '{}'),                      -- kept
    (105, now(), now() - interval '60 days', '{}');                     -- older than every partition: the default
SELECT is((SELECT count(*) FROM pgmq.a_tq_t_default), 1::bigint, 'a row older than every partition is in the default partition');
SELECT pg_temp.partitions_ending_by('a_tq_t', now() - interval '36 hours') AS n_old,
       pg_temp.n_partitions('a_tq_t') AS n_before \gset
SELECT ok(:n_old >= 1, 'some archive partitions end before the cutoff');
SELECT is(pgtq.prune('tq_t', interval '36 hours'), 3::bigint, 'prune counts the rows of dropped partitions and deleted rows');
SELECT is((SELECT array_agg(msg_id ORDER BY msg_id) FROM pgmq.a_tq_t), ARRAY[103, 104]::bigint[], 'the younger rows are kept');
SELECT is(pg_temp.partitions_ending_by('a_tq_t', now() - interval '36 hours'), 0::bigint, 'the old partitions are gone');
SELECT is(pg_temp.n_partitions('a_tq_t'), (:n_before - :n_old)::bigint, 'dropped, not just emptied; the others are kept');
SELECT is(cardinality(pgtq._old_partitions('a_tq_n', now())), 0, 'an archive partitioned by msg_id has no partitions to drop by age');
INSERT INTO pgmq.a_tq_n (msg_id, vt, archived_at, message)
SELECT 1000 + i, now(), now() - interval '2 days', '{}' FROM generate_series(1, 250) i;
SELECT is(pgtq.prune('tq_n', interval '1 day', 100), 250::bigint, 'prune deletes the rows of an archive partitioned by msg_id, in batches');
SELECT is((SELECT count(*) FROM pgmq.a_tq_n WHERE archived_at < now() - interval '1 day'), 0::bigint, 'none is left');
\else
SELECT skip('pg_partman is not available on this server', 44);
\endif

SELECT * FROM finish();
ROLLBACK;
