-- Topic routing: validate_routing_key, validate_topic_pattern, bind/unbind_topic, list_topic_bindings,
-- test_routing, send_topic (3 overloads), send_batch_topic (6 overloads), the compiled regex of '*' and '#',
-- and the cascade when a queue is dropped.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(47);

-- Routing looks at every binding in the database: start from none (rolled back at the end).
DELETE FROM pgmq.topic_bindings;

-- Validation.
SELECT ok(pgmq.validate_routing_key('orders.eu-west.created_v2'), 'a valid routing key');
SELECT throws_ok($$SELECT pgmq.validate_routing_key(NULL)$$, 'PQ003', 'pgmq: routing_key must not be NULL or empty', 'NULL key');
SELECT throws_ok($$SELECT pgmq.validate_routing_key('')$$, 'PQ003', 'pgmq: routing_key must not be NULL or empty', 'empty key');
SELECT throws_ok(format('SELECT pgmq.validate_routing_key(%L)', repeat('k', 256)), 'PQ003',
    'pgmq: routing_key is too long (256 characters), maximum length is 255', '256 characters');
SELECT ok(pgmq.validate_routing_key(repeat('k', 255)), '255 characters are allowed');
SELECT throws_ok($$SELECT pgmq.validate_routing_key('orders.*')$$, 'PQ003',
    'pgmq: routing_key ''orders.*'' contains invalid characters: only A-Z, a-z, 0-9, ".", "_" and "-" are allowed', 'wildcards are not keys');
SELECT throws_ok($$SELECT pgmq.validate_routing_key('a b')$$, 'PQ003', NULL, 'spaces are invalid');
SELECT throws_ok($$SELECT pgmq.validate_routing_key('a..b')$$, 'PQ003',
    'pgmq: routing_key ''a..b'' has an empty segment (leading, trailing or doubled dot)', 'doubled dot');
SELECT throws_ok($$SELECT pgmq.validate_routing_key('.a')$$, 'PQ003', NULL, 'leading dot');
SELECT ok(pgmq.validate_topic_pattern('orders.*.#'), 'a valid pattern');
SELECT throws_ok($$SELECT pgmq.validate_topic_pattern('orders.a*')$$, 'PQ003',
    'pgmq: pattern ''orders.a*'' is invalid: "*" and "#" must be whole segments', 'partial-segment wildcard');
SELECT throws_ok($$SELECT pgmq.validate_topic_pattern('#a')$$, 'PQ003', NULL, '# glued to text');
SELECT throws_ok($$SELECT pgmq.validate_topic_pattern('a.$')$$, 'PQ003', NULL, 'invalid character in a pattern');
SELECT throws_ok($$SELECT pgmq.validate_topic_pattern('a.')$$, 'PQ003', NULL, 'trailing dot in a pattern');
SELECT throws_ok($$SELECT pgmq.validate_topic_pattern(NULL)$$, 'PQ003', 'pgmq: pattern must not be NULL or empty', 'NULL pattern');

-- Compiled regexes: '*' is one segment, '#' zero or more.
SELECT pgmq.create('tp_all');
CREATE TEMP TABLE keys(k) AS VALUES ('a'), ('a.b'), ('a.b.c'), ('b.a'), ('x.y.a'), ('a.x.b'), ('ab'), ('b');
CREATE TEMP TABLE cases(p, want) AS VALUES
    ('#', 'a a.b a.b.c a.x.b ab b b.a x.y.a'),
    ('a.#', 'a a.b a.b.c a.x.b'),
    ('#.a', 'a b.a x.y.a'),
    ('a.#.b', 'a.b a.x.b'),
    ('a.*', 'a.b'),
    ('*.*', 'a.b b.a'),
    ('*.#', 'a a.b a.b.c a.x.b ab b b.a x.y.a'),
    ('#.#.a', 'a b.a x.y.a'),
    ('a.b', 'a.b');
SELECT pgmq.bind_topic(p, 'tp_all') FROM cases;
SELECT results_eq(
    $$SELECT c.p, (SELECT string_agg(k, ' ' ORDER BY k COLLATE "C") FROM keys WHERE k ~ b.compiled_regex)
      FROM cases c JOIN pgmq.topic_bindings b ON b.pattern = c.p ORDER BY c.p COLLATE "C"$$,
    $$SELECT p, want FROM cases ORDER BY p COLLATE "C"$$,
    'compiled regexes match exactly the keys AMQP topic rules say');
SELECT is((SELECT compiled_regex FROM pgmq.topic_bindings WHERE pattern = 'a.#.b'), '^a(?:\.[^.]+)*\.b$', 'compiled regex of a.#.b');
SELECT pgmq.drop_queue('tp_all');
SELECT is((SELECT count(*) FROM pgmq.topic_bindings WHERE queue_name = 'tp_all'), 0::bigint, 'drop_queue removes its bindings');

-- bind / unbind / list.
SELECT pgmq.create('tp_orders');
SELECT pgmq.create('TpAudit');
SELECT pgmq.create('tp_eu');
SELECT lives_ok($$SELECT pgmq.bind_topic('orders.*', 'tp_orders')$$, 'bind_topic');
SELECT lives_ok($$SELECT pgmq.bind_topic('orders.*', 'tp_orders')$$, 'bind_topic again is a no-op');
SELECT pgmq.bind_topic('#', 'TpAudit');
SELECT pgmq.bind_topic('orders.#', 'TpAudit');
SELECT pgmq.bind_topic(pattern => '*.eu.#', queue_name => 'tp_eu');
SELECT results_eq($$SELECT pattern, queue_name FROM pgmq.list_topic_bindings() ORDER BY queue_name COLLATE "C", pattern COLLATE "C"$$,
    $$VALUES ('#', 'TpAudit'), ('orders.#', 'TpAudit'), ('*.eu.#', 'tp_eu'), ('orders.*', 'tp_orders')$$,
    'list_topic_bindings lists each binding once');
SELECT results_eq($$SELECT pattern, queue_name, bound_at = now(), compiled_regex FROM pgmq.list_topic_bindings('tp_orders')$$,
    $$VALUES ('orders.*', 'tp_orders', true, '^orders\.[^.]+$')$$, 'list_topic_bindings(queue_name)');
SELECT throws_ok($$SELECT pgmq.bind_topic('x', 'no_such_queue')$$, 'PQ001', 'pgmq.bind_topic: queue ''no_such_queue'' does not exist',
    'bind_topic to an unknown queue');
SELECT throws_ok($$SELECT pgmq.bind_topic('x.a*', 'tp_orders')$$, 'PQ003', NULL, 'bind_topic validates the pattern');

-- test_routing: a dry run.
SELECT results_eq($$SELECT pattern, queue_name FROM pgmq.test_routing('orders.created') ORDER BY queue_name COLLATE "C", pattern COLLATE "C"$$,
    $$VALUES ('#', 'TpAudit'), ('orders.#', 'TpAudit'), ('orders.*', 'tp_orders')$$, 'test_routing lists the matching bindings');
SELECT is((SELECT count(*) FROM pgmq.q_tp_orders), 0::bigint, 'test_routing sends nothing');
SELECT throws_ok($$SELECT * FROM pgmq.test_routing('bad key')$$, 'PQ003', NULL, 'test_routing validates the key');

-- send_topic: one copy per matching queue.
SELECT is(pgmq.send_topic('orders.created', '{"o":1}'), 2, 'send_topic returns the number of queues hit');
SELECT results_eq($$SELECT message FROM pgmq.q_tp_orders$$, $$VALUES ('{"o":1}'::jsonb)$$, 'the orders queue got it');
SELECT results_eq($$SELECT message FROM pgmq.q_tpaudit$$, $$VALUES ('{"o":1}'::jsonb)$$,
    'the mixed-case queue got one copy although two of its patterns match');
SELECT is(pgmq.send_topic('orders.eu.created', '{"o":2}', '{"h":2}', 60), 2, 'send_topic with headers and delay');
SELECT results_eq($$SELECT headers, vt >= now() + interval '60 seconds' FROM pgmq.q_tp_eu$$, $$VALUES ('{"h":2}'::jsonb, true)$$,
    'headers and delay reach the queue');
SELECT is(pgmq.send_topic(routing_key => 'billing.paid', msg => '{"o":3}', delay => 0), 1, 'send_topic with named key, msg and delay');
SELECT is(pgmq.send_topic('orders', '{"o":4}'), 1, 'orders.# matches orders (zero further segments), orders.* does not');
SELECT is((SELECT count(*) FROM pgmq.q_tp_orders), 1::bigint, 'so only the audit queue got it');
SELECT pgmq.unbind_topic('#', 'TpAudit');
SELECT is(pgmq.unbind_topic('#', 'TpAudit'), false, 'unbind_topic of a missing binding returns false');
SELECT is(pgmq.send_topic('billing.paid', '{"o":5}'), 0, 'after unbind nothing matches: 0 and nothing sent');
SELECT is((SELECT count(*) FROM pgmq.q_tpaudit), 4::bigint, 'the unbound queue got nothing more');
SELECT throws_ok($$SELECT pgmq.send_topic('orders.*', '{}')$$, 'PQ003', NULL, 'send_topic rejects a pattern as key');

-- send_batch_topic: six shapes.
SELECT results_eq($$SELECT queue_name, msg_id FROM pgmq.send_batch_topic('orders.new', ARRAY['{"b":1}', '{"b":2}']::jsonb[])$$,
    $$VALUES ('TpAudit', 5::bigint), ('TpAudit', 6), ('tp_orders', 2), ('tp_orders', 3)$$,
    'send_batch_topic returns (queue, msg_id) per message, queues in name order');
SELECT results_eq($$SELECT count(*) FROM pgmq.send_batch_topic('x.eu', ARRAY['{}']::jsonb[], ARRAY['{"h":1}']::jsonb[])$$,
    ARRAY[1::bigint], 'with headers');
SELECT results_eq($$SELECT count(*) FROM pgmq.send_batch_topic('x.eu', ARRAY['{}']::jsonb[], 5)$$, ARRAY[1::bigint], 'with integer delay');
SELECT results_eq($$SELECT count(*) FROM pgmq.send_batch_topic('x.eu', ARRAY['{}']::jsonb[], '2100-01-01'::timestamptz)$$, ARRAY[1::bigint],
    'with timestamptz delay');
SELECT results_eq($$SELECT count(*) FROM pgmq.send_batch_topic('x.eu', ARRAY['{}']::jsonb[], ARRAY['{"h":2}']::jsonb[], 5)$$, ARRAY[1::bigint],
    'with headers and integer delay');
SELECT results_eq($$SELECT count(*) FROM pgmq.send_batch_topic(routing_key => 'x.eu', msgs => ARRAY['{}']::jsonb[],
                                                              headers => ARRAY['{"h":3}']::jsonb[], delay => '2100-01-02'::timestamptz)$$,
    ARRAY[1::bigint], 'with headers and timestamptz delay (named)');
SELECT results_eq($$SELECT headers, vt FROM pgmq.q_tp_eu WHERE headers->>'h' = '3'$$, $$VALUES ('{"h":3}'::jsonb, '2100-01-02'::timestamptz)$$,
    'headers and timestamptz delay reach the queue');
SELECT throws_ok($$SELECT * FROM pgmq.send_batch_topic('nothing.matches', ARRAY['{}', '{}']::jsonb[], ARRAY['{}']::jsonb[])$$, 'P0001',
    'headers array length (1) must match msgs array length (2)', 'batch validation applies even when nothing matches');

SELECT * FROM finish();
ROLLBACK;
