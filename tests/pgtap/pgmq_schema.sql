-- Types, global tables (meta, notify throttle, topic bindings), per-queue table layout, indexes and grants of schema pgmq (PGMQ-API.md section 2).
BEGIN;
SELECT plan(31);

-- Field order of the composite types is API: clients decode them positionally.
SELECT is(
    (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
     FROM pg_attribute a WHERE a.attrelid = 'pgmq.message_record'::regclass AND a.attnum > 0),
    'msg_id bigint, read_ct integer, enqueued_at timestamp with time zone, last_read_at timestamp with time zone, vt timestamp with time zone, message jsonb, headers jsonb',
    'pgmq.message_record fields in pgmq order');
SELECT is(
    (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
     FROM pg_attribute a WHERE a.attrelid = 'pgmq.queue_record'::regclass AND a.attnum > 0),
    'queue_name character varying, is_partitioned boolean, is_unlogged boolean, created_at timestamp with time zone',
    'pgmq.queue_record fields');
SELECT is(
    (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
     FROM pg_attribute a WHERE a.attrelid = 'pgmq.metrics_result'::regclass AND a.attnum > 0),
    'queue_name text, queue_length bigint, newest_msg_age_sec integer, oldest_msg_age_sec integer, total_messages bigint, scrape_time timestamp with time zone, queue_visible_length bigint, default_partition_length bigint',
    'pgmq.metrics_result fields');

-- Global tables.
CREATE FUNCTION pg_temp.layout(rel regclass) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                      || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
                      || coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), ''), ', ' ORDER BY a.attnum)
    FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
$$;
SELECT is(pg_temp.layout('pgmq.meta'),
    'queue_name character varying NOT NULL, is_partitioned boolean NOT NULL, is_unlogged boolean NOT NULL, created_at timestamp with time zone DEFAULT now()',
    'pgmq.meta layout');
SELECT is(pg_temp.layout('pgmq.notify_insert_throttle'),
    'queue_name character varying NOT NULL, throttle_interval_ms integer NOT NULL DEFAULT 0, last_notified_at timestamp with time zone NOT NULL DEFAULT to_timestamp((0)::double precision)',
    'pgmq.notify_insert_throttle layout');
SELECT col_is_unique('pgmq', 'meta', 'queue_name', 'pgmq.meta.queue_name is unique');
SELECT columns_are('pgmq', 'notify_insert_throttle', ARRAY['queue_name', 'throttle_interval_ms', 'last_notified_at'],
    'pgmq.notify_insert_throttle columns');
SELECT is((SELECT relpersistence FROM pg_class WHERE oid = 'pgmq.notify_insert_throttle'::regclass), 'u'::"char",
    'notify_insert_throttle is UNLOGGED');
SELECT fk_ok('pgmq', 'notify_insert_throttle', 'queue_name', 'pgmq', 'meta', 'queue_name', 'throttle rows reference meta');
SELECT is((SELECT confdeltype FROM pg_constraint WHERE conrelid = 'pgmq.notify_insert_throttle'::regclass AND contype = 'f'),
    'c'::"char", 'throttle FK cascades on delete');
SELECT is((SELECT pg_get_expr(indpred, indrelid) FROM pg_index WHERE indexrelid = 'pgmq.idx_notify_throttle_active'::regclass),
    '(throttle_interval_ms > 0)', 'idx_notify_throttle_active is partial on active throttles');

SELECT columns_are('pgmq', 'topic_bindings', ARRAY['pattern', 'queue_name', 'bound_at', 'compiled_regex'], 'pgmq.topic_bindings columns');
SELECT has_unique('pgmq', 'topic_bindings', 'topic_bindings has a unique constraint');
SELECT is((SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'topic_bindings_unique_pattern_queue'),
    'UNIQUE (pattern, queue_name)', 'topic_bindings_unique_pattern_queue on (pattern, queue_name)');
SELECT is((SELECT confdeltype FROM pg_constraint WHERE conrelid = 'pgmq.topic_bindings'::regclass AND contype = 'f'),
    'c'::"char", 'topic bindings cascade with their queue');
SELECT is((SELECT attgenerated FROM pg_attribute WHERE attrelid = 'pgmq.topic_bindings'::regclass AND attname = 'compiled_regex'),
    's'::"char", 'compiled_regex is a stored generated column');
SELECT ok((SELECT pg_get_indexdef('pgmq.idx_topic_bindings_covering'::regclass) LIKE '%(pattern) INCLUDE (queue_name, compiled_regex)'),
    'idx_topic_bindings_covering covers routing');

-- Grants for monitoring, including tables created later (default privileges).
SELECT ok(has_schema_privilege('pg_monitor', 'pgmq', 'USAGE'), 'pg_monitor may use schema pgmq');
SELECT ok(has_table_privilege('pg_monitor', 'pgmq.meta', 'SELECT'), 'pg_monitor may read pgmq.meta');

-- Per-queue tables: a mixed-case name maps to lower-case tables.
SELECT pgmq.create('Layout_Q');
SELECT is(pg_temp.layout('pgmq.q_layout_q'),
    'msg_id bigint NOT NULL, read_ct integer NOT NULL DEFAULT 0, enqueued_at timestamp with time zone NOT NULL DEFAULT now(), last_read_at timestamp with time zone, vt timestamp with time zone NOT NULL, message jsonb, headers jsonb',
    'queue table layout');
SELECT is(pg_temp.layout('pgmq.a_layout_q'),
    'msg_id bigint NOT NULL, read_ct integer NOT NULL DEFAULT 0, enqueued_at timestamp with time zone NOT NULL DEFAULT now(), last_read_at timestamp with time zone, archived_at timestamp with time zone NOT NULL DEFAULT now(), vt timestamp with time zone NOT NULL, message jsonb, headers jsonb',
    'archive layout, archived_at before vt');
SELECT col_is_pk('pgmq', 'q_layout_q', 'msg_id', 'queue msg_id is the primary key');
SELECT is((SELECT attidentity FROM pg_attribute WHERE attrelid = 'pgmq.q_layout_q'::regclass AND attname = 'msg_id'),
    'a'::"char", 'queue msg_id is GENERATED ALWAYS AS IDENTITY');
SELECT col_is_pk('pgmq', 'a_layout_q', 'msg_id', 'archive msg_id is the primary key');
SELECT is(pg_get_serial_sequence('pgmq.q_layout_q', 'msg_id'), 'pgmq.q_layout_q_msg_id_seq', 'identity sequence name');
SELECT has_index('pgmq', 'q_layout_q', 'q_layout_q_vt_idx', ARRAY['vt'], 'vt index on the queue');
SELECT has_index('pgmq', 'a_layout_q', 'archived_at_idx_Layout_Q', ARRAY['archived_at'],
    'archived_at index named after the queue name as given');
SELECT ok(has_table_privilege('pg_monitor', 'pgmq.q_layout_q', 'SELECT'), 'pg_monitor may read a new queue table');
SELECT is((SELECT relpersistence FROM pg_class WHERE oid = 'pgmq.q_layout_q'::regclass), 'p'::"char",
    'create makes a logged queue table');

SELECT pgmq.create_unlogged('unlogged_q');
SELECT is((SELECT relpersistence FROM pg_class WHERE oid = 'pgmq.q_unlogged_q'::regclass), 'u'::"char",
    'create_unlogged makes the queue table UNLOGGED');
SELECT is((SELECT relpersistence FROM pg_class WHERE oid = 'pgmq.a_unlogged_q'::regclass), 'p'::"char",
    'create_unlogged keeps the archive logged');

SELECT * FROM finish();
ROLLBACK;
