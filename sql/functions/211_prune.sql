-- pgtq.prune(queue_name text, older_than interval, batch_size integer DEFAULT 1000) RETURNS bigint
-- pgtq.prune_due(queue_name text, older_than interval, batch_size integer, every interval) RETURNS bigint
--
-- prune deletes archived rows of the queue's archive and of its DLQ's archive whose archived_at is older than
-- older_than (NULL: the queue's pgtq.queues.retention), batch_size rows per statement until none is left,
-- and returns how many it deleted. Rows are taken FOR UPDATE SKIP LOCKED, so concurrent prunes never delete
-- (or count) one row twice. It also drops group rows of groups left without tasks.
-- prune_due is the fleet-coordinated form, the one workers may call: it never deletes rows younger than the
-- queue's retention (pgtq.queues.retention, set by an admin with pgtq.set_retention; 7 days when unset), so
-- a worker cannot empty an archive by passing a short older_than; it uses the longer of the two. It claims
-- the run with a conditional update of
-- pgtq.queues.last_pruned_at (only if it is NULL or at least `every` old; the row lock is taken with SKIP
-- LOCKED, so a concurrent caller returns at once) and then prunes; it returns NULL when another caller ran
-- within the interval or is running now. Every worker can call it on its timer: one run per interval.
-- Raises PQ001, PQ002, PQ003 (batch_size NULL or < 1, older_than NULL without retention or negative,
-- every NULL or negative).
--
-- Partitioned archives (pgmq.create_partitioned, pgmq.convert_archive_partitioned): an archive partitioned by
-- archived_at loses whole partitions whose upper bound is not after the cutoff (now() - older_than): each is
-- counted and dropped (DROP TABLE: no row deletes, no dead tuples, no vacuum); the rows of the other
-- partitions (the one that straddles the cutoff, the default partition) are deleted in batches as above. The
-- drops come last, after everything else prune does, because they lock the archive (ACCESS EXCLUSIVE, which
-- completes wait for) until the transaction ends; prune waits at most 2 s for that lock and otherwise deletes
-- those partitions' rows in batches instead. An archive partitioned by msg_id is pruned row by row (msg_ids
-- say nothing about age). Prunes of one partitioned archive run one at a time (a transaction advisory lock),
-- so concurrent prunes never count a row twice.
--
-- pgtq._old_partitions(a_table text, cutoff timestamptz) RETURNS regclass[]
--   The leaf partitions of pgmq.<a_table> (range-partitioned on archived_at alone) whose range ends at or
--   before cutoff; empty for any other table.
--
-- pgtq._prune_leaf(leaf regclass, cutoff timestamptz, batch_size integer) RETURNS bigint
--   Deletes the rows of one partition of a partitioned archive archived before cutoff, batch_size per statement
--   (found by ctid: those tables have no primary key), and returns how many.
--
-- pgtq._drop_partitions(a_table text, parts regclass[], cutoff timestamptz, batch_size integer) RETURNS bigint
--   Counts the rows of the partitions parts of pgmq.<a_table> and drops them; returns the count. Without the
--   archive's lock within 2 s it deletes their rows with pgtq._prune_leaf instead.

CREATE OR REPLACE FUNCTION pgtq.prune(queue_name text, older_than interval, batch_size integer DEFAULT 1000)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v record;
    v_older interval;
    v_table text;
    v_leaf regclass;
    v_old regclass[];
    v_from timestamptz;
    v_n bigint;
    v_total bigint := 0;
    v_empty text[];
    v_locked text[];
BEGIN
    IF batch_size IS NULL OR batch_size < 1 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('pgtq.prune: batch_size must be >= 1, got %s', coalesce(batch_size::text, 'NULL'));
    END IF;
    SELECT * INTO v FROM pgtq._queue('pgtq.prune', queue_name);
    v_older := coalesce(older_than, (SELECT q.retention FROM pgtq.queues q WHERE q.queue_name = v.queue));
    IF v_older IS NULL OR v_older < interval '0' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('pgtq.prune: older_than must be >= 0 (or the queue needs a retention), got %s',
                             coalesce(older_than::text, 'NULL'));
    END IF;

    FOREACH v_table IN ARRAY array_remove(ARRAY[v.a_table, v.dlq_a_table], NULL) LOOP
        IF pgmq._is_partitioned(v_table) THEN
            PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('pgtq.prune'), pg_catalog.hashtext(v_table));
            -- The partitions that will be dropped at the end are left alone here. No primary key on msg_id:
            -- each partition's rows are found again by ctid (a TID scan), one partition at a time (a join on
            -- (tableoid, ctid) through the parent would scan every partition per batch).
            v_old := pgtq._old_partitions(v_table, now() - v_older);
            FOR v_leaf IN
                SELECT t.relid FROM pg_catalog.pg_partition_tree(format('pgmq.%I', v_table)::regclass) t
                WHERE t.isleaf AND NOT t.relid = ANY (v_old)
            LOOP
                v_total := v_total + pgtq._prune_leaf(v_leaf, now() - v_older, batch_size);
            END LOOP;
            CONTINUE;
        END IF;
        -- Each batch starts where the one before ended (v_from): the rows this transaction deleted stay in the
        -- archived_at index until vacuum, and walking them again from the start made a prune quadratic.
        v_from := '-infinity';
        LOOP
            EXECUTE format(
                'WITH b AS (SELECT msg_id, archived_at FROM pgmq.%1$I WHERE archived_at >= $3 AND archived_at < $1 '
                '           ORDER BY archived_at LIMIT $2 FOR UPDATE SKIP LOCKED), '
                '     d AS (DELETE FROM pgmq.%1$I a USING b WHERE a.msg_id = b.msg_id RETURNING 1) '
                'SELECT (SELECT count(*) FROM d), (SELECT max(b.archived_at) FROM b)', v_table)
            INTO v_n, v_from
            USING now() - v_older, batch_size, v_from;
            v_total := v_total + v_n;
            EXIT WHEN v_from IS NULL OR v_n < batch_size;
        END LOOP;
    END LOOP;

    -- Group rows without tasks (left by deletes outside pgtq, or by a completer that met an inserter): find
    -- them without locks, lock those SKIP LOCKED, re-check in a new statement (see pgtq._after_insert).
    EXECUTE format(
        'SELECT array_agg(g.group_key) FROM pgtq.groups g WHERE g.queue_name = $1 AND g.busy_msg_id IS NULL '
        'AND NOT EXISTS (SELECT 1 FROM pgmq.%I m WHERE (m.headers->>''x-pgmq-group'') = g.group_key)', v.q_table)
    INTO v_empty USING v.queue;
    IF v_empty IS NOT NULL THEN
        SELECT array_agg(s.group_key) INTO v_locked FROM (
            SELECT g.group_key FROM pgtq.groups g
            WHERE g.queue_name = v.queue AND g.group_key = ANY (v_empty) AND g.busy_msg_id IS NULL
            FOR UPDATE SKIP LOCKED
        ) s;
        EXECUTE format(
            'DELETE FROM pgtq.groups g WHERE g.queue_name = $1 AND g.group_key = ANY ($2) AND g.busy_msg_id IS NULL '
            'AND NOT EXISTS (SELECT 1 FROM pgmq.%I m WHERE (m.headers->>''x-pgmq-group'') = g.group_key)', v.q_table)
        USING v.queue, v_locked;
    END IF;

    -- Last: dropping partitions locks the archive until we commit.
    FOREACH v_table IN ARRAY array_remove(ARRAY[v.a_table, v.dlq_a_table], NULL) LOOP
        IF pgmq._is_partitioned(v_table) THEN
            v_total := v_total + pgtq._drop_partitions(v_table, pgtq._old_partitions(v_table, now() - v_older),
                                                       now() - v_older, batch_size);
        END IF;
    END LOOP;
    RETURN v_total;
END;
$$;

CREATE OR REPLACE FUNCTION pgtq.prune_due(queue_name text, older_than interval, batch_size integer, every interval)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v record;
BEGIN
    IF every IS NULL OR every < interval '0' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('pgtq.prune_due: every must be >= 0, got %s', coalesce(every::text, 'NULL'));
    END IF;
    SELECT * INTO v FROM pgtq._queue('pgtq.prune_due', queue_name);
    -- SKIP LOCKED: while another caller holds the row (it is pruning), return at once instead of queueing.
    -- A caller that locks the row after that one committed re-checks the condition on the new
    -- last_pruned_at and finds nothing to claim.
    UPDATE pgtq.queues q SET last_pruned_at = now()
    WHERE q.queue_name = (
        SELECT q2.queue_name FROM pgtq.queues q2
        WHERE q2.queue_name = v.queue AND (q2.last_pruned_at IS NULL OR q2.last_pruned_at <= now() - every)
        FOR UPDATE SKIP LOCKED);
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    RETURN pgtq.prune(v.queue,
                      greatest(older_than, coalesce((SELECT q.retention FROM pgtq.queues q WHERE q.queue_name = v.queue),
                                                    interval '7 days')),
                      batch_size);
END;
$$;

CREATE OR REPLACE FUNCTION pgtq._old_partitions(a_table text, cutoff timestamptz)
RETURNS regclass[]
LANGUAGE plpgsql
STABLE
AS $$
DECLARE
    v_rel regclass := format('pgmq.%I', a_table)::regclass;
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_partitioned_table p
        JOIN pg_catalog.pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
        WHERE p.partrelid = v_rel AND p.partstrat = 'r' AND p.partnatts = 1 AND a.attname = 'archived_at'
    ) THEN
        RETURN '{}';
    END IF;
    -- The bound reads "FOR VALUES FROM (...) TO ('<upper>')", the value in this session's DateStyle, so it casts
    -- back; MAXVALUE and DEFAULT never match.
    RETURN coalesce((
        SELECT array_agg(c.oid::regclass ORDER BY c.oid)
        FROM pg_catalog.pg_inherits i
        JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
        CROSS JOIN LATERAL regexp_match(pg_catalog.pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']*)''\)$') AS m (b)
        WHERE i.inhparent = v_rel AND c.relkind = 'r' AND m.b[1]::timestamptz <= cutoff), '{}');
END;
$$;

CREATE OR REPLACE FUNCTION pgtq._drop_partitions(a_table text, parts regclass[], cutoff timestamptz, batch_size integer)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    v_part regclass;
    v_n bigint;
    v_total bigint := 0;
    v_lock_timeout text := current_setting('lock_timeout');
BEGIN
    IF cardinality(parts) = 0 THEN
        RETURN 0;
    END IF;
    -- Only prunes change old partitions (and they take turns), so counting before the lock is exact.
    FOREACH v_part IN ARRAY parts LOOP
        EXECUTE format('SELECT count(*) FROM %s', v_part) INTO v_n;
        v_total := v_total + v_n;
    END LOOP;
    -- Every completer queues behind a waiting ACCESS EXCLUSIVE request: wait for it at most 2 s.
    BEGIN
        PERFORM pg_catalog.set_config('lock_timeout', '2s', true);
        EXECUTE format('LOCK TABLE pgmq.%I IN ACCESS EXCLUSIVE MODE', a_table);
        PERFORM pg_catalog.set_config('lock_timeout', v_lock_timeout, true);
    EXCEPTION WHEN lock_not_available THEN
        PERFORM pg_catalog.set_config('lock_timeout', v_lock_timeout, true);
        v_total := 0;
        FOREACH v_part IN ARRAY parts LOOP
            v_total := v_total + pgtq._prune_leaf(v_part, cutoff, batch_size);
        END LOOP;
        RETURN v_total;
    END;
    FOREACH v_part IN ARRAY parts LOOP
        EXECUTE format('DROP TABLE %s', v_part);
    END LOOP;
    RETURN v_total;
END;
$$;

-- The batch must walk the partition's archived_at index: each batch then costs O(batch), and the dead index
-- entries of the batches before are skipped. A partition filled since its last ANALYZE looks nearly empty to
-- the planner, which then sorts a sequential scan of the whole partition for every batch (measured: 11 s
-- instead of 0.6 s for 170k rows); hence the planner settings of this function.
CREATE OR REPLACE FUNCTION pgtq._prune_leaf(leaf regclass, cutoff timestamptz, batch_size integer)
RETURNS bigint
LANGUAGE plpgsql
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_sort = off
AS $$
DECLARE
    v_n bigint;
    v_total bigint := 0;
    v_from timestamptz := '-infinity';
BEGIN
    -- As in pgtq.prune: each batch starts where the one before ended.
    LOOP
        EXECUTE format(
            'WITH b AS (SELECT ctid AS c, archived_at FROM %1$s WHERE archived_at >= $3 AND archived_at < $1 '
            '           ORDER BY archived_at LIMIT $2 FOR UPDATE SKIP LOCKED), '
            '     d AS (DELETE FROM %1$s WHERE ctid = ANY (ARRAY(SELECT b.c FROM b)) RETURNING 1) '
            'SELECT (SELECT count(*) FROM d), (SELECT max(b.archived_at) FROM b)', leaf)
        INTO v_n, v_from
        USING cutoff, batch_size, v_from;
        v_total := v_total + v_n;
        EXIT WHEN v_from IS NULL OR v_n < batch_size;
    END LOOP;
    RETURN v_total;
END;
$$;
