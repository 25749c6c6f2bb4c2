-- pgmq.read_grouped_rr(queue_name text, vt integer, qty integer, direction text DEFAULT 'ASC')
--   RETURNS SETOF pgmq.message_record
--
-- Round-robin FIFO group read: among the groups whose head is visible, takes every group's first visible
-- message (groups in head order), then every group's second, and so on, cut at qty, so that a batch spreads
-- over the groups. A group whose head is in flight (or delayed) is skipped whole.
-- vt: seconds the returned messages stay invisible (vt = clock_timestamp() + vt); read_ct is incremented
-- and last_read_at set on each. qty: the most messages returned (qty < 1 returns none). direction: 'ASC'
-- (FIFO: a group's head is its oldest message, groups ranked oldest head first) or 'DESC' (LIFO: a group's
-- head is its newest message, groups ranked newest head first), case-insensitive. Group = header
-- x-pgmq-group (missing or null: '_default_fifo_group'; '' is a group of its own). Rows come back in
-- selection order. Implementation and locking: pgmq._read_grouped in 150_internal_group_reads.sql; with
-- pgmq.create_fifo_index the cost grows with the number of groups, not with the backlog.
-- Raises PQ003 for a bad direction, P0001 for an invalid queue name, 42P01 for an unknown queue.

CREATE OR REPLACE FUNCTION pgmq.read_grouped_rr(
    queue_name text,
    vt integer,
    qty integer,
    direction text DEFAULT 'ASC'
)
RETURNS SETOF pgmq.message_record
LANGUAGE sql
AS $$
    SELECT * FROM pgmq._read_grouped(queue_name, vt, qty, direction, 'rr');
$$;
