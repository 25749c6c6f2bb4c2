-- Schema pgtq surface and administration: the exact public signatures, SECURITY DEFINER with a pinned
-- search_path, the task type, roles and grants (producer cannot read, worker cannot drop), drop_queue, stats,
-- next_due, prune (batches, queue archive + DLQ archive) and prune_due (one run per interval).
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(48);

SELECT results_eq(
    $$SELECT p.proname::text COLLATE "default", pg_get_function_arguments(p.oid), pg_get_function_result(p.oid)
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = 'pgtq' AND p.proname !~ '^_'
      ORDER BY p.proname, pg_get_function_arguments(p.oid)$$,
    $$VALUES
    ('cancel', 'queue_name text, msg_id bigint, OUT cancelled boolean, OUT status text', 'record'),
    ('complete', 'queue_name text, msg_id bigint, attempt integer', 'boolean'),
    ('complete', 'queue_name text, msg_ids bigint[], attempts integer[]', 'SETOF bigint'),
    ('create_queue', 'queue_name text, dlq boolean DEFAULT true, dlq_name text DEFAULT NULL::text', 'void'),
    ('drop_queue', 'queue_name text', 'boolean'),
    ('enqueue', 'queue_name text, payload jsonb, group_key text DEFAULT NULL::text, delay integer DEFAULT 0, headers jsonb DEFAULT NULL::jsonb, dedupe_key text DEFAULT NULL::text', 'bigint'),
    ('enqueue_batch', 'queue_name text, payloads jsonb[], group_keys text[] DEFAULT NULL::text[], delay integer DEFAULT 0, headers jsonb[] DEFAULT NULL::jsonb[]', 'SETOF bigint'),
    ('extend_lease', 'queue_name text, msg_id bigint, attempt integer, lease_seconds integer', 'boolean'),
    ('fail', 'queue_name text, msg_id bigint, attempt integer, error text, retryable boolean DEFAULT true, max_retries integer DEFAULT 0, retry_delay integer DEFAULT 0', 'text'),
    ('get_task', 'queue_name text, msg_id bigint DEFAULT NULL::bigint, task_id text DEFAULT NULL::text', 'SETOF pgtq.task_view'),
    ('list_archive', 'queue_name text, before_msg_id bigint DEFAULT NULL::bigint, qty integer DEFAULT 100', 'SETOF pgtq.task_view'),
    ('list_dlq', 'queue_name text, qty integer DEFAULT 100', 'SETOF pgmq.message_record'),
    ('list_queues', '', 'SETOF pgtq.stats'),
    ('list_tasks', 'queue_name text, status text DEFAULT NULL::text, group_key text DEFAULT NULL::text, after_msg_id bigint DEFAULT NULL::bigint, qty integer DEFAULT 100', 'SETOF pgtq.task_view'),
    ('next_due', 'queue_name text', 'timestamp with time zone'),
    ('pause', 'queue_name text', 'boolean'),
    ('prune', 'queue_name text, older_than interval, batch_size integer DEFAULT 1000', 'bigint'),
    ('prune_due', 'queue_name text, older_than interval, batch_size integer, every interval', 'bigint'),
    ('purge_dlq', 'queue_name text, older_than interval', 'bigint'),
    ('read', 'queue_name text, qty integer, lease_seconds integer, lifo boolean DEFAULT false, grouped boolean DEFAULT false, concurrency_limit integer DEFAULT NULL::integer, max_lost_leases integer DEFAULT NULL::integer', 'SETOF pgtq.task'),
    ('release', 'queue_name text, msg_id bigint, attempt integer', 'boolean'),
    ('reschedule', 'queue_name text, dlq_msg_id bigint', 'bigint'),
    ('reschedule_all', 'queue_name text, group_key text DEFAULT NULL::text, error_contains text DEFAULT NULL::text', 'bigint'),
    ('resume', 'queue_name text', 'boolean'),
    ('retry_now', 'queue_name text, msg_id bigint, OUT made_due boolean, OUT status text', 'record'),
    ('schema_version', '', 'TABLE(migration bigint, patch integer, compatible_since bigint, hash text, applied_at timestamp with time zone)'),
    ('set_retention', 'queue_name text, retention interval', 'void'),
    ('stats', 'queue_name text', 'pgtq.stats'),
    ('throughput', 'queue_name text, since interval, step interval', 'TABLE(bucket timestamp with time zone, completed bigint, failed bigint, start_delay_p50 double precision, start_delay_p95 double precision)')
    $$,
    'the public pgtq functions are exactly these signatures');
SELECT is((SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = 'pgtq' AND p.proname !~ '^_'
             AND NOT (p.prosecdef AND p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'])), 0::bigint,
    'every public function is SECURITY DEFINER with search_path pinned to pg_catalog, pg_temp');
SELECT is((SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = 'pgtq' AND p.prosecdef
             AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)), 0::bigint,
    'internal SECURITY DEFINER helpers pin search_path too');
SELECT is((SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
           FROM pg_attribute WHERE attrelid = 'pgtq.task'::regclass AND attnum > 0),
    'msg_id bigint, attempt integer, task_id text, group_key text, enqueued_at timestamp with time zone, '
    'vt timestamp with time zone, payload jsonb, headers jsonb', 'pgtq.task fields, in order');

-- roles and grants
SELECT ok((SELECT count(*) = 3 FROM pg_roles WHERE rolname IN ('pgtq_producer', 'pgtq_worker', 'pgtq_admin') AND NOT rolcanlogin),
    'the three NOLOGIN roles exist');
SELECT ok(has_function_privilege('pgtq_producer', 'pgtq.enqueue(text,jsonb,text,integer,jsonb,text)', 'EXECUTE'), 'producer may enqueue');
SELECT ok(has_function_privilege('pgtq_producer', 'pgtq.enqueue_batch(text,jsonb[],text[],integer,jsonb[])', 'EXECUTE'), 'producer may enqueue_batch');
SELECT ok(NOT has_function_privilege('pgtq_producer', 'pgtq.read(text,integer,integer,boolean,boolean,integer,integer)', 'EXECUTE'), 'producer may not read');
SELECT ok(NOT has_function_privilege('pgtq_producer', 'pgtq.complete(text,bigint,integer)', 'EXECUTE'), 'producer may not complete');
SELECT ok(has_function_privilege('pgtq_producer', 'pgtq.schema_version()', 'EXECUTE'), 'producer may read the schema version (driver.New)');
SELECT ok(NOT has_table_privilege('pgtq_producer', 'pgtq.queues', 'SELECT'), 'producer has no table rights');
SELECT ok((SELECT bool_and(has_function_privilege('pgtq_worker', f, 'EXECUTE')) FROM unnest(ARRAY[
    'pgtq.read(text,integer,integer,boolean,boolean,integer,integer)', 'pgtq.complete(text,bigint,integer)',
    'pgtq.complete(text,bigint[],integer[])', 'pgtq.fail(text,bigint,integer,text,boolean,integer,integer)',
    'pgtq.extend_lease(text,bigint,integer,integer)', 'pgtq.release(text,bigint,integer)', 'pgtq.next_due(text)',
    'pgtq.prune_due(text,interval,integer,interval)', 'pgtq.enqueue(text,jsonb,text,integer,jsonb,text)']) f),
    'worker may read, complete, fail, extend_lease, release, next_due, prune_due, enqueue');
SELECT ok(NOT has_function_privilege('pgtq_worker', 'pgtq.drop_queue(text)', 'EXECUTE'), 'worker may not drop queues');
SELECT ok(NOT has_function_privilege('pgtq_worker', 'pgtq.reschedule(text,bigint)', 'EXECUTE'), 'worker may not reschedule');
SELECT ok((SELECT bool_and(has_function_privilege('pgtq_admin', p.oid, 'EXECUTE'))
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'pgtq' AND p.proname !~ '^_'),
    'admin may execute every public function');
SELECT ok((SELECT bool_and(NOT has_function_privilege('public', p.oid, 'EXECUTE'))
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'pgtq'),
    'PUBLIC may execute no pgtq function');
SELECT ok(NOT has_function_privilege('pgtq_admin', 'pgtq._queue(text,text,boolean,boolean)', 'EXECUTE'), 'internal helpers are not granted');

-- acting as the roles (pgTAP's own tables are not theirs: record outcomes in a granted temp table first)
SELECT pgtq.create_queue('ro');
CREATE TEMP TABLE role_log (what text, outcome text);
GRANT ALL ON role_log TO PUBLIC;
SET LOCAL ROLE pgtq_producer;
INSERT INTO role_log SELECT 'producer enqueue', pgtq.enqueue('ro', '{"r":1}')::text;
DO $$
BEGIN
    PERFORM pgtq.read('ro', 1, 30);
    INSERT INTO role_log VALUES ('producer read', 'allowed');
EXCEPTION WHEN insufficient_privilege THEN
    INSERT INTO role_log VALUES ('producer read', SQLSTATE);
END
$$;
RESET ROLE;
SET LOCAL ROLE pgtq_worker;
INSERT INTO role_log SELECT 'worker read', msg_id::text FROM pgtq.read('ro', 1, 30);
INSERT INTO role_log SELECT 'worker complete', pgtq.complete('ro', 1, 1)::text;
DO $$
BEGIN
    PERFORM pgtq.drop_queue('ro');
    INSERT INTO role_log VALUES ('worker drop', 'allowed');
EXCEPTION WHEN insufficient_privilege THEN
    INSERT INTO role_log VALUES ('worker drop', SQLSTATE);
END
$$;
RESET ROLE;
SET LOCAL ROLE pgtq_admin;
INSERT INTO role_log SELECT 'admin drop', pgtq.drop_queue('ro')::text;
RESET ROLE;
SELECT results_eq($$SELECT what, outcome FROM role_log$$,
    $$VALUES ('producer enqueue', '1'), ('producer read', '42501'), ('worker read', '1'), ('worker complete', 'true'),
             ('worker drop', '42501'), ('admin drop', 'true')$$,
    'as pgtq_producer: enqueue yes, read no; as pgtq_worker: read and complete yes, drop no; pgtq_admin drops');

-- drop_queue
SELECT pgtq.create_queue('dq');
SELECT pgtq.enqueue('dq', '{}', 'g');
SELECT is(pgtq.drop_queue('dq'), true, 'drop_queue of an existing queue returns true');
SELECT ok(NOT EXISTS (SELECT 1 FROM pgmq.meta WHERE queue_name IN ('dq', 'dq_dlq')), 'both pgmq queues are gone');
SELECT ok(NOT EXISTS (SELECT 1 FROM pgtq.queues WHERE queue_name = 'dq') AND NOT EXISTS (SELECT 1 FROM pgtq.groups WHERE queue_name = 'dq'),
    'config and group rows are gone');
SELECT is(pgtq.drop_queue('dq'), false, 'drop_queue of a missing queue returns false');
SELECT throws_ok($$SELECT pgtq.drop_queue('x;y')$$, 'PQ002', NULL, 'invalid name: PQ002');
SELECT pgmq.create('dseed');
SELECT pgmq.create('dseed_dlq');
SELECT is(pgtq.drop_queue('dseed'), true, 'drop_queue of a seed-style queue');
SELECT ok(NOT EXISTS (SELECT 1 FROM pgmq.meta WHERE queue_name IN ('dseed', 'dseed_dlq')), 'drops its <name>_dlq too');

-- stats and next_due
SELECT pgtq.create_queue('st');
SELECT is(pgtq.next_due('st'), NULL, 'next_due of an empty queue is NULL');
SELECT pgtq.enqueue_batch('st', array_fill('{}'::jsonb, ARRAY[6]));    -- 1..6
SELECT pgtq.enqueue('st', '{}', delay => 100);                          -- 7
SELECT pgtq.read('st', 3, 30);                                          -- 1, 2, 3
SELECT pgtq.complete('st', 1, 1);
SELECT pgtq.fail('st', 2, 1, 'x', true, 1, 50);
SELECT pgtq.fail('st', 3, 1, 'x', true, 0, 0);
SELECT results_eq($$SELECT queue_name, queued, delayed, processing, retrying, dlq, archived FROM pgtq.stats('st')$$,
    $$VALUES ('st', 3::bigint, 1::bigint, 0::bigint, 1::bigint, 1::bigint, 2::bigint)$$,
    'stats: 3 queued, 1 delayed, 0 processing, 1 retrying, 1 in the DLQ, 2 archived');
SELECT ok((SELECT oldest_queued_age_seconds >= 0 FROM pgtq.stats('st')), 'oldest queued age in seconds');
SELECT pgtq.read('st', 1, 30);
SELECT is((SELECT processing FROM pgtq.stats('st')), 1::bigint, 'a claimed task is processing');
SELECT ok(pgtq.next_due('st') BETWEEN clock_timestamp() + interval '29 s' AND clock_timestamp() + interval '31 s',
    'next_due is the earliest future vt (the 30 s lease)');
SELECT throws_ok($$SELECT pgtq.stats('nope')$$, 'PQ001', NULL, 'stats of an unknown queue: PQ001');

-- list_dlq
SELECT pgtq.create_queue('ld');
SELECT pgtq.enqueue_batch('ld', array_fill('{}'::jsonb, ARRAY[3]));
SELECT pgtq.read('ld', 3, 30);
SELECT pgtq.fail('ld', i, 1, 'e' || i) FROM generate_series(1, 3) i;
SELECT results_eq($$SELECT (message->>'msg_id')::int, read_ct FROM pgtq.list_dlq('ld')$$,
    $$VALUES (1, 0), (2, 0), (3, 0)$$, 'list_dlq: the DLQ entries oldest first, unread');
SELECT results_eq($$SELECT (message->>'msg_id')::int FROM pgtq.list_dlq('ld', 2)$$, ARRAY[1, 2], 'list_dlq: at most qty');
SELECT pgtq.create_queue('le');
SELECT pgtq.create_queue('le2', false);
SELECT is((SELECT count(*) FROM pgtq.list_dlq('le')) + (SELECT count(*) FROM pgtq.list_dlq('le2')), 0::bigint,
    'list_dlq of an empty DLQ and of a queue without DLQ: empty');
SELECT throws_ok($$SELECT * FROM pgtq.list_dlq('ld', 0)$$, 'PQ003', NULL, 'list_dlq qty 0: PQ003');

-- prune: batches until done, queue archive and DLQ archive, only rows older than older_than
SELECT pgtq.create_queue('pr');
SELECT pgtq.enqueue_batch('pr', array_fill('{}'::jsonb, ARRAY[12]));
SELECT pgtq.read('pr', 12, 30);
SELECT pgtq.complete('pr', ARRAY(SELECT generate_series(1, 9)::bigint), array_fill(1, ARRAY[9]));
SELECT pgtq.fail('pr', i, 1, 'x') FROM generate_series(10, 12) i;     -- 3 more archived + 3 DLQ entries
SELECT pgmq.archive('pr_dlq', ARRAY[1, 2]::bigint[]);
UPDATE pgmq.a_pr SET archived_at = now() - interval '2 days' WHERE msg_id <= 10;
UPDATE pgmq.a_pr_dlq SET archived_at = now() - interval '2 days';
SELECT is(pgtq.prune('pr', interval '1 day', 3), 12::bigint, 'prune deletes 10 + 2 old rows in batches of 3');
SELECT results_eq($$SELECT msg_id FROM pgmq.a_pr ORDER BY 1$$, ARRAY[11, 12]::bigint[], 'recent archive rows stay');
SELECT is((SELECT count(*) FROM pgmq.a_pr_dlq), 0::bigint, 'the DLQ archive is pruned too');
SELECT is((SELECT count(*) FROM pgmq.q_pr_dlq), 1::bigint, 'live DLQ entries are not touched');
SELECT is(pgtq.prune('pr', interval '1 day', 3), 0::bigint, 'nothing left to prune');
SELECT throws_ok($$SELECT pgtq.prune('pr', interval '1 day', 0)$$, 'PQ003', NULL, 'batch_size 0: PQ003');
SELECT throws_ok($$SELECT pgtq.prune('pr', NULL, 10)$$, 'PQ003', NULL, 'no older_than and no retention: PQ003');
UPDATE pgtq.queues SET retention = interval '1 hour' WHERE queue_name = 'pr';
UPDATE pgmq.a_pr SET archived_at = now() - interval '2 hours' WHERE msg_id = 11;
SELECT is(pgtq.prune('pr', NULL, 10), 1::bigint, 'older_than NULL uses the queue''s retention');

-- prune_due: one run per interval
UPDATE pgmq.a_pr SET archived_at = now() - interval '2 days';
SELECT is(pgtq.prune_due('pr', interval '1 day', 10, interval '1 hour'), 1::bigint, 'the first prune_due runs');
SELECT ok((SELECT last_pruned_at = now() FROM pgtq.queues WHERE queue_name = 'pr'), 'and records the run');
SELECT is(pgtq.prune_due('pr', interval '1 day', 10, interval '1 hour'), NULL, 'a second call within the interval returns NULL');
UPDATE pgtq.queues SET last_pruned_at = now() - interval '2 hours' WHERE queue_name = 'pr';
SELECT is(pgtq.prune_due('pr', interval '1 day', 10, interval '1 hour'), 0::bigint, 'after the interval it runs again');

-- prune removes group rows left without tasks (e.g. after pgmq.delete behind pgtq's back)
SELECT pgtq.enqueue('pr', '{}', 'orphan');
SELECT pgmq.delete('pr', (SELECT max(msg_id) FROM pgmq.q_pr));
SELECT pgtq.prune('pr', interval '1 day', 10);
SELECT ok(NOT EXISTS (SELECT 1 FROM pgtq.groups WHERE queue_name = 'pr' AND group_key = 'orphan'), 'empty group row removed');

SELECT * FROM finish();
ROLLBACK;
