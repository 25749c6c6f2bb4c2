-- pgtq.read (ungrouped): claims, leases, attempts, FIFO/LIFO, headers, concurrency limit arithmetic,
-- lost-lease budget (max_lost_leases) dead-lettering, validation; pgtq.complete (single and array), pgtq.extend_lease, pgtq.release.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(61);

SELECT pgtq.create_queue('rd');
SELECT pgtq.enqueue_batch('rd', ARRAY['{"n":1}', '{"n":2}', '{"n":3}', '{"n":4}', '{"n":5}']::jsonb[]);
SELECT pgtq.enqueue('rd', '{"n":6}', delay => 60);

-- FIFO claim
CREATE TEMP TABLE r1 AS SELECT * FROM pgtq.read('rd', 2, 30);
SELECT results_eq($$SELECT msg_id, attempt FROM r1$$, $$VALUES (1::bigint, 1), (2::bigint, 1)$$,
    'FIFO read claims the oldest visible tasks, attempt 1');
SELECT results_eq($$SELECT payload FROM r1$$, $$VALUES ('{"n":1}'::jsonb), ('{"n":2}'::jsonb)$$, 'payloads returned');
SELECT ok((SELECT bool_and(task_id = headers->>'x-pgtq-task-id' AND group_key IS NULL) FROM r1), 'task_id from the header');
SELECT is((SELECT array_agg(headers->>'x-pgtq-status' ORDER BY msg_id) FROM pgmq.q_rd WHERE msg_id IN (1, 2)),
    ARRAY['processing', 'processing'], 'claimed tasks are processing');
SELECT ok((SELECT bool_and(vt BETWEEN clock_timestamp() + interval '29 s' AND clock_timestamp() + interval '31 s'
                           AND read_ct = 1 AND last_read_at IS NOT NULL) FROM pgmq.q_rd WHERE msg_id IN (1, 2)),
    'lease = now + lease_seconds, read_ct 1, last_read_at set');
SELECT ok((SELECT bool_and(r1.vt = q.vt) FROM r1 JOIN pgmq.q_rd q USING (msg_id)), 'returned vt is the lease end');

-- LIFO claim skips leased and delayed tasks
SELECT results_eq($$SELECT msg_id FROM pgtq.read('rd', 2, 30, lifo => true)$$, ARRAY[5, 4]::bigint[],
    'LIFO read claims the newest visible tasks (the delayed task 6 is not visible)');
SELECT results_eq($$SELECT msg_id FROM pgtq.read('rd', 10, 30)$$, ARRAY[3]::bigint[], 'only task 3 is left visible');
SELECT is((SELECT count(*) FROM pgtq.read('rd', 10, 30)), 0::bigint, 'nothing visible: empty result');

-- lease expiry: another reader gets attempt 2; the first holder's calls are stale
UPDATE pgmq.q_rd SET vt = clock_timestamp() - interval '1 second' WHERE msg_id = 1;
SELECT results_eq($$SELECT msg_id, attempt FROM pgtq.read('rd', 1, 30)$$, $$VALUES (1::bigint, 2)$$,
    'an expired lease is claimed again with attempt 2');
SELECT is(pgtq.complete('rd', 1, 1), false, 'complete with the stale attempt returns false');
SELECT is(pgtq.extend_lease('rd', 1, 1, 100), false, 'extend_lease with the stale attempt returns false');
SELECT is(pgtq.release('rd', 1, 1), false, 'release with the stale attempt returns false');
SELECT is((SELECT read_ct FROM pgmq.q_rd WHERE msg_id = 1), 2, 'stale calls changed nothing');

-- extend_lease
SELECT is(pgtq.extend_lease('rd', 1, 2, 600), true, 'extend_lease by the holder');
SELECT ok((SELECT vt > clock_timestamp() + interval '590 s' FROM pgmq.q_rd WHERE msg_id = 1), 'lease is now + 600 s');
SELECT throws_ok($$SELECT pgtq.extend_lease('rd', 1, 2, 0)$$, 'PQ003', NULL, 'lease_seconds 0: PQ003');
UPDATE pgmq.q_rd SET vt = clock_timestamp() - interval '1 s' WHERE msg_id = 1;
SELECT is(pgtq.extend_lease('rd', 1, 2, 600), false, 'an expired lease cannot be revived (its slot was freed)');
UPDATE pgmq.q_rd SET vt = clock_timestamp() + interval '600 s' WHERE msg_id = 1;

-- complete
SELECT is(pgtq.complete('rd', 1, 2), true, 'complete by the holder');
SELECT is(pgtq.complete('rd', 1, 2), false, 'a second complete returns false');
SELECT ok(NOT EXISTS (SELECT 1 FROM pgmq.q_rd WHERE msg_id = 1), 'completed task left the queue');
SELECT is((SELECT headers->>'x-pgtq-status' FROM pgmq.a_rd WHERE msg_id = 1), 'completed', 'archived with status completed');
SELECT is((SELECT read_ct FROM pgmq.a_rd WHERE msg_id = 1), 2, 'archive keeps read_ct');
SELECT is(pgtq.complete('rd', 6, 0), false, 'a task never read cannot be completed');
SELECT results_eq($$SELECT * FROM pgtq.complete('rd', ARRAY[2, 3, 4, 999]::bigint[], ARRAY[1, 1, 7, 1])$$,
    ARRAY[2, 3]::bigint[], 'array complete returns the ids it completed (4 had a wrong attempt, 999 is unknown)');
SELECT is((SELECT count(*) FROM pgmq.a_rd WHERE msg_id IN (2, 3) AND headers->>'x-pgtq-status' = 'completed'), 2::bigint,
    'both archived as completed');
SELECT throws_ok($$SELECT * FROM pgtq.complete('rd', ARRAY[4, 5]::bigint[], ARRAY[1])$$, 'PQ003', NULL,
    'array lengths differ: PQ003');
SELECT throws_ok($$SELECT pgtq.complete('rd', NULL::bigint, 1)$$, 'PQ003', NULL, 'NULL msg_id: PQ003');

-- release: visible now, attempt not counted, status queued
SELECT is(pgtq.release('rd', 4, 1), true, 'release by the holder');
SELECT ok((SELECT vt <= clock_timestamp() AND read_ct = 0 AND headers->>'x-pgtq-status' = 'queued'
           FROM pgmq.q_rd WHERE msg_id = 4), 'released: visible, read_ct back to 0, status queued');
SELECT results_eq($$SELECT msg_id, attempt FROM pgtq.read('rd', 1, 30)$$, $$VALUES (4::bigint, 1)$$,
    'the next read presents attempt 1 again');
SELECT is(pgtq.complete('rd', 4, 1), true, 'and completes with it');

-- validation
SELECT throws_ok($$SELECT * FROM pgtq.read('rd', 0, 30)$$, 'PQ003', 'pgtq.read: qty must be between 1 and 10000, got 0', 'qty 0: PQ003');
SELECT throws_ok($$SELECT * FROM pgtq.read('rd', NULL, 30)$$, 'PQ003', NULL, 'qty NULL: PQ003');
SELECT throws_ok($$SELECT * FROM pgtq.read('rd', 1, 0)$$, 'PQ003', 'pgtq.read: lease_seconds must be >= 1, got 0', 'lease 0: PQ003');
SELECT throws_ok($$SELECT * FROM pgtq.read('rd', 1, 30, NULL)$$, 'PQ003', NULL, 'lifo NULL: PQ003');
SELECT throws_ok($$SELECT * FROM pgtq.read('rd', 1, 30, concurrency_limit => 0)$$, 'PQ003', NULL, 'limit 0: PQ003');
SELECT throws_ok($$SELECT * FROM pgtq.read('rd', 1, 30, max_lost_leases => 0)$$, 'PQ003', NULL, 'max_lost_leases 0: PQ003');
SELECT throws_ok($$SELECT * FROM pgtq.read('nope', 1, 30)$$, 'PQ001', NULL, 'unknown queue: PQ001');
SELECT throws_ok($$SELECT * FROM pgtq.read(NULL, 1, 30)$$, 'PQ002', NULL, 'NULL queue name: PQ002');

-- concurrency limit arithmetic: 5 tasks, limit 3
SELECT pgtq.create_queue('lim');
SELECT pgtq.enqueue_batch('lim', array_fill('{}'::jsonb, ARRAY[6]));
SELECT is((SELECT count(*) FROM pgtq.read('lim', 2, 30, concurrency_limit => 3)), 2::bigint, 'limit 3, 0 in flight: qty 2 claims 2');
SELECT is((SELECT count(*) FROM pgtq.read('lim', 5, 30, concurrency_limit => 3)), 1::bigint, '2 in flight: only 1 more');
SELECT is((SELECT count(*) FROM pgtq.read('lim', 5, 30, concurrency_limit => 3)), 0::bigint, 'at the limit: nothing');
SELECT is((SELECT count(*) FROM pgtq.read('lim', 5, 30, concurrency_limit => 4)), 1::bigint, 'a higher limit allows one more');
SELECT pgtq.complete('lim', 1, 1);
SELECT is((SELECT count(*) FROM pgtq.read('lim', 5, 30, concurrency_limit => 4)), 1::bigint, 'a completed task frees a slot');
UPDATE pgmq.q_lim SET vt = clock_timestamp() - interval '1 s' WHERE msg_id = 2;
SELECT is((SELECT count(*) FROM pgtq.read('lim', 1, 30, concurrency_limit => 4)), 1::bigint,
    'an expired lease does not count: its task is claimed again');
SELECT is((SELECT processing FROM pgtq.stats('lim')), 4::bigint, 'stats: 4 processing, the limit');
SELECT pgtq.fail('lim', 3, 1, 'x', max_retries => 1, retry_delay => 60);
SELECT is((SELECT count(*) FROM pgtq.read('lim', 5, 30, concurrency_limit => 4)), 1::bigint, 'a retrying task does not count');

-- max_lost_leases: a task whose leases keep expiring (its worker never records an outcome) is dead-lettered
-- instead of delivered once its lost leases reach the budget
SELECT pgtq.create_queue('ma');
SELECT pgtq.enqueue('ma', '{"m":1}');
SELECT pgtq.enqueue('ma', '{"m":2}');
SELECT is((SELECT attempt FROM pgtq.read('ma', 1, 30, max_lost_leases => 2)), 1, 'attempt 1 delivered');
UPDATE pgmq.q_ma SET vt = clock_timestamp() - interval '1 s' WHERE msg_id = 1;
SELECT is((SELECT attempt FROM pgtq.read('ma', 1, 30, max_lost_leases => 2)), 2, 'attempt 2 delivered');
UPDATE pgmq.q_ma SET vt = clock_timestamp() - interval '1 s' WHERE msg_id = 1;
SELECT results_eq($$SELECT msg_id, attempt FROM pgtq.read('ma', 1, 30, max_lost_leases => 2)$$, $$VALUES (2::bigint, 1)$$,
    'its second lost lease reaches max_lost_leases 2: task 1 is dead-lettered and the read returns task 2 instead');
SELECT is((SELECT headers->>'x-pgtq-status' FROM pgmq.a_ma WHERE msg_id = 1), 'dead_lettered', 'task 1 archived as dead_lettered');
SELECT results_eq($$SELECT message->'msg_id', message->'errors', headers->'x-pgtq-lost-leases',
                           jsonb_path_query_array(headers->'x-pgtq-error-log', '$[*].attempt'),
                           jsonb_path_query_array(headers->'x-pgtq-error-log', '$[*].kind')
                    FROM pgmq.q_ma_dlq$$,
    $$VALUES ('1'::jsonb, '["lease expired", "lease expired"]'::jsonb, '2'::jsonb, '[1, 2]'::jsonb,
              '["lease_expired", "lease_expired"]'::jsonb)$$,
    'DLQ entry records both lost leases (attempts 1 and 2), one lease_expired entry each');

-- lost leases do not use the retry budget: with max_retries 0 a task that lost a lease still gets its one
-- failure before the DLQ, and the claim after a lost lease counts it
SELECT pgtq.create_queue('ll');
SELECT pgtq.enqueue('ll', '{"l":1}');
SELECT is((SELECT attempt FROM pgtq.read('ll', 1, 30)), 1, 'attempt 1 delivered');
UPDATE pgmq.q_ll SET vt = clock_timestamp() - interval '1 s';
SELECT results_eq($$SELECT attempt, headers->'x-pgtq-lost-leases', headers->'x-pgtq-errors' FROM pgtq.read('ll', 1, 30)$$,
    $$VALUES (2, '1'::jsonb, '["lease expired"]'::jsonb)$$, 'attempt 2 delivered with its lost lease counted');
SELECT is(pgtq.fail('ll', 1, 2, 'real failure', true, 1, 0), 'retrying',
    'max_retries 1: the first failure (attempt 2, after a lost lease) retries');
SELECT is((SELECT attempt FROM pgtq.read('ll', 1, 30)), 3, 'attempt 3 delivered');
SELECT is(pgtq.fail('ll', 1, 3, 'second failure', true, 1, 0), 'dead_lettered',
    'the second failure exhausts max_retries 1 (the lost lease did not count)');
SELECT is((SELECT jsonb_path_query_array(headers->'x-pgtq-error-log', '$[*].kind') FROM pgmq.q_ll_dlq),
    '["lease_expired", "failure", "failure"]'::jsonb, 'the error log tells lost leases from failures');
SELECT throws_ok($$SELECT * FROM pgtq.read('ll', 10001, 30)$$, 'PQ003',
    'pgtq.read: qty must be between 1 and 10000, got 10001', 'qty over the maximum: PQ003');

-- tasks sent with plain pgmq.send get a task id on their first read
SELECT pgmq.send('ma', '{"plain":true}');
SELECT ok((SELECT task_id IS NOT NULL AND headers->>'x-pgtq-status' = 'processing' FROM pgtq.read('ma', 1, 30)),
    'a plain pgmq.send message is claimed with a task id and status');

SELECT * FROM finish();
ROLLBACK;
