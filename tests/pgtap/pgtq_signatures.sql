-- Pins the public API of schema pgtq (DESIGN.md section 2 plus the helpers the Go side calls): every function
-- not starting with '_' with its exact arguments (names, types, order, defaults) and result type. Function
-- files are re-applied with CREATE OR REPLACE, so a changed signature would otherwise leave a silent extra
-- overload behind. Also checks that every public function is SECURITY DEFINER with a pinned search_path, and
-- that no function of the schema (public or internal) runs with the caller's search_path while definer.
BEGIN;
SELECT plan(3);

SELECT results_eq(
    $$
    SELECT p.proname::text COLLATE "C",
           pg_catalog.pg_get_function_arguments(p.oid) COLLATE "C",
           pg_catalog.pg_get_function_result(p.oid) COLLATE "C"
    FROM pg_catalog.pg_proc p
    JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = 'pgtq' AND p.proname NOT LIKE '\_%'
    ORDER BY 1, 2
    $$,
    $$
    VALUES
    ('complete'::text COLLATE "C", 'queue_name text, msg_id bigint, attempt integer'::text COLLATE "C", 'boolean'::text COLLATE "C"),
    ('complete', 'queue_name text, msg_ids bigint[], attempts integer[]', 'SETOF bigint'),
    ('create_queue', 'queue_name text, dlq boolean DEFAULT true, dlq_name text DEFAULT NULL::text', 'void'),
    ('drop_queue', 'queue_name text', 'boolean'),
    ('enqueue', 'queue_name text, payload jsonb, group_key text DEFAULT NULL::text, delay integer DEFAULT 0, headers jsonb DEFAULT NULL::jsonb, dedupe_key text DEFAULT NULL::text', 'bigint'),
    ('enqueue_batch', 'queue_name text, payloads jsonb[], group_keys text[] DEFAULT NULL::text[], delay integer DEFAULT 0, headers jsonb[] DEFAULT NULL::jsonb[]', 'SETOF bigint'),
    ('extend_lease', 'queue_name text, msg_id bigint, attempt integer, lease_seconds integer', 'boolean'),
    ('fail', 'queue_name text, msg_id bigint, attempt integer, error text, retryable boolean DEFAULT true, max_retries integer DEFAULT 0, retry_delay integer DEFAULT 0', 'text'),
    ('list_dlq', 'queue_name text, qty integer DEFAULT 100', 'SETOF pgmq.message_record'),
    ('next_due', 'queue_name text', 'timestamp with time zone'),
    ('prune', 'queue_name text, older_than interval, batch_size integer DEFAULT 1000', 'bigint'),
    ('prune_due', 'queue_name text, older_than interval, batch_size integer, every interval', 'bigint'),
    ('read', 'queue_name text, qty integer, lease_seconds integer, lifo boolean DEFAULT false, grouped boolean DEFAULT false, concurrency_limit integer DEFAULT NULL::integer, max_attempts integer DEFAULT NULL::integer', 'SETOF pgtq.task'),
    ('release', 'queue_name text, msg_id bigint, attempt integer', 'boolean'),
    ('reschedule', 'queue_name text, dlq_msg_id bigint', 'bigint'),
    ('stats', 'queue_name text', 'pgtq.stats')
    $$,
    'public pgtq functions: exact names, arguments, defaults and result types'
);

SELECT is_empty(
    $$
    SELECT p.oid::regprocedure::text
    FROM pg_catalog.pg_proc p
    JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = 'pgtq' AND p.proname NOT LIKE '\_%' AND p.prokind = 'f' AND NOT p.prosecdef
    $$,
    'every public pgtq function is SECURITY DEFINER'
);

SELECT is_empty(
    $$
    SELECT p.oid::regprocedure::text
    FROM pg_catalog.pg_proc p
    JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = 'pgtq' AND p.prosecdef
      AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false)
    $$,
    'every SECURITY DEFINER function of pgtq pins search_path = pg_catalog, pg_temp'
);

SELECT * FROM finish();
ROLLBACK;
