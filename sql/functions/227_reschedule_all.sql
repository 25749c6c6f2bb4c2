-- pgtq.reschedule_all(queue_name text, group_key text DEFAULT NULL, error_contains text DEFAULT NULL)
--   RETURNS bigint
--
-- pgtq.reschedule for every entry of the queue's dead-letter queue that matches the filter, oldest first, in
-- this one transaction: group_key (x-pgmq-group equal to it; NULL = any group or none) and error_contains (one
-- of the entry's error strings contains it, case-sensitive; NULL = any). Entries that are not pgtq
-- dead-letter bodies of this queue are left alone, as are entries locked by a concurrent reschedule (SKIP
-- LOCKED: two calls never reschedule one entry twice). Returns how many entries were rescheduled.
-- Cost: one reschedule per entry (a task insert, a DLQ delete and a DLQ archive insert).
-- Raises PQ001, PQ002, PQ003 (queue without DLQ).

CREATE OR REPLACE FUNCTION pgtq.reschedule_all(queue_name text, group_key text DEFAULT NULL, error_contains text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v record;
    v_ids bigint[];
    v_id bigint;
BEGIN
    SELECT * INTO v FROM pgtq._queue('pgtq.reschedule_all', queue_name, for_write => true, may_register => false);
    IF v.dlq_name IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('pgtq.reschedule_all: queue %L has no dead-letter queue', v.queue);
    END IF;
    -- Lock the matching entries first (held until commit), then reschedule them one by one.
    EXECUTE format(
        'SELECT coalesce(array_agg(s.msg_id ORDER BY s.msg_id), ''{}'') FROM ('
        '  SELECT d.msg_id FROM pgmq.%I d '
        '  WHERE (d.message->>''queue_name'') = $1 AND jsonb_typeof(d.message->''message'') = ''object'' '
        '    AND jsonb_typeof(d.message->''msg_id'') = ''number'' '
        '    AND ($2::text IS NULL OR (d.headers->>''x-pgmq-group'') = $2) '
        '    AND ($3::text IS NULL OR EXISTS ('
        '        SELECT 1 FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(d.message->''errors'') = ''array'' '
        '                                                    THEN d.message->''errors'' ELSE ''[]'' END) e '
        '        WHERE strpos(e, $3) > 0)) '
        '  FOR UPDATE SKIP LOCKED) s', v.dlq_q_table)
    INTO v_ids USING v.queue, group_key, error_contains;
    FOREACH v_id IN ARRAY v_ids LOOP
        PERFORM pgtq.reschedule(v.queue, v_id);
    END LOOP;
    RETURN cardinality(v_ids);
END;
$$;
