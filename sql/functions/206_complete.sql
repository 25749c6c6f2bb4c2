-- pgtq.complete(queue_name text, msg_id bigint, attempt integer) RETURNS boolean
-- pgtq.complete(queue_name text, msg_ids bigint[], attempts integer[]) RETURNS SETOF bigint
--
-- Acknowledges finished tasks: a task still leased to the caller (read_ct = attempt, x-pgtq-status
-- 'processing') is moved to the archive with x-pgtq-status 'completed', and its group is freed (the group's
-- next task may start). A lease that expired but was not taken by another reader is still the caller's.
-- Single form: true if completed, false if the lease was lost (stale attempt, unknown or finished msg_id).
-- Array form: msg_ids[i] goes with attempts[i]; returns the msg_ids that were completed (ascending). Cost: one
-- statement deletes and archives the whole batch; the groups of grouped tasks are freed set-based (a fixed
-- number of statements per call, none for a batch without grouped tasks).
-- Raises PQ001, PQ002, PQ003 (msg_id/attempt NULL, arrays NULL or of different lengths).

CREATE OR REPLACE FUNCTION pgtq.complete(queue_name text, msg_id bigint, attempt integer)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF msg_id IS NULL OR attempt IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('pgtq.complete: msg_id and attempt must not be NULL, got msg_id=%s attempt=%s',
                             coalesce(msg_id::text, 'NULL'), coalesce(attempt::text, 'NULL'));
    END IF;
    RETURN EXISTS (SELECT 1 FROM pgtq.complete(queue_name, ARRAY[msg_id], ARRAY[attempt]));
END;
$$;

CREATE OR REPLACE FUNCTION pgtq.complete(queue_name text, msg_ids bigint[], attempts integer[])
RETURNS SETOF bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v record;
    v_ids bigint[];
    v_group_keys text[];
    v_group_ids bigint[];
BEGIN
    IF msg_ids IS NULL OR attempts IS NULL OR cardinality(msg_ids) <> cardinality(attempts) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('pgtq.complete: msg_ids and attempts must be non-NULL arrays of one length, got %s and %s',
                             coalesce(cardinality(msg_ids)::text, 'NULL'), coalesce(cardinality(attempts)::text, 'NULL'));
    END IF;
    -- The DELETE below is the first statement on the queue table and takes its table locks before any row
    -- lock: no up-front table lock needed (see pgtq._queue).
    SELECT * INTO v FROM pgtq._queue('pgtq.complete', queue_name, for_write => false);

    -- One statement for the whole batch: DELETE re-checks read_ct after waiting for a concurrent reader's row
    -- lock, so a task re-read by someone else in the meantime is left alone (lease lost); every deleted row is
    -- archived by the same statement. Only the grouped rows come back for the group bookkeeping.
    -- (sql/statements/complete.sql.)
    EXECUTE format('SELECT * FROM pgtq.%I($1, $2)', pgtq._statement(v.queue_id, 'complete'))
    INTO v_ids, v_group_keys, v_group_ids
    USING msg_ids, attempts;

    -- Ungrouped tasks need nothing more; the groups of the others are freed in one go.
    IF v_group_keys IS NOT NULL THEN
        PERFORM pgtq._groups_done(v.queue, v.queue_id, v_group_keys, v_group_ids);
    END IF;
    RETURN QUERY SELECT unnest(v_ids);
END;
$$;
