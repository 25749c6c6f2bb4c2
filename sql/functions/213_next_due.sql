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
    -- The time as a parameter: then vt > $1 is an index condition and the probe starts at now; with
    -- clock_timestamp() (volatile) in the WHERE clause the scan would walk and filter every past vt first.
    EXECUTE format('SELECT vt FROM pgmq.%I WHERE vt > $1 ORDER BY vt LIMIT 1', v.q_table)
    INTO v_due USING clock_timestamp();
    RETURN v_due;
END;
$$;
