-- pgtq.read(queue_name text, qty integer, lease_seconds integer, lifo boolean DEFAULT false,
--           grouped boolean DEFAULT false, concurrency_limit integer DEFAULT NULL,
--           max_lost_leases integer DEFAULT NULL) RETURNS SETOF pgtq.task
--
-- Claims up to qty visible tasks (vt <= clock_timestamp()) for lease_seconds seconds: sets vt = now + lease,
-- read_ct + 1, last_read_at, x-pgtq-status 'processing' (and an x-pgtq-task-id if a plain pgmq.send left
-- none). Returns them with attempt = read_ct, the lease token for complete/fail/extend_lease/release.
-- Order: FIFO by msg_id ascending, LIFO (lifo => true) descending.
--
-- concurrency_limit: the number of the queue's tasks in 'processing' with a live lease never exceeds it; the
--   count and the claim happen under a per-queue transaction advisory lock (key namespaced 'pgtq.limit'), so
--   racing readers serialise and nothing is claimed beyond the limit. Needs READ COMMITTED (each statement
--   must see the previous lock holder's commit): other isolation levels raise PQ003.
-- max_lost_leases: the lost-lease budget. A visible task still in status 'processing' lost its lease (its
--   worker crashed or stalled and recorded no outcome): the read counts it in x-pgtq-lost-leases and logs a
--   'lease expired' entry of kind lease_expired in x-pgtq-error-log (and the string in x-pgtq-errors). When
--   its lost leases reach max_lost_leases the task is not delivered again but dead-lettered (DLQ, or archived
--   as 'failed' without one), exactly as a final pgtq.fail. NULL: no limit. Lost leases do not use the retry
--   budget of pgtq.fail (max_retries counts recorded failures only), so a crash never dead-letters a task
--   that has retries left, nor a task under the defaults.
-- qty is at most 10000 (a grouped read looks at 3 * qty + 16 candidates; larger batches are no faster).
-- grouped: at most one task per group (x-pgmq-group) is processing or waiting to retry, across all readers,
--   and at most one per group per read; ungrouped tasks are each their own group. Per active group there is
--   one pgtq.groups row; a group is busy while busy_msg_id is set. Candidates, never a backlog scan:
--     * idle groups' heads: a group's oldest (FIFO) or newest (LIFO) visible task, one index probe per group
--       (a delayed task is not visible, so it does not hold its group back). FIFO walks idle groups in
--       head_msg_id order and stops after 3 * qty + 16 heads (O(qty)); LIFO takes the heads from a window
--       of the newest visible grouped tasks and probes every idle group only when that window is crowded
--       by busy groups (see below);
--     * each busy group whose own busy task is visible again (lease expired, retry due): redelivered first,
--       since nothing else of that group may start;
--     * busy groups whose busy task was removed behind pgtq's back (pgmq.delete): their head, to heal them;
--     * visible ungrouped tasks.
--   The best 3 * qty + 16 by msg_id are kept; their group rows are locked FOR NO KEY UPDATE SKIP LOCKED
--   re-checking that the busy state is still what the candidate saw, their tasks FOR UPDATE SKIP LOCKED
--   re-checking visibility, and the first qty that survived (in candidate order) are claimed, setting
--   busy_msg_id. Busy state only changes under the group row lock, so two claimers can never both start a
--   task of one group. Group rows are never deleted under a claimer (see pgtq._after_insert for inserters).
--   Grouped reads assume all reads of the queue are grouped (a non-grouped read does not mark groups busy).
-- Known cost (as in pgmq): a FIFO/LIFO walk steps over invisible rows (delayed tasks, live leases) that sit
-- ahead of the first visible ones, so 100k delayed tasks at the head of a queue cost a 100k-row index walk.
-- paused: while the queue is paused (pgtq.pause) a read returns nothing.
-- Raises PQ001, PQ002, PQ003 (qty < 1 or > 10000, lease_seconds, concurrency_limit or max_lost_leases < 1 or
-- NULL where required; lifo/grouped NULL; concurrency_limit outside READ COMMITTED).

CREATE OR REPLACE FUNCTION pgtq.read(
    queue_name text,
    qty integer,
    lease_seconds integer,
    lifo boolean DEFAULT false,
    grouped boolean DEFAULT false,
    concurrency_limit integer DEFAULT NULL,
    max_lost_leases integer DEFAULT NULL
)
RETURNS SETOF pgtq.task
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- The candidate query's estimated cost can cross jit_above_cost; compiling it costs far more than running it.
SET jit = off
AS $$
DECLARE
    v record;
    v_need integer := qty;
    v_in_flight bigint;
    v_ok bigint[];
    v_dead bigint[];
    v_id bigint;
    v_read_ct integer;
    v_headers jsonb;
    v_keys text[];
    v_expected bigint[];
    v_ids bigint[];
    v_locked_keys text[];
    v_locked_ids bigint[];
    v_lost integer[];
    v_claim_ids bigint[];
    v_claim_keys text[];
    v_pos integer;
    v_scanned bigint;
    v_lifo_keys text[];
    v_lifo_ids bigint[];
    v_plain text;
    v_task pgtq.task;
BEGIN
    IF qty IS NULL OR qty < 1 OR qty > 10000 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('pgtq.read: qty must be between 1 and 10000, got %s', coalesce(qty::text, 'NULL'));
    END IF;
    IF lease_seconds IS NULL OR lease_seconds < 1 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('pgtq.read: lease_seconds must be >= 1, got %s', coalesce(lease_seconds::text, 'NULL'));
    END IF;
    IF lifo IS NULL OR grouped IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('pgtq.read: lifo and grouped must not be NULL, got lifo=%s grouped=%s',
                             coalesce(lifo::text, 'NULL'), coalesce(grouped::text, 'NULL'));
    END IF;
    IF concurrency_limit < 1 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('pgtq.read: concurrency_limit must be >= 1 or NULL, got %s', concurrency_limit);
    END IF;
    IF max_lost_leases < 1 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('pgtq.read: max_lost_leases must be >= 1 or NULL, got %s', max_lost_leases);
    END IF;

    -- A plain read without a limit starts with its claim statement, which requests its table locks before
    -- any row lock: no up-front table lock needed (see pgtq._queue). Grouped reads lock group rows first and
    -- limited reads hold the advisory lock first, so they take it.
    SELECT * INTO v FROM pgtq._queue('pgtq.read', queue_name, for_write => grouped OR concurrency_limit IS NOT NULL);

    -- Paused (pgtq.pause, 225_pause.sql): claim nothing; tasks already claimed run on.
    IF v.paused THEN
        RETURN;
    END IF;

    IF concurrency_limit IS NOT NULL THEN
        IF current_setting('transaction_isolation') <> 'read committed' THEN
            RAISE EXCEPTION USING
                ERRCODE = 'PQ003',
                MESSAGE = format('pgtq.read: concurrency_limit needs READ COMMITTED, the transaction is %s',
                                 current_setting('transaction_isolation'));
        END IF;
        -- Held until commit: the next reader counts only after our claims are visible. The count runs in a
        -- later statement (new snapshot), so it sees every claim committed by earlier lock holders.
        PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('pgtq.limit'), pg_catalog.hashtext(v.queue));
        -- A plain read counts inside its claim statement (below); a grouped read counts here. The IN (...)
        -- clause matches the partial index, so this counts in-flight tasks only; the time is a parameter so
        -- that vt is an index condition (clock_timestamp() in the WHERE clause is not). Taken before the
        -- count, so a lease expiring meanwhile still counts: the limit errs on the safe side.
        IF grouped THEN
            EXECUTE format('SELECT pgtq.%I($1)', pgtq._statement(v.queue_id, 'in_flight'))
            INTO v_in_flight USING clock_timestamp();
            v_need := least(qty, concurrency_limit - v_in_flight);
            IF v_need <= 0 THEN
                RETURN;
            END IF;
        END IF;
    END IF;

    IF NOT grouped THEN
        -- One statement per round (sql/statements/claim.sql): lock the next visible tasks (SKIP LOCKED),
        -- claim those within the lost-lease budget, and return the others (task_id NULL, still locked by us)
        -- to be dead-lettered below. With a concurrency limit the LIMIT also counts the queue's
        -- live leases: the count and the claim share one snapshot taken after the advisory lock (one
        -- statement under the lock instead of three; the lock itself must stay until commit, so that the
        -- next reader's count sees our claims). The claim's id list is = ANY (ARRAY(...)), not a join with
        -- the locked rows: the planner cannot know a limit computed in the statement, guesses 10% of the
        -- table and would merge-join along the whole pkey.
        v_plain := pgtq._statement(v.queue_id, 'claim');
        LOOP
            v_dead := '{}';
            FOR v_task IN EXECUTE format('SELECT * FROM pgtq.%I($1, $2, $3, $4, $5, $6)', v_plain)
                USING v_need, lease_seconds, max_lost_leases, concurrency_limit, lifo, clock_timestamp()
            LOOP
                IF v_task.task_id IS NULL THEN
                    v_dead := v_dead || v_task.msg_id;
                    CONTINUE;
                END IF;
                RETURN NEXT v_task;
                v_need := v_need - 1;
            END LOOP;
            EXIT WHEN cardinality(v_dead) = 0;
            FOREACH v_id IN ARRAY v_dead LOOP
                EXECUTE format('SELECT read_ct, headers FROM pgmq.%I WHERE msg_id = $1', v.q_table)
                INTO v_read_ct, v_headers USING v_id;
                PERFORM pgtq._final_failure(v.queue, v_id, pgtq._lease_lost(v_headers, v_read_ct));
            END LOOP;
            -- Dead-lettered tasks did not fill the batch: look for more.
            EXIT WHEN v_need <= 0;
        END LOOP;
        RETURN;
    END IF;

    -- LIFO idle-group heads. A group's LIFO head is its newest visible task, which no stored hint can track
    -- without inserters locking the group row. Instead scan the newest visible grouped tasks (a window of
    -- 20 * (3 * qty + 16) rows, pkey backwards): the first task met of each idle group is that group's head, and
    -- the first K idle groups met are exactly the K newest heads. Only when the window is full but holds fewer
    -- than K idle groups (most recent work belongs to busy groups) probe every idle group: O(idle groups).
    IF lifo THEN
        EXECUTE format('SELECT * FROM pgtq.%I($1, $2)', pgtq._statement(v.queue_id, 'lifo_heads'))
        INTO v_scanned, v_lifo_keys, v_lifo_ids
        USING v.queue, v_need * 3 + 16;
    END IF;

    -- 1. The best candidates, at most 3 * qty + 16 (room for concurrent readers that take some below).
    --    Idle groups' heads: FIFO walks idle groups by their head_msg_id hint (index order) and stops after
    --    enough heads: O(qty), not O(idle groups); LIFO takes the heads found above.
    EXECUTE format('SELECT * FROM pgtq.%I($1, $2, $3, $4, $5)', pgtq._statement(v.queue_id, 'candidates'))
    INTO v_keys, v_expected, v_ids
    USING v.queue, v_need * 3 + 16, lifo, v_lifo_keys, v_lifo_ids;
    IF cardinality(v_ids) = 0 THEN
        RETURN;
    END IF;

    -- 2. Lock their group rows, re-checking that each group's busy state is still what the candidate saw: a
    --    concurrent claimer that took the group first either still holds the row (SKIP LOCKED skips it) or
    --    committed a new busy_msg_id (the re-check on the latest row version fails). busy_msg_id only changes
    --    under this lock, so no two readers can both start a task of one group. In candidate order and at
    --    most v_need rows (LockRows sits under the LIMIT, so only returned rows are locked): a concurrent
    --    reader with the same candidates skips ours and takes the next ones instead of coming back short.
    SELECT coalesce(array_agg(l.group_key), '{}') INTO v_locked_keys
    FROM (
        SELECT g.group_key
        FROM pgtq.groups g
        JOIN unnest(v_keys, v_expected) WITH ORDINALITY AS c (k, e, ord) ON g.group_key = c.k
        -- (= ANY: groups_pkey probes; the join alone let the planner hash-join every group row.)
        WHERE g.queue_name = v.queue AND g.group_key = ANY (v_keys) AND c.k IS NOT NULL
          AND g.busy_msg_id IS NOT DISTINCT FROM c.e
        ORDER BY c.ord
        LIMIT v_need
        FOR NO KEY UPDATE OF g SKIP LOCKED
    ) l;

    -- 3. Lock the tasks of the locked groups and the ungrouped candidates, re-checking visibility; again in
    --    candidate order and at most v_need.
    SELECT coalesce(array_agg(c.id ORDER BY c.ord), '{}') INTO v_ok
    FROM unnest(v_keys, v_ids) WITH ORDINALITY AS c (k, id, ord)
    WHERE c.k IS NULL OR c.k = ANY (v_locked_keys);
    EXECUTE format('SELECT * FROM pgtq.%I($1, $2)', pgtq._statement(v.queue_id, 'lock_ids'))
    INTO v_locked_ids, v_lost USING v_ok, v_need;

    -- 4. In candidate order, the first v_need locked tasks are claimed; tasks whose lost leases reach
    --    max_lost_leases are dead-lettered instead (freeing their group; its next task waits for the next
    --    read).
    v_claim_ids := '{}';
    v_claim_keys := '{}';
    FOR i IN 1 .. cardinality(v_ids) LOOP
        EXIT WHEN cardinality(v_claim_ids) >= v_need;
        v_pos := array_position(v_locked_ids, v_ids[i]);
        CONTINUE WHEN v_pos IS NULL;
        IF v_lost[v_pos] >= max_lost_leases THEN
            EXECUTE format('SELECT read_ct, headers FROM pgmq.%I WHERE msg_id = $1', v.q_table)
            INTO v_read_ct, v_headers USING v_ids[i];
            PERFORM pgtq._final_failure(v.queue, v_ids[i], pgtq._lease_lost(v_headers, v_read_ct));
            CONTINUE;
        END IF;
        v_claim_ids := v_claim_ids || v_ids[i];
        v_claim_keys := v_claim_keys || v_keys[i];
    END LOOP;
    IF cardinality(v_claim_ids) = 0 THEN
        RETURN;
    END IF;

    UPDATE pgtq.groups g SET busy_msg_id = c.id
    FROM unnest(v_claim_keys, v_claim_ids) AS c (k, id)
    WHERE g.queue_name = v.queue AND g.group_key = ANY (v_claim_keys) AND g.group_key = c.k;

    RETURN QUERY EXECUTE format('SELECT * FROM pgtq.%I($1, $2, $3)', pgtq._statement(v.queue_id, 'claim_ids'))
    USING v_claim_ids, lease_seconds, lifo;
END;
$$;
