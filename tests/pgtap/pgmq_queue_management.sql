-- Queue management of schema pgmq: create*, drop_queue, purge_queue, detach_archive, list_queues,
-- validate_queue_name, format_table_name, acquire_queue_lock, partitioned errors, mixed-case names.
BEGIN;
SELECT plan(50);

-- create / create_non_partitioned: tables + one meta row, idempotent.
SELECT lives_ok($$SELECT pgmq.create('mgmt_a')$$, 'create a queue');
SELECT has_table('pgmq', 'q_mgmt_a', 'create makes pgmq.q_<name>');
SELECT has_table('pgmq', 'a_mgmt_a', 'create makes pgmq.a_<name>');
SELECT results_eq(
    $$SELECT queue_name::text, is_partitioned, is_unlogged FROM pgmq.meta WHERE queue_name = 'mgmt_a'$$,
    $$VALUES ('mgmt_a', false, false)$$,
    'create records the queue in pgmq.meta as logged, non-partitioned');
SELECT ok((SELECT created_at FROM pgmq.meta WHERE queue_name = 'mgmt_a') IS NOT NULL, 'meta.created_at is set');
-- The repeat emits "relation ... already exists, skipping" NOTICEs and must not fail or duplicate.
SELECT lives_ok($$SELECT pgmq.create('mgmt_a')$$, 'create is idempotent');
SELECT lives_ok($$SELECT pgmq.create_non_partitioned('mgmt_a')$$, 'create_non_partitioned on an existing queue is a no-op');
SELECT is((SELECT count(*) FROM pgmq.meta WHERE queue_name = 'mgmt_a'), 1::bigint, 'repeat creates keep one meta row');
SELECT lives_ok($$SELECT pgmq.create_non_partitioned('mgmt_b')$$, 'create_non_partitioned makes a queue');
SELECT has_table('pgmq', 'q_mgmt_b', 'create_non_partitioned makes the queue table');

-- create_unlogged.
SELECT pgmq.create_unlogged('mgmt_u');
SELECT results_eq(
    $$SELECT is_partitioned, is_unlogged FROM pgmq.meta WHERE queue_name = 'mgmt_u'$$,
    $$VALUES (false, true)$$,
    'create_unlogged records is_unlogged = true');

-- Mixed case: upstream made separate meta rows on one shared lower-case table (and dropping one dropped the
-- other's data); here the second spelling is refused, naming the first (the queue-name rule).
SELECT pgmq.create('MixedQ');
SELECT has_table('pgmq', 'q_mixedq', 'a mixed-case name maps to a lower-case table');
SELECT throws_ok($$SELECT pgmq.create('mixedq')$$, 'PQ002',
    'queue name ''mixedq'' differs only in case from the existing queue ''MixedQ'': names that differ only in case would share one table',
    'a name differing only in case is refused, naming the existing queue');
SELECT lives_ok($$SELECT pgmq.create('MixedQ')$$, 'the same spelling again is fine (idempotent)');
SELECT is((SELECT count(*) FROM pgmq.meta WHERE lower(queue_name) = 'mixedq'), 1::bigint, 'one meta row');
SELECT pgmq.send('MixedQ', '{"n":1}');
SELECT results_eq($$SELECT message FROM pgmq.q_mixedq ORDER BY msg_id$$, $$VALUES ('{"n":1}'::jsonb)$$,
    'sends land in the table');

-- Characters other than the forbidden ones are allowed, quoted with %I.
SELECT lives_ok($$SELECT pgmq.create('mgmt-dash.dot')$$, 'names with - and . are allowed');
SELECT has_table('pgmq', 'q_mgmt-dash.dot', 'and get a quoted table');

-- list_queues.
SELECT results_eq(
    $$SELECT queue_name::text, is_partitioned, is_unlogged FROM pgmq.list_queues() WHERE queue_name::text LIKE 'mgmt%' OR lower(queue_name) = 'mixedq'
      ORDER BY queue_name COLLATE "C"$$,
    $$VALUES ('MixedQ', false, false), ('mgmt-dash.dot', false, false), ('mgmt_a', false, false),
             ('mgmt_b', false, false), ('mgmt_u', false, true)$$,
    'list_queues returns every queue with its flags');

-- validate_queue_name: 47 characters is the limit (characters, not bytes).
SELECT lives_ok(format('SELECT pgmq.validate_queue_name(%L)', repeat('a', 47)), '47 characters are accepted');
SELECT throws_ok(format('SELECT pgmq.validate_queue_name(%L)', repeat('a', 48)), 'P0001',
    'queue name is too long, maximum length is 47 characters', '48 characters are rejected');
SELECT throws_ok(format('SELECT pgmq.create(%L)', repeat('b', 48)), 'P0001',
    'queue name is too long, maximum length is 47 characters', 'create rejects a 48-character name');
SELECT lives_ok(format('SELECT pgmq.create(%L)', repeat('c', 47)), 'create accepts a 47-character name');
SELECT has_table('pgmq', 'a_' || repeat('c', 47), 'the 47-character queue has its archive');
SELECT is((SELECT count(*) FROM pgmq.meta WHERE queue_name = repeat('b', 48)), 0::bigint, 'a rejected name leaves no meta row');

-- format_table_name: lower-cases, rejects $ ; -- and '.
SELECT is(pgmq.format_table_name('MyQueue', 'q'), 'q_myqueue', 'format_table_name lower-cases prefix_name');
SELECT is(pgmq.format_table_name('x', 'a'), 'a_x', 'format_table_name with the archive prefix');
SELECT throws_ok($$SELECT pgmq.format_table_name('a$b', 'q')$$, 'P0001',
    E'queue name contains invalid characters: $, ;, --, or \\''', '$ is rejected');
SELECT throws_ok($$SELECT pgmq.format_table_name('a;b', 'q')$$, 'P0001',
    E'queue name contains invalid characters: $, ;, --, or \\''', '; is rejected');
SELECT throws_ok($$SELECT pgmq.format_table_name('a--b', 'q')$$, 'P0001',
    E'queue name contains invalid characters: $, ;, --, or \\''', '-- is rejected');
SELECT throws_ok($$SELECT pgmq.format_table_name('a''b', 'q')$$, 'P0001',
    E'queue name contains invalid characters: $, ;, --, or \\''', 'a quote is rejected');
SELECT throws_ok($$SELECT pgmq.create('bad;name')$$, 'P0001',
    E'queue name contains invalid characters: $, ;, --, or \\''', 'create checks characters');
SELECT throws_ok($$SELECT pgmq.send('x''; DROP TABLE pgmq.meta; --', '{}')$$, 'P0001',
    E'queue name contains invalid characters: $, ;, --, or \\''', 'send checks characters');

-- Partitioned queues need pg_partman: without it, pgmq's own error (P0001). The checks skip where pg_partman is
-- installed (partitioned queues are tested elsewhere).
SELECT CASE WHEN pgmq._extension_exists('pg_partman') THEN skip('pg_partman is installed', 1) ELSE
    throws_ok($$SELECT pgmq.create_partitioned('mgmt_p')$$, 'P0001', 'pg_partman is required for partitioned queues',
        'create_partitioned without pg_partman raises pgmq''s error') END;
SELECT CASE WHEN pgmq._extension_exists('pg_partman') THEN skip('pg_partman is installed', 1) ELSE
    throws_ok($$SELECT pgmq.create_partitioned(queue_name => 'mgmt_p', partition_interval => '1 day', retention_interval => '7 days', premake => 2)$$,
        'P0001', 'pg_partman is required for partitioned queues', 'create_partitioned with every argument given (named)') END;
SELECT CASE WHEN pgmq._extension_exists('pg_partman') THEN skip('pg_partman is installed', 1) ELSE
    throws_ok($$SELECT pgmq.convert_archive_partitioned('mgmt_a')$$, 'P0001', 'pg_partman is required for partitioned queues',
        'convert_archive_partitioned without pg_partman raises pgmq''s error') END;
SELECT is((SELECT count(*) FROM pgmq.meta WHERE queue_name = 'mgmt_p'), 0::bigint, 'create_partitioned creates nothing');

-- purge_queue: counts every message (visible or not), empties the queue, keeps the archive and the sequence.
SELECT pgmq.send('mgmt_a', '{"n":1}');
SELECT pgmq.send('mgmt_a', '{"n":2}', 3600);
SELECT pgmq.send('mgmt_a', '{"n":3}');
SELECT pgmq.archive('mgmt_a', (SELECT min(msg_id) FROM pgmq.q_mgmt_a));
SELECT is(pgmq.purge_queue('mgmt_a'), 2::bigint, 'purge_queue returns the number of messages removed');
SELECT is((SELECT count(*) FROM pgmq.q_mgmt_a), 0::bigint, 'purge_queue empties the queue');
SELECT is((SELECT count(*) FROM pgmq.a_mgmt_a), 1::bigint, 'purge_queue leaves the archive alone');
SELECT is((SELECT * FROM pgmq.send('mgmt_a', '{"n":4}')), 4::bigint, 'purge_queue does not reset msg_id');

-- detach_archive: a no-op with a WARNING.
SELECT lives_ok($$SELECT pgmq.detach_archive('mgmt_a')$$, 'detach_archive is accepted');
SELECT has_table('pgmq', 'a_mgmt_a', 'detach_archive keeps the archive');

-- acquire_queue_lock: a transaction-level advisory lock on hashtext('pgmq.queue_' || name).
SELECT pgmq.acquire_queue_lock('mgmt_lock');
SELECT ok(EXISTS (
    SELECT 1 FROM pg_locks
    WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted
      AND classid = ((hashtext('pgmq.queue_mgmt_lock')::bigint >> 32) & 4294967295)::oid
      AND objid = (hashtext('pgmq.queue_mgmt_lock')::bigint & 4294967295)::oid
      AND mode = 'ExclusiveLock'), 'acquire_queue_lock holds the queue''s advisory lock');

-- drop_queue: true once, then false with a NOTICE; cascades to the throttle row.
SELECT pgmq.enable_notify_insert('mgmt_b');
SELECT is(pgmq.drop_queue('mgmt_b'), true, 'drop_queue returns true for an existing queue');
SELECT ok(NOT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                      WHERE n.nspname = 'pgmq' AND c.relname IN ('q_mgmt_b', 'a_mgmt_b')), 'drop_queue drops both tables');
SELECT ok(NOT EXISTS (SELECT 1 FROM pgmq.meta WHERE queue_name = 'mgmt_b')
          AND NOT EXISTS (SELECT 1 FROM pgmq.notify_insert_throttle WHERE queue_name = 'mgmt_b'),
    'drop_queue removes the meta row and, by cascade, the throttle row');
SELECT is(pgmq.drop_queue('mgmt_b'), false, 'drop_queue of a missing queue returns false');
SELECT is(pgmq.drop_queue('mgmt_u', true), true, 'deprecated drop_queue(name, partitioned) returns true');
SELECT is(pgmq.drop_queue('never_there', false), true, 'deprecated form returns true even for a missing queue');

SELECT * FROM finish();
ROLLBACK;
