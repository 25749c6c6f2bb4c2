-- pgtq.next_due(queue_name text) RETURNS timestamptz
--
-- The next moment a task of the queue becomes visible: the earliest vt in the future (a delayed task, a retry,
-- or a lease that may expire). NULL if nothing is pending. Workers set a timer to it, since becoming visible
-- sends no NOTIFY; visible-now work is found by pgtq.read itself. One index probe on the vt index.
-- Raises PQ001, PQ002.

CREATE OR REPLACE FUNCTION pgtq.next_due(queue_name text)
RETURNS timestamptz
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v record;
    v_due timestamptz;
BEGIN
    SELECT * INTO v FROM pgtq._queue('pgtq.next_due', queue_name, for_write => false);
    EXECUTE format('SELECT vt FROM pgmq.%I WHERE vt > clock_timestamp() ORDER BY vt LIMIT 1', v.q_table)
    INTO v_due;
    RETURN v_due;
END;
$$;
