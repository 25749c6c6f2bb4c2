-- NOTIFY on insert: enable/disable/update_notify_insert, list_notify_insert_throttles, the constraint
-- trigger (name, timing, queue name argument for mixed-case names) and the throttle bookkeeping done by
-- notify_queue_listeners. Delivery itself needs a commit, so it is tested in Go.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(29);

SELECT pgmq.create('NotifyQ');

-- enable with the default throttle (250 ms).
SELECT lives_ok($$SELECT pgmq.enable_notify_insert('NotifyQ')$$, 'enable_notify_insert with the default throttle');
SELECT results_eq($$SELECT * FROM pgmq.list_notify_insert_throttles() WHERE queue_name = 'NotifyQ'$$,
    $$VALUES ('NotifyQ'::text, 250, to_timestamp(0))$$, 'throttle row: 250 ms, never notified');
SELECT is(
    (SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t WHERE t.tgrelid = 'pgmq.q_notifyq'::regclass
       AND t.tgname = 'trigger_notify_queue_insert_listeners'),
    'CREATE CONSTRAINT TRIGGER trigger_notify_queue_insert_listeners AFTER INSERT ON pgmq.q_notifyq DEFERRABLE INITIALLY IMMEDIATE FOR EACH ROW EXECUTE FUNCTION pgmq.notify_queue_listeners(''NotifyQ'')',
    'a deferrable, initially immediate constraint trigger that passes the queue name as given');

-- The first insert notifies (epoch is long ago) and stamps last_notified_at; the next one within the interval does not.
CREATE TEMP TABLE n0 AS SELECT clock_timestamp() AS at;
SELECT pgmq.send('NotifyQ', '{"n":1}');
SELECT ok((SELECT last_notified_at >= at AND last_notified_at <= clock_timestamp() FROM pgmq.notify_insert_throttle, n0 WHERE queue_name = 'NotifyQ'),
    'a mixed-case queue''s insert bumps its throttle row');
-- A long interval makes the next check independent of how fast this machine is.
UPDATE pgmq.notify_insert_throttle SET throttle_interval_ms = 60000 WHERE queue_name = 'NotifyQ';
CREATE TEMP TABLE n1 AS SELECT last_notified_at FROM pgmq.notify_insert_throttle WHERE queue_name = 'NotifyQ';
SELECT pgmq.send('NotifyQ', '{"n":2}');
SELECT is((SELECT last_notified_at FROM pgmq.notify_insert_throttle WHERE queue_name = 'NotifyQ'), (SELECT last_notified_at FROM n1),
    'an insert inside the throttle interval does not notify');
-- Once the interval has passed (simulated by moving last_notified_at back), the next insert notifies again.
UPDATE pgmq.notify_insert_throttle SET last_notified_at = clock_timestamp() - interval '60001 milliseconds' WHERE queue_name = 'NotifyQ';
CREATE TEMP TABLE n2 AS SELECT clock_timestamp() AS at;
SELECT pgmq.send('NotifyQ', '{"n":3}');
SELECT ok((SELECT last_notified_at >= at FROM pgmq.notify_insert_throttle, n2 WHERE queue_name = 'NotifyQ'),
    'an insert after the interval notifies again');
-- A batch insert fires the trigger per row; with the throttle only the first row notifies.
UPDATE pgmq.notify_insert_throttle SET last_notified_at = to_timestamp(0) WHERE queue_name = 'NotifyQ';
SELECT pgmq.send_batch('NotifyQ', ARRAY['{}', '{}', '{}']::jsonb[]);
SELECT ok((SELECT last_notified_at > to_timestamp(0) FROM pgmq.notify_insert_throttle WHERE queue_name = 'NotifyQ'),
    'send_batch notifies through the same trigger');

-- update_notify_insert changes the interval and keeps last_notified_at.
CREATE TEMP TABLE n3 AS SELECT last_notified_at FROM pgmq.notify_insert_throttle WHERE queue_name = 'NotifyQ';
SELECT lives_ok($$SELECT pgmq.update_notify_insert('NotifyQ', 0)$$, 'update_notify_insert to 0');
SELECT results_eq($$SELECT throttle_interval_ms, last_notified_at FROM pgmq.notify_insert_throttle WHERE queue_name = 'NotifyQ'$$,
    $$SELECT 0, last_notified_at FROM n3$$, 'interval updated, last_notified_at kept');
-- Interval 0: every insert notifies.
CREATE TEMP TABLE n4 AS SELECT clock_timestamp() AS at;
SELECT pgmq.send('NotifyQ', '{"n":4}');
SELECT ok((SELECT last_notified_at >= at FROM pgmq.notify_insert_throttle, n4 WHERE queue_name = 'NotifyQ'), 'interval 0: the insert notifies');
CREATE TEMP TABLE n5 AS SELECT clock_timestamp() AS at;
SELECT pgmq.send('NotifyQ', '{"n":5}');
SELECT ok((SELECT last_notified_at >= at FROM pgmq.notify_insert_throttle, n5 WHERE queue_name = 'NotifyQ'), 'interval 0: the next insert notifies too');

-- enable again: replaces the trigger (still one), resets the throttle row.
SELECT lives_ok($$SELECT pgmq.enable_notify_insert(queue_name => 'NotifyQ', throttle_interval_ms => 1000)$$, 'enable again with named arguments');
SELECT results_eq($$SELECT * FROM pgmq.list_notify_insert_throttles() WHERE queue_name = 'NotifyQ'$$,
    $$VALUES ('NotifyQ'::text, 1000, to_timestamp(0))$$, 're-enable upserts the throttle row and resets last_notified_at');
SELECT is((SELECT count(*) FROM pg_trigger WHERE tgrelid = 'pgmq.q_notifyq'::regclass AND NOT tgisinternal), 1::bigint,
    're-enable leaves exactly one trigger');

-- Validation: pgmq's texts with SQLSTATE P0001 (plain RAISE EXCEPTION), in pgmq's order.
SELECT throws_ok($$SELECT pgmq.enable_notify_insert('NotifyQ', -1)$$, 'P0001',
    'throttle_interval_ms must be non-negative', 'enable: a negative throttle is rejected with pgmq''s text');
SELECT throws_ok($$SELECT pgmq.enable_notify_insert('no_such_q', -1)$$, 'P0001',
    'throttle_interval_ms must be non-negative', 'enable: the throttle is checked before the queue');
SELECT throws_ok($$SELECT pgmq.enable_notify_insert('no_such_q')$$, 'P0001',
    'Queue "no_such_q" does not exist. Create it first using pgmq.create()', 'enable: an unknown queue is rejected with pgmq''s text');
SELECT throws_ok($$SELECT pgmq.enable_notify_insert('notifyq')$$, 'P0001',
    'Queue "notifyq" does not exist. Create it first using pgmq.create()', 'enable: the meta lookup is by the name as given');
SELECT throws_ok($$SELECT pgmq.enable_notify_insert('NotifyQ', NULL)$$, 'PQ003',
    'pgmq.enable_notify_insert: throttle_interval_ms must not be NULL', 'enable: a NULL throttle (no pgmq text) raises PQ003');
SELECT throws_ok($$SELECT pgmq.update_notify_insert('NotifyQ', -5)$$, 'P0001',
    'throttle_interval_ms must be non-negative, got: -5', 'update: a negative throttle is rejected with pgmq''s text');
SELECT throws_ok($$SELECT pgmq.update_notify_insert('no_such_q', 5)$$, 'P0001',
    'Queue "no_such_q" does not exist. Create the queue first using pgmq.create()', 'update: an unknown queue is rejected with pgmq''s text');
SELECT pgmq.create('plain_q');
SELECT throws_ok($$SELECT pgmq.update_notify_insert('plain_q', 5)$$, 'P0001',
    'Queue "plain_q" does not have notify_insert enabled. Enable it first using pgmq.enable_notify_insert()',
    'update: notify must be enabled (pgmq''s text)');
SELECT throws_ok($$SELECT pgmq.update_notify_insert('NotifyQ', NULL)$$, 'PQ003',
    'pgmq.update_notify_insert: throttle_interval_ms must not be NULL', 'update: a NULL throttle (no pgmq text) raises PQ003');

-- Queues without notify: inserts do not create throttle rows.
SELECT pgmq.send('plain_q', '{}');
SELECT is((SELECT count(*) FROM pgmq.notify_insert_throttle WHERE queue_name = 'plain_q'), 0::bigint, 'no throttle row without enable');

-- disable: trigger and throttle row gone, inserts still work.
SELECT lives_ok($$SELECT pgmq.disable_notify_insert('NotifyQ')$$, 'disable_notify_insert');
SELECT is((SELECT count(*) FROM pg_trigger WHERE tgrelid = 'pgmq.q_notifyq'::regclass AND NOT tgisinternal), 0::bigint, 'trigger dropped');
SELECT is((SELECT count(*) FROM pgmq.list_notify_insert_throttles() WHERE queue_name = 'NotifyQ'), 0::bigint, 'throttle row removed');
SELECT lives_ok($$SELECT pgmq.disable_notify_insert('NotifyQ')$$, 'disable twice is harmless');
SELECT lives_ok($$SELECT pgmq.send('NotifyQ', '{"after":"disable"}')$$, 'sending after disable works');

SELECT * FROM finish();
ROLLBACK;
