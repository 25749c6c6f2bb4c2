-- Internal helpers of schema pgtq (not API; no role may execute them directly). They run inside the
-- SECURITY DEFINER public functions, whose search_path is pinned to pg_catalog, so every object here is
-- schema-qualified.
--
-- pgtq._check_name(fn text, queue_name text) RETURNS void
--   Raises PQ002 (naming fn and the value) for a name that breaks the queue-name rule
--   (pgmq._queue_name_problem in 101_validate_queue_name.sql: NULL, empty, over 47 bytes, $ ; -- ' or control
--   characters).
--
-- pgtq._queue(fn text, queue_name text, for_write boolean DEFAULT true, may_register boolean DEFAULT true)
--   -> (queue, queue_id, dlq_name, q_table, a_table, dlq_q_table, dlq_a_table, paused)
--   Looks a task queue up. A pgmq queue without a pgtq.queues row (made with plain pgmq.create, the seed's
--   way) is registered on first use (DLQ = '<name>_dlq' when that pgmq queue exists) unless may_register is
--   false: producers' calls (enqueue, enqueue_batch) pass false, so a producer cannot make pgtq build
--   indexes and a trigger on any pgmq queue; they get PQ001 for a queue that a worker read or an admin's
--   create_queue has not registered yet. With for_write, takes
--   ROW EXCLUSIVE on the queue table up front (see the comment there). Callers whose first statement on the
--   queue table is itself the write that takes the row locks (its table lock is requested when the statement
--   starts, before any row lock) and that take no other row locks before it pass false: the up-front LOCK
--   TABLE is an EXECUTE of its own, ~70 us on every call of a hot path. Raises PQ002 (bad name),
--   PQ001 (no such pgmq queue), PQ003 (the name is the dead-letter queue of another task queue).
--
-- pgtq._setup(queue_id bigint) RETURNS void
--   Installs what pgtq needs on the queue's table pgmq.q_<name>: indexes (group head probe, dedupe key,
--   busy/limit, ungrouped tasks), named after the queue id ('pgtq_<id>_<purpose>') and recorded in
--   pgtq.queue_indexes, the queue's statement functions (215_queue_statements.sql), the AFTER INSERT trigger
--   (group rows + NOTIFY) and backfills group rows. Idempotent: it looks objects up by their record (indexes,
--   statements) or by their exact name on the queue's own table (the trigger), never by a name pattern.
--
-- pgtq._after_insert() trigger (statement level, transition table new_rows, TG_ARGV[0] = queue name)
--   Makes sure a pgtq.groups row exists (and stays) for every group of the inserted rows, and sends NOTIFY on
--   pgmq's channel "pgmq.q_<name>.INSERT" so idle workers wake up, also for plain pgmq.send.
--
-- pgtq._groups_done(queue_name text, queue_id bigint, group_keys text[], msg_ids bigint[]) RETURNS void
--   Called after the tasks msg_ids[i] (of group group_keys[i]; NULL keys are skipped) left the queue or were
--   released: frees each group that its task held (and refreshes its head_msg_id ordering hint), and deletes
--   the group rows of groups left without tasks (race-free, see the comments above pgtq._after_insert).
--   Set-based: a constant number of statements per call, whatever the number of tasks.
--
-- pgtq._group_done(queue_name text, queue_id bigint, group_key text, msg_id bigint) RETURNS void
--   The same for one task (nothing for an ungrouped one).
--
-- pgtq._append_error(headers jsonb, attempt integer, error text, kind text) RETURNS jsonb
--   headers with the error string appended to x-pgtq-errors (the seed's format: a list of strings, so that
--   the seed's Python workers and ours share queues and DLQs; entries of the earlier object format are turned
--   into their strings) and {attempt, error, at, kind} to x-pgtq-error-log (kind 'failure' or
--   'lease_expired'); the last 20 of each are kept.
--
-- pgtq._lost_leases(headers jsonb) RETURNS integer
--   x-pgtq-lost-leases: how many of the task's leases expired with no recorded outcome (0 when absent).
--
-- pgtq._lease_lost(headers jsonb, attempt integer) RETURNS jsonb
--   headers of a task whose lease for attempt expired with no recorded outcome: x-pgtq-lost-leases + 1 and a
--   'lease expired' entry of kind lease_expired.
--
-- pgtq._task_headers(fn text, headers jsonb, group_key text, dedupe_key text) RETURNS jsonb
--   Headers of a new task: caller headers (must be an object without x-pgtq-* keys, else PQ003) plus
--   x-pgtq-task-id, x-pgtq-status 'queued', x-pgmq-group and x-pgtq-dedupe-key. Group and dedupe keys are
--   limited to 1024 bytes (pgtq._check_key; PQ003 naming the limit), well inside the index row limit.
--
-- pgtq._check_key(fn text, what text, key text) RETURNS void
--   Raises PQ003 when key is longer than 1024 bytes.
--
-- pgtq._new_task_headers(headers jsonb, group_key text, dedupe_key text) RETURNS jsonb
--   The same without the checks (for headers already validated).
--
-- pgtq._insert_task(q_table text, payload jsonb, headers jsonb, delay integer) RETURNS bigint
--   Inserts one task; with an x-pgtq-dedupe-key header already held by a task in the queue it inserts nothing
--   and returns that task's msg_id (race-free through the unique index). On a partitioned queue table
--   (pgmq.create_partitioned), which cannot have that unique index, the key is enforced by a transaction
--   advisory lock on (queue table, key) followed by a lookup in a new statement, which sees every earlier
--   holder of the lock that committed; that needs READ COMMITTED (a transaction snapshot taken before the
--   other holder committed would miss it), so with a dedupe key on a partitioned queue any other isolation
--   level raises PQ003.
--
-- pgtq._final_failure(queue_name text, msg_id bigint, headers jsonb) RETURNS text
--   Removes a (locked) task for good: with a DLQ, copies it there and archives it as 'dead_lettered';
--   without, archives it as 'failed'. Returns 'dead_lettered' or 'failed'. headers = the task's headers with
--   the latest error already appended.
--
-- pgtq._archived_status(fn text, queue text, a_table text, msg_id bigint) RETURNS text
--   The x-pgtq-status of a task that left the queue (its archive row), for operations that found it gone.
--   Raises PQ005 (naming fn, the message and the queue) when the archive has no such row either.
--
-- pgtq._notify(q_table text) RETURNS void
--   NOTIFY on pgmq's insert channel of the queue (empty payload), sent at commit.

-- An earlier two-argument _queue would make calls ambiguous next to the current one.
DO $$
BEGIN
    IF pg_catalog.to_regprocedure('pgtq._queue(text,text)') IS NOT NULL THEN
        DROP FUNCTION pgtq._queue(text, text);
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION pgtq._check_name(fn text, queue_name text)
RETURNS void
LANGUAGE plpgsql
IMMUTABLE
AS $$
DECLARE
    v_problem text := pgmq._queue_name_problem(queue_name);
BEGIN
    IF v_problem IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'PQ002', MESSAGE = fn || ': ' || v_problem;
    END IF;
END;
$$;

CREATE OR REPLACE FUNCTION pgtq._check_key(fn text, what text, key text)
RETURNS void
LANGUAGE plpgsql
IMMUTABLE
AS $$
BEGIN
    IF octet_length(key) > 1024 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('%s: %s is %s bytes long, the maximum is 1024 bytes', fn, what, octet_length(key));
    END IF;
END;
$$;

CREATE OR REPLACE FUNCTION pgtq._archived_status(fn text, queue text, a_table text, msg_id bigint)
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    v_status text;
    v_n integer;
BEGIN
    EXECUTE format('SELECT headers->>''x-pgtq-status'' FROM pgmq.%I WHERE msg_id = $1', a_table)
    INTO v_status USING msg_id;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    IF v_n = 0 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ005',
            MESSAGE = format('%s: message %s not found in queue %L or its archive', fn, msg_id, queue);
    END IF;
    RETURN v_status;
END;
$$;

CREATE OR REPLACE FUNCTION pgtq._notify(q_table text)
RETURNS void
LANGUAGE sql
AS $$
    SELECT pg_catalog.pg_notify('pgmq.' || q_table || '.INSERT', NULL);
$$;

CREATE OR REPLACE FUNCTION pgtq._queue(
    fn text,
    queue_name text,
    for_write boolean DEFAULT true,
    may_register boolean DEFAULT true,
    OUT queue text,
    OUT queue_id bigint,
    OUT dlq_name text,
    OUT q_table text,
    OUT a_table text,
    OUT dlq_q_table text,
    OUT dlq_a_table text,
    -- The queue is paused (pgtq.pause): read from the same lookup, so pgtq.read pays no query for it.
    OUT paused boolean
)
LANGUAGE plpgsql
AS $$
BEGIN
    -- Fast path: one primary-key lookup.
    SELECT q.queue_name, q.queue_id, q.dlq_name, q.paused_at IS NOT NULL INTO queue, queue_id, dlq_name, paused
    FROM pgtq.queues q WHERE q.queue_name = _queue.queue_name;

    IF NOT FOUND THEN
        PERFORM pgtq._check_name(fn, _queue.queue_name);
        IF NOT EXISTS (SELECT 1 FROM pgmq.meta m WHERE m.queue_name = _queue.queue_name) THEN
            RAISE EXCEPTION USING
                ERRCODE = 'PQ001',
                MESSAGE = format('%s: queue %L does not exist', fn, _queue.queue_name),
                HINT = 'Create it with pgtq.create_queue().';
        END IF;
        -- Registering a DLQ as a task queue would give it the unique dedupe index, and two dead-lettered
        -- copies of tasks that shared a dedupe key at different times would then collide.
        IF EXISTS (SELECT 1 FROM pgtq.queues q WHERE q.dlq_name = _queue.queue_name) THEN
            RAISE EXCEPTION USING
                ERRCODE = 'PQ003',
                MESSAGE = format('%s: %L is a dead-letter queue, not a task queue', fn, _queue.queue_name);
        END IF;
        IF NOT may_register THEN
            RAISE EXCEPTION USING
                ERRCODE = 'PQ001',
                MESSAGE = format('%s: queue %L is a pgmq queue but not a registered task queue', fn, _queue.queue_name),
                HINT = 'An admin registers it with pgtq.create_queue(); a worker''s first read also does.';
        END IF;
        -- Serialise registration with create_queue/drop_queue of the same name (namespaced key).
        PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('pgtq.queue'),
                                                 pg_catalog.hashtext(_queue.queue_name));
        -- Re-check under the lock (new statement, new snapshot): a concurrent first caller may have registered
        -- it meanwhile, and running the DDL again would queue a table lock behind readers and completers that
        -- hold group row locks (a deadlock cycle through the lock queue).
        IF NOT EXISTS (SELECT 1 FROM pgtq.queues q WHERE q.queue_name = _queue.queue_name) THEN
            INSERT INTO pgtq.queues AS q (queue_name, dlq_name)
            SELECT _queue.queue_name,
                   CASE WHEN EXISTS (SELECT 1 FROM pgmq.meta m WHERE m.queue_name = _queue.queue_name || '_dlq')
                             AND NOT EXISTS (SELECT 1 FROM pgtq.queues q WHERE q.queue_name = _queue.queue_name || '_dlq')
                        THEN _queue.queue_name || '_dlq' END
            RETURNING q.queue_id INTO queue_id;
            PERFORM pgtq._setup(queue_id);
        END IF;
        SELECT q.queue_name, q.queue_id, q.dlq_name, q.paused_at IS NOT NULL INTO queue, queue_id, dlq_name, paused
        FROM pgtq.queues q WHERE q.queue_name = _queue.queue_name;
    END IF;

    -- What pgmq.format_table_name returns, without its per-call validation: every name in pgtq.queues passed
    -- the name rule when it was registered, and this runs on every call of every function.
    q_table := 'q_' || lower(queue);
    a_table := 'a_' || lower(queue);
    -- Take the table lock every caller's UPDATE/DELETE needs now, before any row lock: a lock requested later
    -- would queue behind a waiting DDL (CREATE INDEX/TRIGGER, pgmq.create's IF NOT EXISTS) while we hold row
    -- locks that the DDL's blockers wait for, which is a deadlock cycle through the lock queue.
    -- (Not for read-only callers, which may run in read-only transactions, where this lock is refused.)
    IF for_write THEN
        EXECUTE format('LOCK TABLE pgmq.%I IN ROW EXCLUSIVE MODE', q_table);
    END IF;
    IF dlq_name IS NOT NULL THEN
        dlq_q_table := 'q_' || lower(dlq_name);
        dlq_a_table := 'a_' || lower(dlq_name);
    END IF;
END;
$$;

CREATE OR REPLACE FUNCTION pgtq._setup(queue_id bigint)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    v_queue text;
    v_q text;
    v_rel regclass;
    v_ix record;
    v_name text;
    v_partitioned boolean;
    v_has_id_index boolean;
BEGIN
    SELECT q.queue_name INTO STRICT v_queue FROM pgtq.queues q WHERE q.queue_id = _setup.queue_id;
    v_q := pgmq.format_table_name(v_queue, 'q');
    v_rel := format('pgmq.%I', v_q)::regclass;
    -- A queue made with pgmq.create_partitioned: no primary key, and no unique index without the partition key.
    v_partitioned := (SELECT c.relkind = 'p' FROM pg_catalog.pg_class c WHERE c.oid = v_rel);
    v_has_id_index := EXISTS (
        SELECT 1 FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid
        WHERE i.indrelid = v_rel AND a.attname = 'msg_id' AND i.indkey[0] = a.attnum AND i.indpred IS NULL);

    -- Our indexes on the queue table, each created only when its record is missing or names an index that is
    -- gone:
    --   grp   group head probe: the oldest/newest visible task of one group is an index range scan + LIMIT 1,
    --         so a grouped read costs O(active groups) whatever the backlog (->> IS NOT NULL rather than
    --         `headers ?`: a JSON null group and NULL headers both mean "ungrouped");
    --   ung   ungrouped tasks, for grouped reads (each ungrouped task is its own group);
    --   dd    dedupe keys: unique among the tasks in the queue, enforced by the index (INSERT ... ON
    --         CONFLICT), so two concurrent enqueues with one key cannot both insert;
    --   busy  claimed and retrying tasks: the concurrency-limit count (processing with a live lease) and the
    --         redelivery of due busy tasks cost O(in flight), not O(backlog);
    --   id    (partitioned tables partitioned by time only) msg_id, which they have no primary key for: every
    --         complete, fail and FIFO/LIFO read finds tasks by msg_id.
    -- On a partitioned table (pgmq.create_partitioned) dd cannot be unique (PostgreSQL requires the partition
    -- key in every unique index, and a key unique per partition would let duplicates through): it is a plain
    -- index there, and pgtq._insert_task enforces the key with an advisory lock and a lookup instead.
    FOR v_ix IN
        SELECT * FROM (VALUES
            ('grp', 'CREATE INDEX %I ON %s ((headers->>''x-pgmq-group''), msg_id) WHERE (headers->>''x-pgmq-group'') IS NOT NULL', true),
            ('ung', 'CREATE INDEX %I ON %s (msg_id) WHERE (headers->>''x-pgmq-group'') IS NULL', true),
            ('dd', CASE WHEN v_partitioned
                        THEN 'CREATE INDEX %I ON %s ((headers->>''x-pgtq-dedupe-key'')) WHERE (headers->>''x-pgtq-dedupe-key'') IS NOT NULL'
                        ELSE 'CREATE UNIQUE INDEX %I ON %s ((headers->>''x-pgtq-dedupe-key'')) WHERE (headers->>''x-pgtq-dedupe-key'') IS NOT NULL'
                   END, true),
            ('busy', 'CREATE INDEX %I ON %s (vt) WHERE (headers->>''x-pgtq-status'') IN (''processing'', ''retrying'')', true),
            ('id', 'CREATE INDEX %I ON %s (msg_id)', v_partitioned AND NOT v_has_id_index)
        ) AS ix (purpose, ddl, wanted)
        WHERE ix.wanted
    LOOP
        CONTINUE WHEN EXISTS (
            SELECT 1 FROM pgtq.queue_indexes i
            JOIN pg_catalog.pg_index pi ON pi.indexrelid = i.idx AND pi.indrelid = v_rel
            WHERE i.queue_id = _setup.queue_id AND i.purpose = v_ix.purpose);
        v_name := 'pgtq_' || queue_id || '_' || v_ix.purpose;
        EXECUTE format(v_ix.ddl, v_name, v_rel);
        INSERT INTO pgtq.queue_indexes AS i (queue_id, purpose, idx)
        VALUES (queue_id, v_ix.purpose, format('pgmq.%I', v_name)::regclass)
        ON CONFLICT ON CONSTRAINT queue_indexes_pkey DO UPDATE SET idx = EXCLUDED.idx;
    END LOOP;

    -- The queue's statement functions (215_queue_statements.sql), unless recorded: migrations refresh them.
    IF NOT EXISTS (SELECT 1 FROM pgtq.queue_statements s WHERE s.queue_id = _setup.queue_id) THEN
        PERFORM pgtq._install_queue_statements(queue_id);
    END IF;

    -- Vacuum settings for a table whose rows all die young: every claim leaves a dead row version and every
    -- completion a dead row, and claims walk the dead index entries at the head of the queue until vacuum
    -- removes them. With the defaults, autovacuum waits for dead rows to reach 20% of the live ones (200k
    -- behind a 1M backlog) and then runs throttled; here it runs after 1000 + 1% and unthrottled (the table is
    -- small and hot, its pages in shared buffers). Only on a table that has no autovacuum_vacuum_* option of
    -- its own (an operator's choice wins, and create_queue, called at every application start, alters nothing
    -- the second time); not on a partitioned table, which takes no autovacuum options. SET (...) takes a SHARE
    -- UPDATE EXCLUSIVE lock: it waits for a running vacuum, not for readers' and writers' row changes.
    IF NOT v_partitioned AND NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_class c, unnest(c.reloptions) AS o (opt)
        WHERE c.oid = v_rel AND o.opt LIKE 'autovacuum\_vacuum\_%') THEN
        EXECUTE format('ALTER TABLE %s SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000, '
                       'autovacuum_vacuum_cost_delay = 0)', v_rel);
    END IF;

    -- Only when missing: DDL on a live queue table takes a lock that conflicts with readers' row updates, and
    -- create_queue is meant to be called again and again (at every application start).
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t WHERE t.tgrelid = v_rel AND t.tgname = 'pgtq_after_insert') THEN
        RETURN;
    END IF;

    -- CREATE TRIGGER waits for in-flight inserts (lock conflict), so the backfill below sees every row that
    -- did not fire the trigger.
    EXECUTE format(
        'CREATE TRIGGER pgtq_after_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS new_rows '
        'FOR EACH STATEMENT EXECUTE FUNCTION pgtq._after_insert(%L)',
        v_rel, v_queue);

    EXECUTE format(
        'INSERT INTO pgtq.groups (queue_name, group_key, head_msg_id) '
        'SELECT $1, headers->>''x-pgmq-group'', min(msg_id) FROM %s WHERE (headers->>''x-pgmq-group'') IS NOT NULL '
        'GROUP BY 2 ON CONFLICT DO NOTHING', v_rel)
    USING v_queue;
END;
$$;

-- Group rows and the deleter of empty groups (pgtq._group_done, pgtq.prune) race like this:
--   * An inserter creates the row with INSERT ... ON CONFLICT DO NOTHING and then takes FOR KEY SHARE on it,
--     held until its commit. KEY SHARE does not conflict with the FOR NO KEY UPDATE that claimers and
--     completers take to set/clear busy_msg_id, so inserters never block them (nor they inserters).
--   * A deleter takes FOR UPDATE SKIP LOCKED (conflicts with KEY SHARE: while any inserter is in flight it
--     skips and leaves the row) and re-checks emptiness in a NEW statement, whose snapshot sees every inserter
--     that released its KEY SHARE (= committed) before the lock was granted. Inserters arriving later block on
--     KEY SHARE until the deleter commits, find the row gone and loop to insert it again; an INSERT that meets
--     the deleted-but-uncommitted row waits for the deleter (speculative insertion) and then succeeds.
--   So a committed task always has its group row, and the trigger runs before the inserting statement ends.
CREATE OR REPLACE FUNCTION pgtq._after_insert()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_queue text := TG_ARGV[0];
    v_keys text[];
    v_locked integer;
BEGIN
    SELECT array_agg(DISTINCT k ORDER BY k) INTO v_keys
    FROM (SELECT n.headers->>'x-pgmq-group' AS k FROM new_rows n) s
    WHERE k IS NOT NULL;

    IF v_keys IS NOT NULL THEN
        LOOP
            -- Sorted, so that two inserters of overlapping group sets wait on each other in one order. An
            -- existing row is left as it is (no update: inserters must not take row locks that conflict with
            -- claimers).
            INSERT INTO pgtq.groups (queue_name, group_key, head_msg_id)
            SELECT v_queue, n.headers->>'x-pgmq-group', min(n.msg_id)
            FROM new_rows n
            WHERE (n.headers->>'x-pgmq-group') IS NOT NULL
            GROUP BY 2 ORDER BY 2
            ON CONFLICT DO NOTHING;

            SELECT count(*) INTO v_locked FROM (
                SELECT 1 FROM pgtq.groups g
                WHERE g.queue_name = v_queue AND g.group_key = ANY (v_keys)
                ORDER BY g.group_key
                FOR KEY SHARE OF g
            ) s;
            -- A row deleted between our INSERT and our lock: insert it again.
            EXIT WHEN v_locked = cardinality(v_keys);
        END LOOP;
    END IF;

    IF EXISTS (SELECT 1 FROM new_rows) THEN
        -- Our own NOTIFY (no throttle row to update): pgmq's throttled trigger with interval 0 would make all
        -- producers queue on one row lock until commit. Same channel, so pgmq listeners work unchanged.
        PERFORM pg_catalog.pg_notify('pgmq.' || TG_TABLE_NAME || '.INSERT', NULL);
    END IF;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION pgtq._group_done(queue_name text, queue_id bigint, group_key text, msg_id bigint)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    IF group_key IS NOT NULL THEN
        PERFORM pgtq._groups_done(queue_name, queue_id, ARRAY[group_key], ARRAY[msg_id]);
    END IF;
END;
$$;

CREATE OR REPLACE FUNCTION pgtq._groups_done(queue_name text, queue_id bigint, group_keys text[], msg_ids bigint[])
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    v_keys text[];
    v_ids bigint[];
    v_heads bigint[];
    v_empty text[];
    v_locked text[];
BEGIN
    -- Per group, its oldest remaining task (one index probe each): the new ordering hint, and NULL = looks
    -- empty. Sorted by group key, so that concurrent callers lock shared group rows in one order.
    -- (sql/statements/heads.sql.)
    EXECUTE format('SELECT * FROM pgtq.%I($1, $2)', pgtq._statement(queue_id, 'heads'))
    INTO v_keys, v_ids, v_heads USING group_keys, msg_ids;
    IF v_keys IS NULL THEN
        RETURN;
    END IF;

    -- Static statements from here on: their plans are cached for the session (an EXECUTE is planned on every
    -- call). = ANY lets the planner probe groups_pkey instead of joining every group row of every queue.
    UPDATE pgtq.groups g SET busy_msg_id = NULL, head_msg_id = coalesce(c.head, g.head_msg_id)
    FROM unnest(v_keys, v_ids, v_heads) AS c (k, id, head)
    WHERE g.queue_name = _groups_done.queue_name AND g.group_key = ANY (v_keys)
      AND g.group_key = c.k AND g.busy_msg_id = c.id;

    SELECT array_agg(DISTINCT c.k) INTO v_empty
    FROM unnest(v_keys, v_heads) AS c (k, head) WHERE c.head IS NULL;
    IF v_empty IS NULL THEN
        RETURN;
    END IF;

    -- Looks empty. Lock the rows against inserters (SKIP LOCKED: an inserter in flight means "not empty"),
    -- then re-check in a new statement (fresh snapshot, see the race notes above pgtq._after_insert). Only
    -- idle groups go: a group without tasks is busy only if its task was deleted behind pgtq's back, and
    -- then a read heals it. The idle check stays outside the locking query (OFFSET 0 keeps the planner from
    -- pushing it in): inside, it let the planner walk all of the queue's idle groups through groups_idle_idx
    -- instead of probing the given keys whenever its statistics were stale (110 ms per call at 100k groups);
    -- the lock we hold keeps the group idle until we commit. No ORDER BY: SKIP LOCKED never waits, so the
    -- locking order cannot deadlock.
    SELECT array_agg(s.group_key) INTO v_locked FROM (
        SELECT g.group_key, g.busy_msg_id FROM pgtq.groups g
        WHERE g.queue_name = _groups_done.queue_name AND g.group_key = ANY (v_empty)
        OFFSET 0
        FOR UPDATE SKIP LOCKED
    ) s
    WHERE s.busy_msg_id IS NULL;
    IF v_locked IS NULL THEN
        RETURN;
    END IF;
    -- (sql/statements/drop_empty.sql: deletes those of v_locked that still have no task.)
    EXECUTE format('SELECT pgtq.%I($1, $2)', pgtq._statement(queue_id, 'drop_empty'))
    USING queue_name, v_locked;
END;
$$;

CREATE OR REPLACE FUNCTION pgtq._append_error(headers jsonb, attempt integer, error text, kind text)
RETURNS jsonb
LANGUAGE sql
STABLE
AS $$
    SELECT coalesce(_append_error.headers, '{}'::jsonb) || jsonb_build_object(
        'x-pgtq-errors', (
            SELECT coalesce(jsonb_agg(CASE WHEN jsonb_typeof(e) = 'object' THEN coalesce(e->'error', to_jsonb(e::text))
                                           ELSE e END ORDER BY i), '[]'::jsonb)
            FROM (
                SELECT e, i, count(*) OVER () AS n
                FROM jsonb_array_elements(
                         CASE WHEN jsonb_typeof(_append_error.headers->'x-pgtq-errors') = 'array'
                              THEN _append_error.headers->'x-pgtq-errors' ELSE '[]'::jsonb END
                         || jsonb_build_array(_append_error.error))
                     WITH ORDINALITY AS a (e, i)
            ) s
            WHERE i > n - 20),
        'x-pgtq-error-log', (
            SELECT coalesce(jsonb_agg(e ORDER BY i), '[]'::jsonb)
            FROM (
                SELECT e, i, count(*) OVER () AS n
                FROM jsonb_array_elements(
                         CASE WHEN jsonb_typeof(_append_error.headers->'x-pgtq-error-log') = 'array'
                              THEN _append_error.headers->'x-pgtq-error-log' ELSE '[]'::jsonb END
                         || jsonb_build_array(jsonb_build_object(
                                'attempt', _append_error.attempt, 'error', _append_error.error,
                                'at', clock_timestamp(), 'kind', _append_error.kind)))
                     WITH ORDINALITY AS a (e, i)
            ) s
            WHERE i > n - 20));
$$;

CREATE OR REPLACE FUNCTION pgtq._lost_leases(headers jsonb)
RETURNS integer
LANGUAGE sql
IMMUTABLE
AS $$
    SELECT CASE WHEN jsonb_typeof(headers->'x-pgtq-lost-leases') = 'number'
                THEN (headers->>'x-pgtq-lost-leases')::numeric::integer ELSE 0 END;
$$;

CREATE OR REPLACE FUNCTION pgtq._lease_lost(headers jsonb, attempt integer)
RETURNS jsonb
LANGUAGE sql
STABLE
AS $$
    SELECT pgtq._append_error(headers, attempt, 'lease expired', 'lease_expired')
        || jsonb_build_object('x-pgtq-lost-leases', pgtq._lost_leases(headers) + 1);
$$;

CREATE OR REPLACE FUNCTION pgtq._task_headers(fn text, headers jsonb, group_key text, dedupe_key text)
RETURNS jsonb
LANGUAGE plpgsql
AS $$
DECLARE
    v_reserved text;
BEGIN
    IF headers IS NOT NULL AND jsonb_typeof(headers) <> 'object' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('%s: headers must be a JSON object, got %s', fn, headers);
    END IF;
    SELECT k INTO v_reserved FROM jsonb_object_keys(headers) AS k WHERE k LIKE 'x-pgtq-%' ORDER BY k LIMIT 1;
    IF v_reserved IS NOT NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('%s: header %L is reserved for pgtq', fn, v_reserved);
    END IF;
    IF dedupe_key = '' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('%s: dedupe_key must not be empty', fn);
    END IF;
    PERFORM pgtq._check_key(fn, 'group_key', group_key);
    PERFORM pgtq._check_key(fn, 'dedupe_key', dedupe_key);
    RETURN pgtq._new_task_headers(headers, group_key, dedupe_key);
END;
$$;

-- A plain SQL expression, so that a set-based INSERT (pgtq.enqueue_batch's) inlines it instead of calling it
-- per row.
CREATE OR REPLACE FUNCTION pgtq._new_task_headers(headers jsonb, group_key text, dedupe_key text)
RETURNS jsonb
LANGUAGE sql
AS $$
    SELECT coalesce(headers, '{}'::jsonb)
        || jsonb_build_object('x-pgtq-task-id', gen_random_uuid()::text, 'x-pgtq-status', 'queued')
        || CASE WHEN group_key IS NOT NULL THEN jsonb_build_object('x-pgmq-group', group_key) ELSE '{}' END
        || CASE WHEN dedupe_key IS NOT NULL THEN jsonb_build_object('x-pgtq-dedupe-key', dedupe_key) ELSE '{}' END;
$$;

CREATE OR REPLACE FUNCTION pgtq._insert_task(q_table text, payload jsonb, headers jsonb, delay integer)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    v_id bigint;
    v_key text := headers->>'x-pgtq-dedupe-key';
BEGIN
    IF v_key IS NULL THEN
        EXECUTE format(
            'INSERT INTO pgmq.%I (vt, message, headers) '
            'VALUES (clock_timestamp() + make_interval(secs => $1), $2, $3) RETURNING msg_id', q_table)
        INTO v_id USING delay, payload, headers;
        RETURN v_id;
    END IF;
    IF pgmq._is_partitioned(q_table) THEN
        IF current_setting('transaction_isolation') <> 'read committed' THEN
            RAISE EXCEPTION USING
                ERRCODE = 'PQ003',
                MESSAGE = format('pgtq.enqueue: a dedupe_key on a partitioned queue (%s) needs READ COMMITTED, '
                                 'the transaction is %s', q_table, current_setting('transaction_isolation'));
        END IF;
        PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('pgtq.dedupe.' || q_table), pg_catalog.hashtext(v_key));
        EXECUTE format('SELECT msg_id FROM pgmq.%I WHERE (headers->>''x-pgtq-dedupe-key'') = $1 LIMIT 1', q_table)
        INTO v_id USING v_key;
        IF v_id IS NOT NULL THEN
            RETURN v_id;
        END IF;
        EXECUTE format(
            'INSERT INTO pgmq.%I (vt, message, headers) '
            'VALUES (clock_timestamp() + make_interval(secs => $1), $2, $3) RETURNING msg_id', q_table)
        INTO v_id USING delay, payload, headers;
        RETURN v_id;
    END IF;
    LOOP
        -- ON CONFLICT waits for an uncommitted holder of the key, then does nothing if it committed.
        EXECUTE format(
            'INSERT INTO pgmq.%I (vt, message, headers) '
            'VALUES (clock_timestamp() + make_interval(secs => $1), $2, $3) '
            'ON CONFLICT ((headers->>''x-pgtq-dedupe-key'')) WHERE (headers->>''x-pgtq-dedupe-key'') IS NOT NULL '
            'DO NOTHING RETURNING msg_id', q_table)
        INTO v_id USING delay, payload, headers;
        IF v_id IS NOT NULL OR v_key IS NULL THEN
            RETURN v_id;
        END IF;
        EXECUTE format('SELECT msg_id FROM pgmq.%I WHERE (headers->>''x-pgtq-dedupe-key'') = $1', q_table)
        INTO v_id USING v_key;
        IF v_id IS NOT NULL THEN
            RETURN v_id;
        END IF;
        -- The holder left the queue between the two statements: the key is free again, insert.
    END LOOP;
END;
$$;

CREATE OR REPLACE FUNCTION pgtq._final_failure(queue_name text, msg_id bigint, headers jsonb)
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    v record;
    r record;
    v_dlq_id bigint;
    v_status text;
    v_patch jsonb;
BEGIN
    SELECT * INTO v FROM pgtq._queue('pgtq.fail', queue_name);
    EXECUTE format(
        'DELETE FROM pgmq.%I WHERE msg_id = $1 '
        'RETURNING msg_id, read_ct, enqueued_at, last_read_at, vt, message', v.q_table)
    INTO r USING msg_id;

    IF v.dlq_name IS NOT NULL THEN
        EXECUTE format(
            'INSERT INTO pgmq.%I (vt, message, headers) VALUES (clock_timestamp(), $1, $2) RETURNING msg_id',
            v.dlq_q_table)
        INTO v_dlq_id
        USING jsonb_build_object(
                  'msg_id', r.msg_id,
                  'queue_name', v.queue,
                  'message', r.message,
                  'errors', coalesce(headers->'x-pgtq-errors', '[]'::jsonb)),
              headers || jsonb_build_object('x-pgtq-status', 'dead_lettered', 'x-pgtq-original', r.msg_id);
        v_status := 'dead_lettered';
        v_patch := jsonb_build_object('x-pgtq-status', 'dead_lettered', 'x-pgtq-dlq', v_dlq_id);
    ELSE
        v_status := 'failed';
        v_patch := jsonb_build_object('x-pgtq-status', 'failed');
    END IF;

    EXECUTE format(
        'INSERT INTO pgmq.%I (msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers) '
        'VALUES ($1, $2, $3, $4, $5, $6, $7)', v.a_table)
    USING r.msg_id, r.read_ct, r.enqueued_at, r.last_read_at, r.vt, r.message, headers || v_patch;

    PERFORM pgtq._group_done(v.queue, v.queue_id, headers->>'x-pgmq-group', msg_id);
    RETURN v_status;
END;
$$;
