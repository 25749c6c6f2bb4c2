-- pgtq.pause(queue_name text) RETURNS boolean
--
-- Pauses a queue: sets pgtq.queues.paused_at, after which pgtq.read returns nothing for the queue (whatever its
-- options) until pgtq.resume. Tasks already claimed run on: complete, fail, extend_lease and release work as
-- usual, and producers still enqueue. Visible as paused in pgtq.stats and pgtq.list_queues. A read that started
-- before the pause committed may still claim. Returns true if the queue was running, false if it was paused
-- already (nothing changes).
-- Raises PQ001, PQ002.

CREATE OR REPLACE FUNCTION pgtq.pause(queue_name text)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v record;
BEGIN
    SELECT * INTO v FROM pgtq._queue('pgtq.pause', queue_name, for_write => false, may_register => false);
    UPDATE pgtq.queues q SET paused_at = clock_timestamp() WHERE q.queue_id = v.queue_id AND q.paused_at IS NULL;
    RETURN FOUND;
END;
$$;
