-- pgtq.fail and pgtq.reschedule: retry off-by-one (max_retries 0/1/2), retry delay from now, the errors
-- history header, DLQ body and cross-reference headers, 'failed' without a DLQ, lease_lost, non-retryable
-- failures, reschedule preserving task id / group / payload / headers with a fresh attempt budget.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(52);

SELECT pgtq.create_queue('fl');
SELECT pgtq.create_queue('flno', dlq => false);

-- Helper: claim the given task again once its retry is due (pretend the delay passed).
CREATE FUNCTION pg_temp.due(q text, id bigint) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    v_attempt integer;
BEGIN
    EXECUTE format('UPDATE pgmq.%I SET vt = clock_timestamp() - interval ''1 s'' WHERE msg_id = $1', 'q_' || q) USING id;
    SELECT attempt INTO v_attempt FROM pgtq.read(q, 1, 30) WHERE msg_id = id;
    RETURN v_attempt;
END;
$$;

-- max_retries 0: the first failure is final
SELECT pgtq.enqueue('fl', '{"t":0}');                                  -- msg 1
SELECT pgtq.read('fl', 1, 30);
SELECT is(pgtq.fail('fl', 1, 1, 'e1', true, 0, 0), 'dead_lettered', 'max_retries 0: first failure dead-letters');

-- max_retries 1: one retry, two attempts
SELECT pgtq.enqueue('fl', '{"t":1}');                                  -- msg 2
SELECT pgtq.read('fl', 1, 30);
SELECT is(pgtq.fail('fl', 2, 1, 'e1', true, 1, 0), 'retrying', 'max_retries 1: attempt 1 retries');
SELECT is(pg_temp.due('fl', 2), 2, 'attempt 2 is delivered');
SELECT is(pgtq.fail('fl', 2, 2, 'e2', true, 1, 0), 'dead_lettered', 'max_retries 1: attempt 2 is final');

-- max_retries 2: two retries, three attempts
SELECT pgtq.enqueue('fl', '{"t":2}', 'grp', 0, '{"trace":"t2"}');      -- msg 3
SELECT pgtq.read('fl', 1, 30, grouped => true);
SELECT is(pgtq.fail('fl', 3, 1, 'e1', true, 2, 0), 'retrying', 'max_retries 2: attempt 1 retries');
SELECT is(pg_temp.due('fl', 3), 2, 'attempt 2');
SELECT is(pgtq.fail('fl', 3, 2, 'e2', true, 2, 0), 'retrying', 'max_retries 2: attempt 2 retries');
SELECT is(pg_temp.due('fl', 3), 3, 'attempt 3');
CREATE TEMP TABLE task3 AS SELECT * FROM pgmq.q_fl WHERE msg_id = 3;
SELECT is(pgtq.fail('fl', 3, 3, 'e3', true, 2, 0), 'dead_lettered', 'max_retries 2: attempt 3 is final');

-- the dead-lettered task: archive row and DLQ entry
SELECT ok(NOT EXISTS (SELECT 1 FROM pgmq.q_fl WHERE msg_id = 3), 'dead-lettered task left the queue');
SELECT is((SELECT headers->>'x-pgtq-status' FROM pgmq.a_fl WHERE msg_id = 3), 'dead_lettered', 'archived as dead_lettered');
CREATE TEMP TABLE dlq3 AS SELECT * FROM pgmq.q_fl_dlq WHERE (message->>'msg_id')::bigint = 3;
SELECT is((SELECT count(*) FROM dlq3), 1::bigint, 'exactly one DLQ entry for it');
SELECT is((SELECT (headers->>'x-pgtq-dlq')::bigint FROM pgmq.a_fl WHERE msg_id = 3), (SELECT msg_id FROM dlq3),
    'x-pgtq-dlq on the archived original = the DLQ msg_id');
SELECT is((SELECT array_agg(k ORDER BY k) FROM dlq3, jsonb_object_keys(message) k),
    ARRAY['errors', 'message', 'msg_id', 'queue_name'], 'DLQ body has exactly {msg_id, queue_name, message, errors}');
SELECT is((SELECT message - 'errors' FROM dlq3), '{"msg_id":3,"queue_name":"fl","message":{"t":2}}'::jsonb,
    'DLQ body: original msg_id, queue name and payload');
SELECT is((SELECT message->'errors' FROM dlq3), '["e1","e2","e3"]'::jsonb,
    'DLQ body errors: every failure in order, as the seed''s list of strings');
SELECT is((SELECT jsonb_path_query_array(headers->'x-pgtq-error-log', '$[*].attempt') FROM dlq3), '[1,2,3]'::jsonb,
    'x-pgtq-error-log: each error records its attempt');
SELECT ok((SELECT bool_and((e->>'at')::timestamptz <= clock_timestamp() AND e->>'kind' = 'failure')
           FROM dlq3, jsonb_array_elements(headers->'x-pgtq-error-log') e),
    'each error records when it happened, of kind failure');
SELECT is((SELECT (headers->>'x-pgtq-original')::bigint FROM dlq3), 3::bigint, 'DLQ headers: x-pgtq-original');
SELECT is((SELECT headers - 'x-pgtq-original' - 'x-pgtq-status' - 'x-pgtq-errors' - 'x-pgtq-error-log' FROM dlq3),
    (SELECT headers - 'x-pgtq-status' - 'x-pgtq-errors' - 'x-pgtq-error-log' FROM task3),
    'DLQ headers keep the original headers (task id, group, trace)');
SELECT is((SELECT busy_msg_id FROM pgtq.groups WHERE queue_name = 'fl' AND group_key = 'grp'), NULL,
    'the dead-lettered task freed (or removed) its group');

-- retry delay is seconds from now, keeps the msg_id
SELECT pgtq.enqueue('fl', '{"t":"delay"}');                            -- msg 4
SELECT pgtq.read('fl', 1, 30);
SELECT is(pgtq.fail('fl', 4, 1, 'later', true, 3, 120), 'retrying', 'retry with a delay');
SELECT ok((SELECT vt BETWEEN clock_timestamp() + interval '119 s' AND clock_timestamp() + interval '121 s'
           FROM pgmq.q_fl WHERE msg_id = 4), 'retry visible at now + 120 s (not an epoch)');
SELECT is((SELECT headers->>'x-pgtq-status' FROM pgmq.q_fl WHERE msg_id = 4), 'retrying', 'status retrying');
SELECT is((SELECT count(*) FROM pgtq.read('fl', 10, 30)), 0::bigint, 'a retrying task is not read before its delay');
SELECT is((SELECT jsonb_array_length(headers->'x-pgtq-errors') FROM pgmq.q_fl WHERE msg_id = 4), 1, 'one error recorded');

-- lease_lost: the lease expired and someone else re-read the task
UPDATE pgmq.q_fl SET vt = clock_timestamp() - interval '1 s' WHERE msg_id = 4;
SELECT is((SELECT attempt FROM pgtq.read('fl', 1, 30)), 2, 'another reader holds attempt 2');
CREATE TEMP TABLE live4 AS SELECT * FROM pgmq.q_fl WHERE msg_id = 4;
SELECT is(pgtq.fail('fl', 4, 1, 'stale', true, 3, 0), 'lease_lost', 'fail with the stale attempt: lease_lost');
SELECT results_eq($$SELECT * FROM pgmq.q_fl WHERE msg_id = 4$$, $$SELECT * FROM live4$$,
    'lease_lost changed nothing (vt, read_ct, headers)');
SELECT is(pgtq.fail('fl', 999, 1, 'x'), 'lease_lost', 'unknown task: lease_lost');

-- non-retryable: final at once, whatever max_retries says
SELECT is(pgtq.fail('fl', 4, 2, 'bad input', false, 5, 0), 'dead_lettered', 'non-retryable failure dead-letters at once');

-- no DLQ: archived as failed
SELECT pgtq.enqueue('flno', '{"x":1}');
SELECT pgtq.read('flno', 1, 30);
SELECT is(pgtq.fail('flno', 1, 1, 'boom'), 'failed', 'without a DLQ the final failure is failed');
SELECT is((SELECT headers->>'x-pgtq-status' FROM pgmq.a_flno WHERE msg_id = 1), 'failed', 'archived with status failed');
SELECT is((SELECT headers->'x-pgtq-errors'->>0 FROM pgmq.a_flno WHERE msg_id = 1), 'boom', 'with its error');

-- the error history keeps the last 20
SELECT pgtq.enqueue('flno', '{"x":2}');
SELECT pgtq.read('flno', 1, 30);
SELECT pgtq.fail('flno', 2, 1, 'err' || i, true, 100, 0) FROM generate_series(1, 1) i;
DO $$
BEGIN
    FOR i IN 2..25 LOOP
        PERFORM pg_temp.due('flno', 2);
        PERFORM pgtq.fail('flno', 2, i, 'err' || i, true, 100, 0);
    END LOOP;
END
$$;
SELECT is((SELECT jsonb_array_length(headers->'x-pgtq-errors') FROM pgmq.q_flno WHERE msg_id = 2), 20, 'last 20 errors kept');
SELECT is((SELECT headers->'x-pgtq-errors'->>0 || ',' || (headers->'x-pgtq-errors'->>19)
           FROM pgmq.q_flno WHERE msg_id = 2), 'err6,err25', 'the oldest are dropped');
SELECT is((SELECT headers->'x-pgtq-error-log'->0->>'error' || ',' || (headers->'x-pgtq-error-log'->19->>'error')
           FROM pgmq.q_flno WHERE msg_id = 2), 'err6,err25', 'the error log keeps the last 20 too');

-- validation
SELECT throws_ok($$SELECT pgtq.fail('fl', 1, 1, NULL)$$, 'PQ003', NULL, 'NULL error: PQ003');
SELECT throws_ok($$SELECT pgtq.fail('fl', 1, 1, 'x', true, -1)$$, 'PQ003', 'pgtq.fail: max_retries must be >= 0, got -1',
    'negative max_retries: PQ003');
SELECT throws_ok($$SELECT pgtq.fail('fl', 1, 1, 'x', true, 0, -3)$$, 'PQ003', NULL, 'negative retry_delay: PQ003');

-- reschedule
CREATE TEMP TABLE new3 AS SELECT pgtq.reschedule('fl', (SELECT msg_id FROM dlq3)) AS id;
CREATE TEMP TABLE t3 AS SELECT q.* FROM pgmq.q_fl q JOIN new3 ON q.msg_id = new3.id;
SELECT is((SELECT message FROM t3), '{"t":2}'::jsonb, 'rescheduled task has the same payload');
SELECT is((SELECT headers->>'x-pgtq-task-id' FROM t3), (SELECT headers->>'x-pgtq-task-id' FROM task3), 'same task id');
SELECT is((SELECT headers->>'x-pgmq-group' FROM t3), 'grp', 'same group');
SELECT is((SELECT headers->>'trace' FROM t3), 't2', 'same caller headers');
SELECT is((SELECT (headers->>'x-pgtq-original')::bigint FROM t3), 3::bigint, 'x-pgtq-original = the original msg_id');
SELECT ok((SELECT read_ct = 0 AND headers->>'x-pgtq-status' = 'queued' AND vt <= clock_timestamp() FROM t3),
    'fresh attempt budget, queued, visible');
SELECT ok(NOT EXISTS (SELECT 1 FROM pgmq.q_fl_dlq q JOIN dlq3 USING (msg_id)), 'the DLQ entry left the DLQ');
SELECT is((SELECT a.headers->>'x-pgtq-status' || ':' || (a.headers->>'x-pgtq-retry') FROM pgmq.a_fl_dlq a JOIN dlq3 USING (msg_id)),
    'rescheduled:' || (SELECT id FROM new3), 'DLQ entry archived as rescheduled with x-pgtq-retry = the new msg_id');
SELECT throws_ok(format('SELECT pgtq.reschedule(%L, %s)', 'fl', (SELECT msg_id FROM dlq3)), 'PQ005', NULL,
    'rescheduling it twice: PQ005');
SELECT throws_ok($$SELECT pgtq.reschedule('flno', 1)$$, 'PQ003', NULL, 'queue without a DLQ: PQ003');

-- a custom DLQ name receives the dead letters
SELECT pgtq.create_queue('flc', dlq_name => 'flc_graveyard');
SELECT pgtq.enqueue('flc', '{"c":1}');
SELECT pgtq.read('flc', 1, 30);
SELECT is(pgtq.fail('flc', 1, 1, 'x'), 'dead_lettered', 'dead-lettered into the custom DLQ');
SELECT is((SELECT message->'message' FROM pgmq.q_flc_graveyard), '{"c":1}'::jsonb, 'the entry is in flc_graveyard');

SELECT * FROM finish();
ROLLBACK;
