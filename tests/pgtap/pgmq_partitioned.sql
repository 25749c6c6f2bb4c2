-- Partitioned queues of schema pgmq (pg_partman): create_partitioned by msg_id and by time, pg_partman's
-- registration (retention, retention_keep_table, automatic_maintenance), pgmq.meta, the pgmq API on them,
-- metrics' default_partition_length, drop_queue, convert_archive_partitioned (the _old table, index names
-- truncated to 63 bytes), and the error without pg_partman.
-- The error checks run where pg_partman is not installed in the database (they skip where it is); the rest
-- runs where the server has pg_partman (scripts/deps.sh installs postgresql-15-partman): this file creates
-- it in schema partman inside its own transaction, which is rolled back. Without it, those checks skip.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(53);

SELECT pgmq._extension_exists('pg_partman') AS had_partman,
       EXISTS (SELECT 1 FROM pg_catalog.pg_available_extensions WHERE name = 'pg_partman') AS can_partman \gset

-- Without pg_partman: pgmq's own error, nothing created.
\if :had_partman
SELECT skip('pg_partman is installed in this database', 3);
\else
SELECT throws_ok($$SELECT pgmq.create_partitioned('pa_err', '1 day', '7 days')$$, 'P0001',
    'pg_partman is required for partitioned queues', 'create_partitioned without pg_partman: pgmq''s error');
SELECT throws_ok($$SELECT pgmq.convert_archive_partitioned('pa_err')$$, 'P0001',
    'pg_partman is required for partitioned queues', 'convert_archive_partitioned without pg_partman: pgmq''s error');
SELECT is((SELECT count(*) FROM pgmq.meta WHERE queue_name = 'pa_err'), 0::bigint, 'nothing was created');
\endif

\if :can_partman
\if :had_partman
\else
CREATE SCHEMA partman;
CREATE EXTENSION pg_partman SCHEMA partman;
\endif

-- Helpers: pg_partman's registration of a table, and the column a table is partitioned on.
CREATE FUNCTION pg_temp.part_config(t text) RETURNS TABLE (control text, partition_interval text, retention text,
    retention_keep_table boolean, automatic_maintenance text)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE format('SELECT control, partition_interval, retention, retention_keep_table, automatic_maintenance '
                                'FROM %I.part_config WHERE parent_table = $1', pgmq._get_pg_partman_schema())
    USING 'pgmq.' || t;
END;
$$;
CREATE FUNCTION pg_temp.part_key(t text) RETURNS text LANGUAGE sql AS $$
    SELECT a.attname::text FROM pg_catalog.pg_partitioned_table p
    JOIN pg_catalog.pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
    WHERE p.partrelid = pg_catalog.to_regclass('pgmq.' || t);
$$;
CREATE FUNCTION pg_temp.n_partitions(t text) RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM pg_catalog.pg_partition_tree(pg_catalog.to_regclass('pgmq.' || t)) WHERE isleaf;
$$;

SELECT ok(pgmq._get_pg_partman_major_version() IN (4, 5), 'pg_partman 4 or 5');
SELECT is(pgmq._get_partition_col('10000'), 'msg_id', 'a number of messages partitions by msg_id');
SELECT is(pgmq._get_partition_col('1 day'), 'enqueued_at', 'a time interval partitions by enqueued_at');

-- By msg_id, the defaults.
SELECT lives_ok($$SELECT pgmq.create_partitioned('pa_n')$$, 'create_partitioned with the defaults');
SELECT results_eq($$SELECT is_partitioned, is_unlogged FROM pgmq.meta WHERE queue_name = 'pa_n'$$,
    $$VALUES (true, false)$$, 'pgmq.meta: is_partitioned');
SELECT results_eq($$SELECT is_partitioned FROM pgmq.list_queues() WHERE queue_name = 'pa_n'$$,
    $$VALUES (true)$$, 'list_queues: is_partitioned');
SELECT is(pg_temp.part_key('q_pa_n'), 'msg_id', 'queue table partitioned by msg_id');
SELECT is(pg_temp.part_key('a_pa_n'), 'msg_id', 'archive partitioned by msg_id');
SELECT results_eq($$SELECT * FROM pg_temp.part_config('q_pa_n')$$,
    $$VALUES ('msg_id'::text, '10000'::text, '100000'::text, false, 'on'::text)$$,
    'queue table registered with pg_partman: retention, retention_keep_table false, automatic maintenance on');
SELECT results_eq($$SELECT * FROM pg_temp.part_config('a_pa_n')$$,
    $$VALUES ('msg_id'::text, '10000'::text, '100000'::text, false, 'on'::text)$$, 'archive registered likewise');
SELECT has_index('pgmq', 'q_pa_n', 'q_pa_n_part_idx', 'index on the partition column');
SELECT has_index('pgmq', 'q_pa_n', 'q_pa_n_vt_idx', 'index on vt');
SELECT has_index('pgmq', 'a_pa_n', 'archived_at_idx_pa_n', 'index on archived_at');
SELECT is((SELECT count(*) FROM pg_catalog.pg_index WHERE indrelid = 'pgmq.q_pa_n'::regclass AND indisprimary), 0::bigint,
    'no primary key on a partitioned queue table');
SELECT lives_ok($$SELECT pgmq.create_partitioned('pa_n')$$, 'create_partitioned is idempotent');
SELECT is((SELECT count(*) FROM pgmq.meta WHERE queue_name = 'pa_n'), 1::bigint, 'one meta row');

-- The pgmq API on it.
SELECT is((SELECT array_agg(s ORDER BY s) FROM pgmq.send_batch('pa_n', ARRAY['{"a":1}', '{"a":2}', '{"a":3}']::jsonb[]) s),
    ARRAY[1, 2, 3]::bigint[], 'send_batch');
SELECT is((SELECT array_agg(msg_id ORDER BY msg_id) FROM pgmq.read('pa_n', 30, 2)), ARRAY[1, 2]::bigint[], 'read');
SELECT is((SELECT array_agg(msg_id) FROM pgmq.read('pa_n', 30, 1, direction => 'DESC')), ARRAY[3]::bigint[], 'read DESC');
SELECT is(pgmq.archive('pa_n', 1::bigint), true, 'archive');
SELECT is(pgmq.delete('pa_n', 2::bigint), true, 'delete');
SELECT results_eq($$SELECT msg_id FROM pgmq.a_pa_n$$, $$VALUES (1::bigint)$$, 'the archived message is in the archive');
SELECT is((SELECT msg_id FROM pgmq.set_vt('pa_n', 3::bigint, 0)), 3::bigint, 'set_vt');
SELECT is((SELECT msg_id FROM pgmq.pop('pa_n')), 3::bigint, 'pop');
SELECT is((pgmq.metrics('pa_n')).default_partition_length, 0::bigint, 'metrics: nothing in the default partitions');
-- A msg_id beyond the partitions made ahead lands in the default partition until maintenance runs.
INSERT INTO pgmq.q_pa_n (msg_id, vt, message) VALUES (10000000, clock_timestamp(), '{}');
SELECT is((pgmq.metrics('pa_n')).default_partition_length, 1::bigint, 'metrics: default_partition_length counts it');
SELECT is((pgmq.metrics('pa_n')).total_messages, 3::bigint, 'metrics: total_messages from the identity sequence');
SELECT is((SELECT default_partition_length FROM pgmq.metrics_all() WHERE queue_name = 'pa_n'), 1::bigint, 'metrics_all too');

-- By time, with every argument named (as pgmq-py calls it).
SELECT lives_ok($$SELECT pgmq.create_partitioned(queue_name => 'pa_t', partition_interval => '1 day',
    retention_interval => '7 days', premake => 2)$$, 'create_partitioned by time');
SELECT is(pg_temp.part_key('q_pa_t'), 'enqueued_at', 'queue table partitioned by enqueued_at');
SELECT is(pg_temp.part_key('a_pa_t'), 'archived_at', 'archive partitioned by archived_at');
SELECT results_eq($$SELECT * FROM pg_temp.part_config('a_pa_t')$$,
    $$VALUES ('archived_at'::text, '1 day'::text, '7 days'::text, false, 'on'::text)$$, 'archive registered with its retention');
SELECT ok(pg_temp.n_partitions('q_pa_t') >= 3, 'partitions made ahead (premake) plus the default');
SELECT is((SELECT count(*) FROM pgmq.send('pa_t', '{"b":1}', 5)), 1::bigint, 'send with a delay');
SELECT lives_ok(format('SELECT %I.run_maintenance(%L)', pgmq._get_pg_partman_schema(), 'pgmq.q_pa_t'),
    'pg_partman maintenance runs on it');
SELECT is((pgmq.metrics('pa_t')).queue_length, 1::bigint, 'metrics on a time-partitioned queue');

-- drop_queue forgets pg_partman's registration and template tables.
SELECT is(pgmq.drop_queue('pa_t'), true, 'drop_queue');
SELECT is((SELECT count(*) FROM pg_temp.part_config('q_pa_t')) + (SELECT count(*) FROM pg_temp.part_config('a_pa_t')),
    0::bigint, 'drop_queue removes the part_config rows');
SELECT is(pg_catalog.to_regclass(pgmq._get_pg_partman_schema() || '.template_pgmq_q_pa_t'), NULL, 'and the template table');
SELECT hasnt_table('pgmq', 'q_pa_t_default', 'and the partitions');

-- convert_archive_partitioned: the old archive renamed with _old, its rows kept there, a new partitioned one.
SELECT pgmq.create('pa_c');
SELECT pgmq.send('pa_c', '{"c":1}');
SELECT pgmq.archive('pa_c', 1::bigint);
SELECT lives_ok($$SELECT pgmq.convert_archive_partitioned('pa_c', '1 day', '30 days', 2)$$, 'convert_archive_partitioned');
SELECT is(pg_temp.part_key('a_pa_c'), 'archived_at', 'the new archive is partitioned by archived_at');
SELECT is((SELECT count(*) FROM pgmq.a_pa_c_old), 1::bigint, 'the old archive keeps its rows as a_<name>_old');
SELECT ok(EXISTS (SELECT 1 FROM pg_catalog.pg_indexes WHERE schemaname = 'pgmq' AND tablename = 'a_pa_c_old'
                  AND indexname = 'archived_at_idx_pa_c_old'), 'its indexes renamed with _old');
SELECT has_index('pgmq', 'a_pa_c', 'archived_at_idx_pa_c', 'the new archive has the archived_at index');
SELECT is(pgmq.archive('pa_c', (SELECT pgmq.send('pa_c', '{"c":2}'))), true, 'archiving into the new archive');
SELECT lives_ok($$SELECT pgmq.convert_archive_partitioned('pa_c', '1 day')$$, 'converting again is a no-op (NOTICE)');
-- A 47-byte name: 'archived_at_idx_<name>' is 63 bytes; with _old it is truncated to fit.
SELECT pgmq.create(repeat('c', 47));
SELECT lives_ok(format('SELECT pgmq.convert_archive_partitioned(%L, %L)', repeat('c', 47), '100'),
    'convert_archive_partitioned with a 47-byte name (by msg_id)');
SELECT ok(EXISTS (SELECT 1 FROM pg_catalog.pg_indexes WHERE schemaname = 'pgmq' AND tablename = 'a_' || repeat('c', 47) || '_old'
                  AND indexname = left('archived_at_idx_' || repeat('c', 47), 59) || '_old'),
    'index names truncated to 63 bytes, keeping the _old suffix');
SELECT throws_ok($$SELECT pgmq.create_partitioned('pa.dot', '100')$$, 'PQ002',
    'queue name ''pa.dot'' cannot be partitioned: pg_partman does not accept . or " in table names',
    'a dot in a partitioned queue''s name: PQ002');
\else
SELECT skip('pg_partman is not available on this server', 50);
\endif

SELECT * FROM finish();
ROLLBACK;
