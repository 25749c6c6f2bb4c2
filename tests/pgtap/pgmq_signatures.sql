-- Pins the public API of schema pgmq: every function not starting with '_' with its exact arguments
-- (names, types, order, defaults) and result type. pgmq clients call with named arguments, so any drift
-- (a renamed parameter, a lost default, a silent extra overload left by CREATE OR REPLACE) breaks them.
-- PGTQ's one change is the trailing `direction text DEFAULT 'ASC'` of every read function. Rows are in
-- byte (C collation) order of name, then arguments.
BEGIN;
SELECT plan(3);

SELECT results_eq(
    $$
    SELECT p.proname::text COLLATE "C",
           pg_catalog.pg_get_function_arguments(p.oid) COLLATE "C",
           pg_catalog.pg_get_function_result(p.oid) COLLATE "C"
    FROM pg_catalog.pg_proc p
    JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = 'pgmq' AND p.proname NOT LIKE '\_%'
    ORDER BY 1, 2
    $$,
    $$
    VALUES
    ('acquire_queue_lock'::text COLLATE "C", 'queue_name text'::text COLLATE "C", 'void'::text COLLATE "C"),
    ('archive', 'queue_name text, msg_id bigint', 'boolean'),
    ('archive', 'queue_name text, msg_ids bigint[]', 'SETOF bigint'),
    ('bind_topic', 'pattern text, queue_name text', 'void'),
    ('convert_archive_partitioned', 'table_name text, partition_interval text DEFAULT ''10000''::text, retention_interval text DEFAULT ''100000''::text, leading_partition integer DEFAULT 10', 'void'),
    ('create', 'queue_name text', 'void'),
    ('create_fifo_index', 'queue_name text', 'void'),
    ('create_fifo_indexes_all', '', 'void'),
    ('create_non_partitioned', 'queue_name text', 'void'),
    ('create_partitioned', 'queue_name text, partition_interval text DEFAULT ''10000''::text, retention_interval text DEFAULT ''100000''::text, premake integer DEFAULT 4', 'void'),
    ('create_unlogged', 'queue_name text', 'void'),
    ('delete', 'queue_name text, msg_id bigint', 'boolean'),
    ('delete', 'queue_name text, msg_ids bigint[]', 'SETOF bigint'),
    ('detach_archive', 'queue_name text', 'void'),
    ('disable_notify_insert', 'queue_name text', 'void'),
    ('drop_queue', 'queue_name text', 'boolean'),
    ('drop_queue', 'queue_name text, partitioned boolean', 'boolean'),
    ('enable_notify_insert', 'queue_name text, throttle_interval_ms integer DEFAULT 250', 'void'),
    ('format_table_name', 'queue_name text, prefix text', 'text'),
    ('list_notify_insert_throttles', '', 'TABLE(queue_name text, throttle_interval_ms integer, last_notified_at timestamp with time zone)'),
    ('list_queues', '', 'SETOF pgmq.queue_record'),
    ('list_topic_bindings', '', 'TABLE(pattern text, queue_name text, bound_at timestamp with time zone, compiled_regex text)'),
    ('list_topic_bindings', 'queue_name text', 'TABLE(pattern text, queue_name text, bound_at timestamp with time zone, compiled_regex text)'),
    ('metrics', 'queue_name text', 'pgmq.metrics_result'),
    ('metrics_all', '', 'SETOF pgmq.metrics_result'),
    ('notify_queue_listeners', '', 'trigger'),
    ('pop', 'queue_name text, qty integer DEFAULT 1, direction text DEFAULT ''ASC''::text', 'SETOF pgmq.message_record'),
    ('purge_queue', 'queue_name text', 'bigint'),
    ('read', 'queue_name text, vt integer, qty integer, conditional jsonb DEFAULT ''{}''::jsonb, direction text DEFAULT ''ASC''::text', 'SETOF pgmq.message_record'),
    ('read_grouped', 'queue_name text, vt integer, qty integer, direction text DEFAULT ''ASC''::text', 'SETOF pgmq.message_record'),
    ('read_grouped_head', 'queue_name text, vt integer, qty integer, direction text DEFAULT ''ASC''::text', 'SETOF pgmq.message_record'),
    ('read_grouped_head_with_poll', 'queue_name text, vt integer, qty integer, max_poll_seconds integer DEFAULT 5, poll_interval_ms integer DEFAULT 100, direction text DEFAULT ''ASC''::text', 'SETOF pgmq.message_record'),
    ('read_grouped_rr', 'queue_name text, vt integer, qty integer, direction text DEFAULT ''ASC''::text', 'SETOF pgmq.message_record'),
    ('read_grouped_rr_with_poll', 'queue_name text, vt integer, qty integer, max_poll_seconds integer DEFAULT 5, poll_interval_ms integer DEFAULT 100, direction text DEFAULT ''ASC''::text', 'SETOF pgmq.message_record'),
    ('read_grouped_with_poll', 'queue_name text, vt integer, qty integer, max_poll_seconds integer DEFAULT 5, poll_interval_ms integer DEFAULT 100, direction text DEFAULT ''ASC''::text', 'SETOF pgmq.message_record'),
    ('read_with_poll', 'queue_name text, vt integer, qty integer, max_poll_seconds integer DEFAULT 5, poll_interval_ms integer DEFAULT 100, conditional jsonb DEFAULT ''{}''::jsonb, direction text DEFAULT ''ASC''::text', 'SETOF pgmq.message_record'),
    ('send', 'queue_name text, msg jsonb', 'SETOF bigint'),
    ('send', 'queue_name text, msg jsonb, delay integer', 'SETOF bigint'),
    ('send', 'queue_name text, msg jsonb, delay timestamp with time zone', 'SETOF bigint'),
    ('send', 'queue_name text, msg jsonb, headers jsonb', 'SETOF bigint'),
    ('send', 'queue_name text, msg jsonb, headers jsonb, delay integer', 'SETOF bigint'),
    ('send', 'queue_name text, msg jsonb, headers jsonb, delay timestamp with time zone', 'SETOF bigint'),
    ('send_batch', 'queue_name text, msgs jsonb[]', 'SETOF bigint'),
    ('send_batch', 'queue_name text, msgs jsonb[], delay integer', 'SETOF bigint'),
    ('send_batch', 'queue_name text, msgs jsonb[], delay timestamp with time zone', 'SETOF bigint'),
    ('send_batch', 'queue_name text, msgs jsonb[], headers jsonb[]', 'SETOF bigint'),
    ('send_batch', 'queue_name text, msgs jsonb[], headers jsonb[], delay integer', 'SETOF bigint'),
    ('send_batch', 'queue_name text, msgs jsonb[], headers jsonb[], delay timestamp with time zone', 'SETOF bigint'),
    ('send_batch_topic', 'routing_key text, msgs jsonb[]', 'TABLE(queue_name text, msg_id bigint)'),
    ('send_batch_topic', 'routing_key text, msgs jsonb[], delay integer', 'TABLE(queue_name text, msg_id bigint)'),
    ('send_batch_topic', 'routing_key text, msgs jsonb[], delay timestamp with time zone', 'TABLE(queue_name text, msg_id bigint)'),
    ('send_batch_topic', 'routing_key text, msgs jsonb[], headers jsonb[]', 'TABLE(queue_name text, msg_id bigint)'),
    ('send_batch_topic', 'routing_key text, msgs jsonb[], headers jsonb[], delay integer', 'TABLE(queue_name text, msg_id bigint)'),
    ('send_batch_topic', 'routing_key text, msgs jsonb[], headers jsonb[], delay timestamp with time zone', 'TABLE(queue_name text, msg_id bigint)'),
    ('send_topic', 'routing_key text, msg jsonb', 'integer'),
    ('send_topic', 'routing_key text, msg jsonb, delay integer', 'integer'),
    ('send_topic', 'routing_key text, msg jsonb, headers jsonb, delay integer', 'integer'),
    ('set_vt', 'queue_name text, msg_id bigint, vt integer', 'SETOF pgmq.message_record'),
    ('set_vt', 'queue_name text, msg_id bigint, vt timestamp with time zone', 'SETOF pgmq.message_record'),
    ('set_vt', 'queue_name text, msg_ids bigint[], vt integer', 'SETOF pgmq.message_record'),
    ('set_vt', 'queue_name text, msg_ids bigint[], vt timestamp with time zone', 'SETOF pgmq.message_record'),
    ('test_routing', 'routing_key text', 'TABLE(pattern text, queue_name text, compiled_regex text)'),
    ('unbind_topic', 'pattern text, queue_name text', 'boolean'),
    ('update_notify_insert', 'queue_name text, throttle_interval_ms integer', 'void'),
    ('validate_queue_name', 'queue_name text', 'void'),
    ('validate_routing_key', 'routing_key text', 'boolean'),
    ('validate_topic_pattern', 'pattern text', 'boolean')
    $$,
    'public pgmq functions: exact names, arguments, defaults and result types'
);

-- The shared direction helper that every read function (including the group reads) calls.
SELECT has_function('pgmq', '_order_direction', ARRAY['text'], 'pgmq._order_direction(text) exists');
SELECT function_returns('pgmq', '_order_direction', ARRAY['text'], 'text', 'pgmq._order_direction returns text');

SELECT * FROM finish();
ROLLBACK;
