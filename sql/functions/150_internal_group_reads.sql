-- Internal helpers behind the FIFO group reads of schema pgmq (read_grouped, read_grouped_rr,
-- read_grouped_head and their _with_poll forms). Not part of the pgmq API.
--
-- Group of a message: headers->>'x-pgmq-group'; a missing header or JSON null is the group
-- '_default_fifo_group'; the empty string is a group of its own. Head of a group: its oldest message
-- (lowest msg_id) for direction 'ASC', its newest (highest msg_id) for 'DESC', visible or not. A group is
-- eligible only while its head is visible, so an in-flight (or delayed) head blocks its whole group.
--
-- Cost. With the fifo index (pgmq.create_fifo_index: btree on (group key, msg_id)) a read first looks
-- for heads among the max(100, 10 * qty) oldest (ASC) or newest (DESC) messages, one index probe each; that
-- usually yields qty heads whatever the backlog and the number of groups. Only when it does not (many
-- groups in flight, or a big blocked group at the front) does it find every group's head with a loose
-- index scan, one probe per group: O(groups * log n), not O(backlog). Without the index, or when the
-- statistics say there are nearly as many groups as messages, one sequential pass finds the heads,
-- O(backlog). The setting pgmq.group_read_window (internal, for tests and measurements) overrides the window
-- size; 0 skips the window.
--
-- pgmq._fifo_index_ready(queue_table text) RETURNS boolean
--   True when pgmq.<queue_table>_fifo_idx exists as the valid two-column btree that
--   pgmq.create_fifo_index builds.
--
-- pgmq._fifo_loose_scan_pays(queue_table text) RETURNS boolean
--   False when the planner statistics of the fifo index say there are more than a tenth as many groups as
--   messages: then one sequential pass finds the heads faster than one index probe per group.
--
-- pgmq._lock_group_heads(queue_table, direction, qty, group_keys, heads, OUT locked_keys, OUT locked_ids)
--   Locks (FOR UPDATE SKIP LOCKED, vt re-checked) the first qty of the given heads in head order that no
--   other transaction holds and returns them with their group keys: the group gate described below.
--
-- pgmq._read_grouped(queue_name text, vt integer, qty integer, direction text, mode text)
--   RETURNS SETOF pgmq.message_record
--   The one implementation of the three group reads. mode: 'sqs' (read_grouped), 'rr' (read_grouped_rr),
--   'head' (read_grouped_head). vt in seconds; sets vt = clock_timestamp() + vt, read_ct + 1 and
--   last_read_at on every returned row, and returns the rows in selection order.
--   Raises PQ003 for a bad direction or mode, P0001 for an invalid queue name (format_table_name), and
--   42P01 'relation "pgmq.q_x" does not exist' for an unknown queue, as pgmq does.
--
-- pgmq._read_grouped_poll(queue_name text, vt integer, qty integer, max_poll_seconds integer,
--   poll_interval_ms integer, direction text, mode text) RETURNS SETOF pgmq.message_record
--   Repeats pgmq._read_grouped every poll_interval_ms milliseconds until it returns rows or
--   max_poll_seconds seconds have passed (then returns no rows). Raises what _read_grouped raises.
--
-- How groups are kept exclusive. Upstream gates read_grouped_rr with
-- pg_try_advisory_xact_lock(hashtextextended(group, 0)): not namespaced by queue (one group name blocks
-- the same name in every queue), and racy (a reader whose snapshot predates another reader's commit still
-- sees that group's head as visible once the advisory lock is free again). Here every mode gates a group
-- with a row lock on its head, taken FOR UPDATE SKIP LOCKED with the vt condition in the same query level:
-- a head locked by a concurrent reader is skipped, and a head that a concurrent reader updated and
-- committed is re-checked on its newest version (EvalPlanQual), whose vt is now in the future. The row
-- belongs to the queue's own table, so the gate is namespaced by queue by construction, and it is released
-- at commit like an xact advisory lock. Only groups whose head this reader holds contribute rows.

CREATE OR REPLACE FUNCTION pgmq._fifo_index_ready(queue_table text)
RETURNS boolean
LANGUAGE plpgsql
STABLE
AS $$
BEGIN
    -- PL/pgSQL so that the catalog query's plan is cached per session: it runs on every group read.
    RETURN EXISTS (
        SELECT 1
        FROM pg_catalog.pg_index i
        JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
        JOIN pg_catalog.pg_am am ON am.oid = c.relam
        WHERE i.indexrelid = to_regclass(format('pgmq.%I', queue_table || '_fifo_idx'))
          AND am.amname = 'btree'
          AND i.indisvalid
          AND i.indnatts = 2
    );
END;
$$;

CREATE OR REPLACE FUNCTION pgmq._fifo_loose_scan_pays(queue_table text)
RETURNS boolean
LANGUAGE plpgsql
STABLE
AS $$
DECLARE
    v_rows real;
    v_distinct real;
BEGIN
    -- The planner's statistics (from ANALYZE / autovacuum) of the fifo index's group key column: a loose index
    -- scan probe costs roughly ten sequentially scanned rows, so with about one message per group the single
    -- pass is cheaper. Without statistics, assume the index pays.
    SELECT c.reltuples, s.stadistinct
    INTO v_rows, v_distinct
    FROM pg_catalog.pg_class c
    LEFT JOIN pg_catalog.pg_statistic s
        ON s.starelid = to_regclass(format('pgmq.%I', queue_table || '_fifo_idx')) AND s.staattnum = 1 AND NOT s.stainherit
    WHERE c.oid = to_regclass(format('pgmq.%I', queue_table));
    IF v_distinct IS NULL OR v_rows IS NULL OR v_rows <= 0 THEN
        RETURN true;
    END IF;
    IF v_distinct < 0 THEN
        -- Negative stadistinct is a fraction of the rows.
        v_distinct := -v_distinct * v_rows;
    END IF;
    RETURN v_distinct * 10 < v_rows;
END;
$$;

CREATE OR REPLACE FUNCTION pgmq._lock_group_heads(
    queue_table text,
    direction text,
    qty integer,
    group_keys text[],
    heads bigint[],
    OUT locked_keys text[],
    OUT locked_ids bigint[]
)
LANGUAGE plpgsql
AS $$
BEGIN
    -- The group gate (see the file comment): lock the first qty heads, in head order, that no one else
    -- holds. At most qty groups are needed, since each locked group contributes at least its head. The vt
    -- condition sits in the locking query so that a head updated by a reader who committed after our
    -- snapshot is re-checked on its newest version. The primary key returns the = ANY matches in msg_id
    -- order, so the LIMIT stops the scan early. direction is 'ASC' or 'DESC' (validated by the caller).
    EXECUTE format(
        $sql$
        SELECT array_agg(k.group_key ORDER BY l.msg_id %2$s), array_agg(l.msg_id ORDER BY l.msg_id %2$s)
        FROM (
            SELECT m.msg_id
            FROM pgmq.%1$I m
            WHERE m.msg_id = ANY($1)
              AND m.vt <= clock_timestamp()
            ORDER BY m.msg_id %2$s
            LIMIT $2
            FOR UPDATE SKIP LOCKED
        ) l
        JOIN unnest($3::text[], $1::bigint[]) AS k(group_key, msg_id) ON k.msg_id = l.msg_id
        $sql$,
        queue_table, direction
    ) INTO locked_keys, locked_ids USING heads, qty, group_keys;
END;
$$;

CREATE OR REPLACE FUNCTION pgmq._read_grouped(
    queue_name text,
    vt integer,
    qty integer,
    direction text,
    mode text
)
RETURNS SETOF pgmq.message_record
LANGUAGE plpgsql
AS $$
DECLARE
    -- Must stay textually identical to the index expression of pgmq.create_fifo_index, or the planner
    -- will not use the index.
    c_group CONSTANT text := $g$(COALESCE(headers->>'x-pgmq-group', '_default_fifo_group'))$g$;
    v_dir text := pgmq._order_direction(direction);
    v_qtable text;
    v_indexed boolean;
    v_window integer;
    v_scanned bigint;
    v_done boolean := false;
    v_keys text[];
    v_heads bigint[];
    v_locked_keys text[];
    v_selected bigint[];
BEGIN
    IF mode IS NULL OR mode NOT IN ('sqs', 'rr', 'head') THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ003',
            MESSAGE = format('pgmq._read_grouped: mode must be ''sqs'', ''rr'' or ''head'', got %L', mode);
    END IF;
    v_qtable := pgmq.format_table_name(queue_name, 'q');
    -- pgmq's read returns nothing for qty 0; a NULL or negative qty reads nothing too rather than failing
    -- in the middle of a LIMIT.
    IF qty IS NULL OR qty < 1 THEN
        RETURN;
    END IF;

    -- 1. Find the groups whose head is visible, in head order (oldest head first for ASC, newest first for
    --    DESC), and 2. lock the first qty of those heads (pgmq._lock_group_heads).
    v_indexed := pgmq._fifo_index_ready(v_qtable);
    -- 1a. Usually the first heads in order sit among the oldest (ASC) or newest (DESC) few messages: look
    --     there first. Every visible message of that window without an earlier (ASC) or later (DESC)
    --     message of its group is a head, one fifo index probe each. The heads found form a prefix of the
    --     full head order, so when qty of them can be locked (or the window covers the whole queue) the
    --     result equals that of the full search below. pgmq.group_read_window (internal, for tests)
    --     overrides the window size; 0 turns this step off.
    v_window := COALESCE(NULLIF(current_setting('pgmq.group_read_window', true), '')::integer, GREATEST(100, 10 * qty));
    IF v_indexed AND v_window > 0 THEN
        EXECUTE format(
            $sql$
            WITH w AS (
                SELECT %2$s AS group_key, m.msg_id, m.vt
                FROM pgmq.%1$I m
                ORDER BY m.msg_id %3$s
                LIMIT $1
            )
            SELECT array_agg(w.group_key ORDER BY w.msg_id %3$s) FILTER (WHERE w.is_head),
                   array_agg(w.msg_id ORDER BY w.msg_id %3$s) FILTER (WHERE w.is_head),
                   count(*)
            FROM (
                SELECT w.*,
                       CASE WHEN w.vt <= clock_timestamp() THEN NOT EXISTS (
                           SELECT 1 FROM pgmq.%1$I x WHERE %2$s = w.group_key AND x.msg_id %4$s w.msg_id
                       ) ELSE false END AS is_head
                FROM w
            ) w
            $sql$,
            v_qtable, c_group, v_dir, CASE v_dir WHEN 'ASC' THEN '<' ELSE '>' END
        ) INTO v_keys, v_heads, v_scanned USING v_window;
        IF v_heads IS NOT NULL THEN
            SELECT l.locked_keys, l.locked_ids INTO v_locked_keys, v_selected
            FROM pgmq._lock_group_heads(v_qtable, v_dir, qty, v_keys, v_heads) l;
        END IF;
        v_done := COALESCE(cardinality(v_selected), 0) >= qty OR v_scanned < v_window;
    END IF;

    -- 1b. Every group's head.
    IF NOT v_done THEN
        IF v_indexed AND pgmq._fifo_loose_scan_pays(v_qtable) THEN
            -- Loose index scan: each step of the recursion is one index probe that jumps to the next group
            -- key and lands on that group's head, because the index is ordered by (group key, msg_id): ASC
            -- walks it forwards and lands on the group's lowest msg_id, DESC walks it backwards and lands on
            -- the highest. Cost grows with the number of groups, not with the number of queued messages.
            EXECUTE format(
                $sql$
                WITH RECURSIVE head(group_key, msg_id, vt) AS (
                    (SELECT %2$s, m.msg_id, m.vt FROM pgmq.%1$I m ORDER BY 1 %3$s, 2 %3$s LIMIT 1)
                    UNION ALL
                    SELECT n.group_key, n.msg_id, n.vt
                    FROM head
                    CROSS JOIN LATERAL (
                        SELECT %2$s AS group_key, m.msg_id, m.vt
                        FROM pgmq.%1$I m
                        WHERE %2$s %4$s head.group_key
                        ORDER BY 1 %3$s, 2 %3$s
                        LIMIT 1
                    ) n
                )
                SELECT array_agg(h.group_key ORDER BY h.msg_id %3$s), array_agg(h.msg_id ORDER BY h.msg_id %3$s)
                FROM head h
                WHERE h.vt <= clock_timestamp()
                $sql$,
                v_qtable, c_group, v_dir, CASE v_dir WHEN 'ASC' THEN '>' ELSE '<' END
            ) INTO v_keys, v_heads;
        ELSE
            -- No fifo index, or so many groups that nearly every message heads one: one pass over the
            -- queue, O(backlog).
            EXECUTE format(
                $sql$
                SELECT array_agg(h.group_key ORDER BY h.msg_id %3$s),
                       array_agg(h.msg_id ORDER BY h.msg_id %3$s)
                FROM (
                    SELECT DISTINCT ON (1) %2$s AS group_key, m.msg_id, m.vt
                    FROM pgmq.%1$I m
                    ORDER BY 1, m.msg_id %3$s
                ) h
                WHERE h.vt <= clock_timestamp()
                $sql$,
                v_qtable, c_group, v_dir
            ) INTO v_keys, v_heads;
        END IF;
        -- Heads locked in 1a are still ours and still heads; locking them again does not skip them.
        IF v_heads IS NOT NULL THEN
            SELECT l.locked_keys, l.locked_ids INTO v_locked_keys, v_selected
            FROM pgmq._lock_group_heads(v_qtable, v_dir, qty, v_keys, v_heads) l;
        END IF;
    END IF;

    IF v_selected IS NULL THEN
        RETURN;
    END IF;

    -- 3. Fill. 'head' returns the locked heads as they are. 'sqs' takes up to qty visible messages per
    --    locked group, oldest group first, until qty; 'rr' takes them in layers (every group's first
    --    message in head order, then every group's second, ...), cut at qty.
    IF mode <> 'head' AND v_indexed THEN
        -- One index range scan per locked group, stopped after qty visible rows.
        EXECUTE format(
            $sql$
            SELECT array_agg(s.msg_id ORDER BY s.pos)
            FROM (
                SELECT f.msg_id,
                       row_number() OVER (ORDER BY %4$s) AS pos
                FROM unnest($1::text[]) WITH ORDINALITY AS g(group_key, ord)
                CROSS JOIN LATERAL (
                    SELECT m.msg_id, row_number() OVER (ORDER BY m.msg_id %3$s) AS rnk
                    FROM (
                        SELECT m.msg_id
                        FROM pgmq.%1$I m
                        WHERE %2$s = g.group_key
                          AND m.vt <= clock_timestamp()
                        ORDER BY m.msg_id %3$s
                        LIMIT $2
                    ) m
                ) f
                ORDER BY %4$s
                LIMIT $2
            ) s
            $sql$,
            v_qtable, c_group, v_dir,
            CASE mode WHEN 'rr' THEN 'f.rnk, g.ord' ELSE 'g.ord, f.rnk' END
        ) INTO v_selected USING v_locked_keys, qty;
    ELSIF mode <> 'head' THEN
        -- Without the index, one pass over the queue for all locked groups (not one per group).
        EXECUTE format(
            $sql$
            SELECT array_agg(s.msg_id ORDER BY s.pos)
            FROM (
                SELECT f.msg_id,
                       row_number() OVER (ORDER BY %4$s) AS pos
                FROM (
                    SELECT m.msg_id, g.ord,
                           row_number() OVER (PARTITION BY g.ord ORDER BY m.msg_id %3$s) AS rnk
                    FROM pgmq.%1$I m
                    JOIN unnest($1::text[]) WITH ORDINALITY AS g(group_key, ord) ON g.group_key = %2$s
                    WHERE m.vt <= clock_timestamp()
                ) f
                WHERE f.rnk <= $2
                ORDER BY %4$s
                LIMIT $2
            ) s
            $sql$,
            v_qtable, c_group, v_dir,
            CASE mode WHEN 'rr' THEN 'f.rnk, f.ord' ELSE 'f.ord, f.rnk' END
        ) INTO v_selected USING v_locked_keys, qty;
    END IF;

    -- 4. Claim. The heads are ours already; the other rows are locked SKIP LOCKED with vt re-checked, so a
    --    row that changed since the snapshot of step 3 is left alone rather than read twice.
    RETURN QUERY EXECUTE format(
        $sql$
        WITH sel AS (
            SELECT s.msg_id, s.ord
            FROM unnest($1::bigint[]) WITH ORDINALITY AS s(msg_id, ord)
        ),
        claim AS (
            SELECT m.msg_id
            FROM pgmq.%1$I m
            WHERE m.msg_id = ANY($1)
              AND m.vt <= clock_timestamp()
            FOR UPDATE SKIP LOCKED
        ),
        upd AS (
            UPDATE pgmq.%1$I m
            SET vt = clock_timestamp() + make_interval(secs => $2),
                read_ct = m.read_ct + 1,
                last_read_at = clock_timestamp()
            FROM claim
            WHERE m.msg_id = claim.msg_id
            RETURNING m.msg_id, m.read_ct, m.enqueued_at, m.last_read_at, m.vt, m.message, m.headers
        )
        SELECT upd.msg_id, upd.read_ct, upd.enqueued_at, upd.last_read_at, upd.vt, upd.message, upd.headers
        FROM upd
        JOIN sel ON sel.msg_id = upd.msg_id
        ORDER BY sel.ord
        $sql$,
        v_qtable
    ) USING v_selected, vt;
END;
$$;

CREATE OR REPLACE FUNCTION pgmq._read_grouped_poll(
    queue_name text,
    vt integer,
    qty integer,
    max_poll_seconds integer,
    poll_interval_ms integer,
    direction text,
    mode text
)
RETURNS SETOF pgmq.message_record
LANGUAGE plpgsql
AS $$
DECLARE
    -- NULL poll arguments mean "do not wait", rather than an endless loop on a NULL deadline.
    v_deadline timestamptz := clock_timestamp() + make_interval(secs => COALESCE(max_poll_seconds, 0));
BEGIN
    -- Fail on a bad direction before the first sleep, not after.
    PERFORM pgmq._order_direction(direction);
    LOOP
        -- Each turn is a new statement and so, under READ COMMITTED, a new snapshot that sees new rows.
        RETURN QUERY SELECT * FROM pgmq._read_grouped(queue_name, vt, qty, direction, mode);
        IF FOUND OR clock_timestamp() >= v_deadline THEN
            RETURN;
        END IF;
        PERFORM pg_sleep(COALESCE(poll_interval_ms, 0) / 1000.0);
    END LOOP;
END;
$$;
