-- pgtq.resume(queue_name text) RETURNS boolean
--
-- Ends a pause (pgtq.pause): clears pgtq.queues.paused_at and wakes the queue's workers (NOTIFY on the queue's
-- insert channel, at commit), so that what waited is claimed at once. Returns true if the queue was paused,
-- false if it was running (nothing changes, no wake-up).
-- Raises PQ001, PQ002.

CREATE OR REPLACE FUNCTION pgtq.resume(queue_name text)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v record;
BEGIN
    SELECT * INTO v FROM pgtq._queue('pgtq.resume', queue_name, for_write => false, may_register => false);
    UPDATE pgtq.queues q SET paused_at = NULL WHERE q.queue_id = v.queue_id AND q.paused_at IS NOT NULL;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM pgtq._notify(v.q_table);
    RETURN true;
END;
$$;
