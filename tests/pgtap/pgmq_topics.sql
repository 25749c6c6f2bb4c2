-- Topic routing as pgmq does it (PGMQ-API.md section 5): validate_routing_key and validate_topic_pattern with
-- pgmq's texts and SQLSTATE P0001, the compiled regex ('*' = one segment, '#' = '.*', so 'logs.#' does not
-- match 'logs'), bind/unbind_topic, list_topic_bindings order, test_routing, send_topic (3 overloads) and
-- send_batch_topic (6 overloads): one copy per queue in queue-name order, the x-pgmq-pattern and
-- x-pgmq-routing-key headers, NULL message and negative delay refused; the cascade when a queue is dropped.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(81);

-- Routing looks at every binding in the database: start from none (rolled back at the end).
DELETE FROM pgmq.topic_bindings;

-- validate_routing_key: pgmq's texts, P0001.
SELECT ok(pgmq.validate_routing_key('orders.eu-west.created_v2'), 'a valid routing key');
SELECT ok(pgmq.validate_routing_key(repeat('k', 255)), '255 characters are allowed');
SELECT throws_ok($$SELECT pgmq.validate_routing_key(NULL)$$, 'P0001', 'routing_key cannot be NULL or empty', 'NULL key');
SELECT throws_ok($$SELECT pgmq.validate_routing_key('')$$, 'P0001', 'routing_key cannot be NULL or empty', 'empty key');
SELECT throws_ok(format('SELECT pgmq.validate_routing_key(%L)', repeat('k', 256)), 'P0001',
    'routing_key length cannot exceed 255 characters, got 256 characters', '256 characters');
SELECT throws_ok($$SELECT pgmq.validate_routing_key('orders.*')$$, 'P0001',
    'routing_key contains invalid characters. Only alphanumeric, dots, hyphens, and underscores are allowed. Got: orders.*',
    'wildcards are not keys');
SELECT throws_ok($$SELECT pgmq.validate_routing_key('a b')$$, 'P0001',
    'routing_key contains invalid characters. Only alphanumeric, dots, hyphens, and underscores are allowed. Got: a b',
    'a space is invalid');
SELECT throws_ok($$SELECT pgmq.validate_routing_key('.a')$$, 'P0001', 'routing_key cannot start with a dot. Got: .a', 'leading dot');
SELECT throws_ok($$SELECT pgmq.validate_routing_key('a.')$$, 'P0001', 'routing_key cannot end with a dot. Got: a.', 'trailing dot');
SELECT throws_ok($$SELECT pgmq.validate_routing_key('a..b')$$, 'P0001', 'routing_key cannot contain consecutive dots. Got: a..b',
    'consecutive dots');

-- validate_topic_pattern: pgmq's texts, P0001, in pgmq's order.
SELECT ok(pgmq.validate_topic_pattern('orders.*.#'), 'a valid pattern');
SELECT ok(pgmq.validate_topic_pattern('orders.a*'), 'a wildcard may share a segment with text (as in pgmq)');
SELECT ok(pgmq.validate_topic_pattern('#.#'), 'hashes separated by a dot are valid');
SELECT throws_ok($$SELECT pgmq.validate_topic_pattern(NULL)$$, 'P0001', 'pattern cannot be NULL or empty', 'NULL pattern');
SELECT throws_ok($$SELECT pgmq.validate_topic_pattern('')$$, 'P0001', 'pattern cannot be NULL or empty', 'empty pattern');
SELECT throws_ok(format('SELECT pgmq.validate_topic_pattern(%L)', repeat('p', 256)), 'P0001',
    'pattern length cannot exceed 255 characters, got 256 characters', '256 characters');
SELECT throws_ok($$SELECT pgmq.validate_topic_pattern('a.$')$$, 'P0001',
    'pattern contains invalid characters. Only alphanumeric, dots, hyphens, underscores, *, and # are allowed. Got: a.$',
    'invalid character');
SELECT throws_ok($$SELECT pgmq.validate_topic_pattern('.a')$$, 'P0001', 'pattern cannot start with a dot. Got: .a', 'leading dot');
SELECT throws_ok($$SELECT pgmq.validate_topic_pattern('a.')$$, 'P0001', 'pattern cannot end with a dot. Got: a.', 'trailing dot');
SELECT throws_ok($$SELECT pgmq.validate_topic_pattern('a..b')$$, 'P0001', 'pattern cannot contain consecutive dots. Got: a..b',
    'consecutive dots');
SELECT throws_ok($$SELECT pgmq.validate_topic_pattern('a.**')$$, 'P0001',
    'pattern cannot contain consecutive stars (**). Use # for multi-segment matching. Got: a.**', 'consecutive stars');
SELECT throws_ok($$SELECT pgmq.validate_topic_pattern('a.##')$$, 'P0001',
    'pattern cannot contain consecutive hashes (##). A single # already matches zero or more segments. Got: a.##', 'consecutive hashes');
SELECT throws_ok($$SELECT pgmq.validate_topic_pattern('a.*#')$$, 'P0001',
    'pattern cannot contain adjacent wildcards (*# or #*). Separate wildcards with dots. Got: a.*#', 'adjacent wildcards *#');
SELECT throws_ok($$SELECT pgmq.validate_topic_pattern('#*.a')$$, 'P0001',
    'pattern cannot contain adjacent wildcards (*# or #*). Separate wildcards with dots. Got: #*.a', 'adjacent wildcards #*');

-- Compiled regexes: '^' || escaped pattern with '*' -> '[^.]+' and '#' -> '.*' || '$'.
SELECT pgmq.create('tp_all');
CREATE TEMP TABLE keys(k) AS VALUES ('a'), ('a.b'), ('a.b.c'), ('b.a'), ('x.y.a'), ('a.x.b'), ('a.x.y.b'), ('ab'), ('b'),
    ('logs'), ('logs.a'), ('logs.a.b'), ('logsx');
CREATE TEMP TABLE cases(p, want) AS VALUES
    ('#', 'a a.b a.b.c a.x.b a.x.y.b ab b b.a logs logs.a logs.a.b logsx x.y.a'),
    ('logs.#', 'logs.a logs.a.b'),
    ('logs.*', 'logs.a'),
    ('#.a', 'b.a logs.a x.y.a'),
    ('a.#.b', 'a.x.b a.x.y.b'),
    ('a.*', 'a.b'),
    ('*.*', 'a.b b.a logs.a'),
    ('*.#', 'a.b a.b.c a.x.b a.x.y.b b.a logs.a logs.a.b x.y.a'),
    ('#.#', 'a.b a.b.c a.x.b a.x.y.b b.a logs.a logs.a.b x.y.a'),
    ('a*', 'ab'),
    ('logs#', 'logs logs.a logs.a.b logsx'),
    ('a.b', 'a.b');
SELECT pgmq.bind_topic(p, 'tp_all') FROM cases;
SELECT results_eq(
    $$SELECT c.p, (SELECT string_agg(k, ' ' ORDER BY k COLLATE "C") FROM keys WHERE k ~ b.compiled_regex)
      FROM cases c JOIN pgmq.topic_bindings b ON b.pattern = c.p ORDER BY c.p COLLATE "C"$$,
    $$SELECT p, want FROM cases ORDER BY p COLLATE "C"$$,
    'each compiled regex matches exactly the keys pgmq''s rule says');
SELECT results_eq(
    $$SELECT pattern, compiled_regex FROM pgmq.topic_bindings WHERE pattern IN ('logs.#', '#', 'a.*', 'a.#.b', 'a*') ORDER BY pattern COLLATE "C"$$,
    $$VALUES ('#', '^.*$'), ('a*', '^a[^.]+$'), ('a.#.b', '^a\..*\.b$'), ('a.*', '^a\.[^.]+$'), ('logs.#', '^logs\..*$')$$,
    'compiled_regex texts');
SELECT is((SELECT count(*) FROM pgmq.test_routing('logs')), 2::bigint, 'test_routing: the key logs matches # and logs# only');
SELECT results_eq($$SELECT pattern FROM pgmq.test_routing('logs') ORDER BY pattern COLLATE "C"$$, $$VALUES ('#'), ('logs#')$$,
    'logs.# does not match the key logs');
SELECT pgmq.drop_queue('tp_all');
SELECT is((SELECT count(*) FROM pgmq.topic_bindings WHERE queue_name = 'tp_all'), 0::bigint, 'drop_queue removes its bindings');

-- bind_topic / unbind_topic: pgmq's texts.
SELECT pgmq.create('tp_orders');
SELECT pgmq.create('TpAudit');
SELECT pgmq.create('tp_eu');
SELECT lives_ok($$SELECT pgmq.bind_topic('orders.*', 'tp_orders')$$, 'bind_topic');
SELECT lives_ok($$SELECT pgmq.bind_topic('orders.*', 'tp_orders')$$, 'bind_topic again is a no-op');
SELECT is((SELECT count(*) FROM pgmq.topic_bindings WHERE queue_name = 'tp_orders'), 1::bigint, 'one binding after two binds');
SELECT throws_ok($$SELECT pgmq.bind_topic('x', 'no_such_queue')$$, 'P0001',
    'Queue "no_such_queue" does not exist. Create the queue first using pgmq.create()', 'bind_topic to an unknown queue');
SELECT throws_ok($$SELECT pgmq.bind_topic('x', 'tpaudit')$$, 'P0001',
    'Queue "tpaudit" does not exist. Create the queue first using pgmq.create()', 'bind_topic looks the queue up by the name as given');
SELECT throws_ok($$SELECT pgmq.bind_topic('x', NULL)$$, 'P0001', 'queue_name cannot be NULL or empty', 'bind_topic with a NULL queue');
SELECT throws_ok($$SELECT pgmq.bind_topic('x', '')$$, 'P0001', 'queue_name cannot be NULL or empty', 'bind_topic with an empty queue');
SELECT throws_ok($$SELECT pgmq.bind_topic('x.**', 'tp_orders')$$, 'P0001',
    'pattern cannot contain consecutive stars (**). Use # for multi-segment matching. Got: x.**', 'bind_topic validates the pattern');
SELECT throws_ok($$SELECT pgmq.bind_topic(NULL, NULL)$$, 'P0001', 'pattern cannot be NULL or empty', 'bind_topic checks the pattern first');
SELECT throws_ok($$SELECT pgmq.unbind_topic(NULL, 'tp_orders')$$, 'P0001', 'pattern cannot be NULL or empty', 'unbind_topic with a NULL pattern');
SELECT throws_ok($$SELECT pgmq.unbind_topic('x', '')$$, 'P0001', 'queue_name cannot be NULL or empty', 'unbind_topic with an empty queue');
SELECT is(pgmq.unbind_topic('x', 'no_such_queue'), false, 'unbind_topic of an unknown binding returns false');

-- list_topic_bindings: bound_at DESC, pattern, queue_name; the one-queue form bound_at DESC, pattern.
SELECT pgmq.bind_topic('#', 'TpAudit');
SELECT pgmq.bind_topic('orders.#', 'TpAudit');
SELECT pgmq.bind_topic(pattern => '*.eu.#', queue_name => 'tp_eu');
SELECT pgmq.bind_topic('orders.*', 'TpAudit');
SELECT pgmq.bind_topic('orders.*', 'tp_eu');
-- Bindings of one transaction share now(): spread bound_at to see the order.
UPDATE pgmq.topic_bindings SET bound_at = CASE
    WHEN pattern = 'orders.#' THEN '2026-01-02 00:00:00+00'::timestamptz
    ELSE '2026-01-01 00:00:00+00' END;
SELECT results_eq($$SELECT pattern, queue_name FROM pgmq.list_topic_bindings()$$,
    $$VALUES ('orders.#', 'TpAudit'), ('#', 'TpAudit'), ('*.eu.#', 'tp_eu'), ('orders.*', 'TpAudit'), ('orders.*', 'tp_eu'),
             ('orders.*', 'tp_orders')$$,
    'list_topic_bindings(): newest first, then pattern, then queue');
SELECT results_eq($$SELECT pattern, queue_name, bound_at, compiled_regex FROM pgmq.list_topic_bindings('TpAudit')$$,
    $$VALUES ('orders.#', 'TpAudit', '2026-01-02 00:00:00+00'::timestamptz, '^orders\..*$'),
             ('#', 'TpAudit', '2026-01-01 00:00:00+00', '^.*$'),
             ('orders.*', 'TpAudit', '2026-01-01 00:00:00+00', '^orders\.[^.]+$')$$,
    'list_topic_bindings(queue_name): newest first, then pattern');
SELECT is((SELECT count(*) FROM pgmq.list_topic_bindings('tpaudit')), 0::bigint, 'list_topic_bindings(queue_name) uses the name as given');

-- test_routing: a dry run listing every matching binding.
SELECT results_eq($$SELECT pattern, queue_name FROM pgmq.test_routing('orders.created')$$,
    $$VALUES ('#', 'TpAudit'), ('orders.#', 'TpAudit'), ('orders.*', 'TpAudit'), ('orders.*', 'tp_eu'), ('orders.*', 'tp_orders')$$,
    'test_routing lists the matching bindings by queue, then pattern');
SELECT is((SELECT count(*) FROM pgmq.q_tp_orders), 0::bigint, 'test_routing sends nothing');
SELECT throws_ok($$SELECT * FROM pgmq.test_routing('bad key')$$, 'P0001',
    'routing_key contains invalid characters. Only alphanumeric, dots, hyphens, and underscores are allowed. Got: bad key',
    'test_routing validates the key');

-- send_topic: one copy per matching queue, headers added.
SELECT is(pgmq.send_topic('orders.created', '{"o":1}'), 3, 'send_topic returns the number of queues hit, each once');
SELECT results_eq($$SELECT message, headers FROM pgmq.q_tpaudit$$,
    $$VALUES ('{"o":1}'::jsonb, '{"x-pgmq-pattern": "#", "x-pgmq-routing-key": "orders.created"}'::jsonb)$$,
    'a queue with three matching bindings gets one copy, tagged with the first pattern in byte order (#)');
SELECT results_eq($$SELECT message, headers FROM pgmq.q_tp_orders$$,
    $$VALUES ('{"o":1}'::jsonb, '{"x-pgmq-pattern": "orders.*", "x-pgmq-routing-key": "orders.created"}'::jsonb)$$,
    'the orders queue got it with its pattern and the routing key');
SELECT pgmq.bind_topic('orders.#', 'tp_orders');
SELECT is(pgmq.send_topic('orders.paid', '{"o":2}', '{"h":2, "x-pgmq-routing-key":"mine"}', 60), 3,
    'send_topic with headers and delay');
SELECT results_eq($$SELECT headers, vt >= now() + interval '60 seconds' FROM pgmq.q_tp_orders WHERE message = '{"o":2}'$$,
    $$VALUES ('{"h":2, "x-pgmq-pattern": "orders.#", "x-pgmq-routing-key": "orders.paid"}'::jsonb, true)$$,
    'caller headers are kept, the routing headers are added (orders.# sorts before orders.*) and win, the delay applies');
SELECT is(pgmq.send_topic(routing_key => 'billing.paid', msg => '{"o":3}', delay => 0), 1, 'send_topic with named key, msg and delay');
SELECT is(pgmq.send_topic('orders', '{"o":4}'), 1, 'the key orders matches # but neither orders.# nor orders.*');
SELECT is((SELECT count(*) FROM pgmq.q_tp_orders), 2::bigint, 'so the orders queue did not get it');
SELECT throws_ok($$SELECT pgmq.send_topic('orders.x', NULL)$$, 'P0001', 'msg cannot be NULL', 'send_topic refuses a NULL message');
SELECT throws_ok($$SELECT pgmq.send_topic('nothing.matches', NULL, 0)$$, 'P0001', 'msg cannot be NULL',
    'send_topic refuses a NULL message even when nothing matches');
SELECT throws_ok($$SELECT pgmq.send_topic('orders.x', '{}', -1)$$, 'P0001', 'delay cannot be negative, got: -1',
    'send_topic refuses a negative delay');
SELECT throws_ok($$SELECT pgmq.send_topic('orders.x', '{}', '{"h":1}', -7)$$, 'P0001', 'delay cannot be negative, got: -7',
    'send_topic with headers refuses a negative delay');
SELECT throws_ok($$SELECT pgmq.send_topic('orders.*', '{}')$$, 'P0001',
    'routing_key contains invalid characters. Only alphanumeric, dots, hyphens, and underscores are allowed. Got: orders.*',
    'send_topic refuses a pattern as key');
SELECT is((SELECT count(*) FROM pgmq.q_tp_orders), 2::bigint, 'refused sends sent nothing');
SELECT pgmq.unbind_topic('#', 'TpAudit');
SELECT is(pgmq.unbind_topic('#', 'TpAudit'), false, 'unbind_topic of a missing binding returns false');
SELECT is(pgmq.send_topic('billing.paid', '{"o":5}'), 0, 'after unbind nothing matches: 0 and nothing sent');
SELECT is((SELECT count(*) FROM pgmq.q_tpaudit), 4::bigint, 'the unbound queue got nothing more');

-- send_batch_topic: six shapes, queues in name order, messages in array order, headers per message.
SELECT results_eq($$SELECT queue_name, msg_id FROM pgmq.send_batch_topic('orders.new', ARRAY['{"b":1}', '{"b":2}']::jsonb[])$$,
    $$VALUES ('TpAudit', 5::bigint), ('TpAudit', 6), ('tp_eu', 3), ('tp_eu', 4), ('tp_orders', 3), ('tp_orders', 4)$$,
    'send_batch_topic returns (queue, msg_id) per message, one copy per queue, queues in name order');
SELECT results_eq($$SELECT message, headers FROM pgmq.q_tp_orders WHERE msg_id IN (3, 4) ORDER BY msg_id$$,
    $$VALUES ('{"b":1}'::jsonb, '{"x-pgmq-pattern": "orders.#", "x-pgmq-routing-key": "orders.new"}'::jsonb),
             ('{"b":2}', '{"x-pgmq-pattern": "orders.#", "x-pgmq-routing-key": "orders.new"}')$$,
    'without caller headers each message gets the routing headers');
SELECT results_eq($$SELECT count(*) FROM pgmq.send_batch_topic('x.eu.y', ARRAY['{"m":1}', '{"m":2}']::jsonb[], ARRAY['{"h":1}', NULL]::jsonb[])$$,
    ARRAY[2::bigint], 'with headers');
SELECT results_eq($$SELECT message, headers FROM pgmq.q_tp_eu WHERE message ? 'm' ORDER BY msg_id$$,
    $$VALUES ('{"m":1}'::jsonb, '{"h":1, "x-pgmq-pattern": "*.eu.#", "x-pgmq-routing-key": "x.eu.y"}'::jsonb),
             ('{"m":2}', '{"x-pgmq-pattern": "*.eu.#", "x-pgmq-routing-key": "x.eu.y"}')$$,
    'headers[i] goes with msgs[i], a NULL element gets only the routing headers');
SELECT results_eq($$SELECT count(*) FROM pgmq.send_batch_topic('x.eu.y', ARRAY['{}']::jsonb[], 5)$$, ARRAY[1::bigint], 'with integer delay');
SELECT results_eq($$SELECT count(*) FROM pgmq.send_batch_topic('x.eu.y', ARRAY['{}']::jsonb[], '2100-01-01'::timestamptz)$$, ARRAY[1::bigint],
    'with timestamptz delay');
SELECT results_eq($$SELECT count(*) FROM pgmq.send_batch_topic('x.eu.y', ARRAY['{}']::jsonb[], ARRAY['{"h":2}']::jsonb[], 5)$$, ARRAY[1::bigint],
    'with headers and integer delay');
SELECT results_eq($$SELECT count(*) FROM pgmq.send_batch_topic(routing_key => 'x.eu.y', msgs => ARRAY['{}']::jsonb[],
                                                              headers => ARRAY['{"h":3}']::jsonb[], delay => '2100-01-02'::timestamptz)$$,
    ARRAY[1::bigint], 'with headers and timestamptz delay (named)');
SELECT results_eq($$SELECT headers, vt FROM pgmq.q_tp_eu WHERE headers->>'h' = '3'$$,
    $$VALUES ('{"h":3, "x-pgmq-pattern": "*.eu.#", "x-pgmq-routing-key": "x.eu.y"}'::jsonb, '2100-01-02'::timestamptz)$$,
    'headers and timestamptz delay reach the queue');
SELECT throws_ok($$SELECT * FROM pgmq.send_batch_topic('nothing.matches', ARRAY['{}', '{}']::jsonb[], ARRAY['{}']::jsonb[])$$, 'P0001',
    'headers array length (1) must match msgs array length (2)', 'batch validation applies even when nothing matches');
SELECT throws_ok($$SELECT * FROM pgmq.send_batch_topic('x.eu.y', NULL::jsonb[])$$, 'P0001', 'msgs cannot be NULL or empty', 'NULL msgs');
SELECT throws_ok($$SELECT * FROM pgmq.send_batch_topic('x.eu.y', ARRAY[]::jsonb[], 0)$$, 'P0001', 'msgs cannot be NULL or empty', 'empty msgs');
SELECT throws_ok($$SELECT * FROM pgmq.send_batch_topic('x.eu.y', ARRAY['{}', NULL]::jsonb[])$$, 'P0001', 'msg cannot be NULL',
    'a NULL message in the batch');
SELECT throws_ok($$SELECT * FROM pgmq.send_batch_topic('x.eu.y', ARRAY['{}']::jsonb[], -5)$$, 'P0001', 'delay cannot be negative, got: -5',
    'negative integer delay');
SELECT throws_ok($$SELECT * FROM pgmq.send_batch_topic('x.eu.y', ARRAY['{}']::jsonb[], ARRAY['{}']::jsonb[], -2)$$, 'P0001',
    'delay cannot be negative, got: -2', 'negative integer delay with headers');
SELECT throws_ok($$SELECT * FROM pgmq.send_batch_topic('', ARRAY['{}']::jsonb[])$$, 'P0001', 'routing_key cannot be NULL or empty',
    'send_batch_topic validates the key');
SELECT is((SELECT count(*) FROM pgmq.q_tp_eu), 10::bigint, 'refused batches sent nothing');

SELECT * FROM finish();
ROLLBACK;
