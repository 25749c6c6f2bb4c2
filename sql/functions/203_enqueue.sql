-- pgtq.enqueue(queue_name text, payload jsonb, group_key text DEFAULT NULL, delay integer DEFAULT 0,
--              headers jsonb DEFAULT NULL, dedupe_key text DEFAULT NULL) RETURNS bigint
--
-- Adds one task and returns its msg_id. delay is in seconds (the task becomes visible at now + delay).
-- Headers: the caller's headers plus x-pgtq-task-id (new uuid), x-pgtq-status 'queued', x-pgmq-group =
-- group_key (NULL: ungrouped; falls back to a caller header x-pgmq-group) and x-pgtq-dedupe-key.
-- With a dedupe_key held by a task still in the queue, inserts nothing and returns that task's msg_id; the
-- unique index makes this race-free (two concurrent calls with one key create one task).
-- Callable from triggers (one INSERT into the queue table; its trigger keeps the group row and sends NOTIFY).
-- Group and dedupe keys are limited to 1024 bytes (inside the index row limit). PQ001 also for a plain pgmq
-- queue that is not registered yet (producers do not register queues; see pgtq._queue).
-- Raises PQ001 unknown queue, PQ002 invalid name, PQ003 (delay NULL or negative, headers not an object or
-- with an x-pgtq-* key, empty dedupe_key), PQ004 (payload NULL or not a JSON object).

CREATE OR REPLACE FUNCTION pgtq.enqueue(
    queue_name text,
    payload jsonb,
    group_key text DEFAULT NULL,
    delay integer DEFAULT 0,
    headers jsonb DEFAULT NULL,
    dedupe_key text DEFAULT NULL
)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v record;
BEGIN
    IF payload IS NULL OR jsonb_typeof(payload) <> 'object' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ004',
            MESSAGE = format('pgtq.enqueue: payload must be a JSON object, got %s', coalesce(payload::text, 'NULL'));
    END IF;
    IF delay IS NULL OR delay < 0 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('pgtq.enqueue: delay must be >= 0, got %s', coalesce(delay::text, 'NULL'));
    END IF;
    -- The INSERT takes the table lock before its trigger locks group rows: no up-front lock (see pgtq._queue).
    SELECT * INTO v FROM pgtq._queue('pgtq.enqueue', queue_name, for_write => false, may_register => false);
    RETURN pgtq._insert_task(
        v.q_table,
        payload,
        pgtq._task_headers('pgtq.enqueue', headers,
                           coalesce(group_key, CASE WHEN jsonb_typeof(headers->'x-pgmq-group') = 'string'
                                                    THEN headers->>'x-pgmq-group' END),
                           dedupe_key),
        delay);
END;
$$;
