-- pgtq.set_retention(queue_name text, retention interval) RETURNS void
--
-- Sets the queue's archive retention (pgtq.queues.retention): the age below which pgtq.prune_due (the
-- workers' pruning) never deletes archived rows, and the age pgtq.prune uses when called with older_than
-- NULL. NULL resets it to the default (7 days for prune_due; prune then needs an explicit older_than).
-- Admin-only: it is what keeps a worker role from emptying archives.
-- Raises PQ001, PQ002, PQ003 (negative retention).

CREATE OR REPLACE FUNCTION pgtq.set_retention(queue_name text, retention interval)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v record;
BEGIN
    IF retention < interval '0' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('pgtq.set_retention: retention must be >= 0 or NULL, got %s', retention);
    END IF;
    SELECT * INTO v FROM pgtq._queue('pgtq.set_retention', queue_name, for_write => false);
    UPDATE pgtq.queues q SET retention = set_retention.retention WHERE q.queue_name = v.queue;
END;
$$;
