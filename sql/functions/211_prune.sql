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
        LOOP
            EXECUTE format(
                'WITH b AS (SELECT msg_id FROM pgmq.%1$I WHERE archived_at < $1 ORDER BY archived_at '
                '           LIMIT $2 FOR UPDATE SKIP LOCKED) '
                'DELETE FROM pgmq.%1$I a USING b WHERE a.msg_id = b.msg_id', v_table)
            USING now() - v_older, batch_size;
            GET DIAGNOSTICS v_n = ROW_COUNT;
            v_total := v_total + v_n;
            EXIT WHEN v_n < batch_size;
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
