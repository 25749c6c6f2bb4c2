-- lifo_heads(queue, n) -> (scanned bigint, keys text[], ids bigint[])
--
-- pgtq.read's grouped LIFO: the newest visible task (the LIFO head) of up to n idle groups, newest first. A
-- group's LIFO head is its newest visible task, which no stored hint can track without inserters locking the
-- group row. So: scan a window of the newest visible grouped tasks (n * 20 rows, pkey backwards); the first
-- task met of each idle group is that group's head, and the first K idle groups met are exactly the K newest
-- heads. Only when the window is full but holds fewer than n idle groups (the recent work belongs to busy
-- groups) probe every idle group: O(idle groups). scanned = the window's size.
CREATE FUNCTION pgtq.{{fn}}(queue text, n integer, OUT scanned bigint, OUT keys text[], OUT ids bigint[])
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET search_path = pg_catalog, pg_temp
AS $body$
BEGIN
    WITH w AS (
        SELECT m.msg_id, m.headers->>'x-pgmq-group' AS grp FROM pgmq.{{q}} m
        WHERE (m.headers->>'x-pgmq-group') IS NOT NULL AND m.vt <= clock_timestamp()
        ORDER BY m.msg_id DESC LIMIT n * 20
    ), newest AS (
        SELECT DISTINCT ON (w.grp) w.grp, w.msg_id FROM w ORDER BY w.grp, w.msg_id DESC
    ), heads AS (
        SELECT nw.grp, nw.msg_id
        FROM newest nw
        CROSS JOIN LATERAL (
            SELECT 1 FROM pgtq.groups g
            WHERE g.queue_name = queue AND g.group_key = nw.grp AND g.busy_msg_id IS NULL
            LIMIT 1
        ) idle
    )
    SELECT (SELECT count(*) FROM w), coalesce(array_agg(h.grp ORDER BY h.msg_id DESC), '{}'),
           coalesce(array_agg(h.msg_id ORDER BY h.msg_id DESC), '{}')
    INTO scanned, keys, ids
    FROM heads h;
    IF scanned = n * 20 AND cardinality(ids) < n THEN
        SELECT coalesce(array_agg(g.group_key ORDER BY h.msg_id DESC), '{}'),
               coalesce(array_agg(h.msg_id ORDER BY h.msg_id DESC), '{}')
        INTO keys, ids
        FROM pgtq.groups g
        CROSS JOIN LATERAL (
            SELECT m.msg_id FROM pgmq.{{q}} m
            WHERE (m.headers->>'x-pgmq-group') = g.group_key AND m.vt <= clock_timestamp()
            ORDER BY m.msg_id DESC LIMIT 1
        ) h
        WHERE g.queue_name = queue AND g.busy_msg_id IS NULL;
    END IF;
END;
$body$;
