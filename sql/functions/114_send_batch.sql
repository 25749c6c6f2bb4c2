-- pgmq.send_batch: enqueues many messages in one statement; returns their msg_ids in array order.
--
-- Six overloads, all after (queue_name text, msgs jsonb[]): none, headers jsonb[], delay integer,
-- delay timestamptz, headers jsonb[] + delay integer, headers jsonb[] + delay timestamptz.
-- delay integer is in seconds from clock_timestamp(); delay timestamptz is absolute. headers[i] belongs to
-- msgs[i]. The (headers, delay timestamptz) form is the one implementation.
-- Raises (P0001, pgmq's texts): 'msgs cannot be NULL or empty'; 'headers array length (h) must match msgs
-- array length (m)' when headers is non-NULL and of another length (an empty array included). Invalid
-- names raise P0001; unknown queues 42P01.
--
-- pgmq._validate_batch_params(msgs jsonb[], headers jsonb[]) RETURNS void: the validation above.

CREATE OR REPLACE FUNCTION pgmq._validate_batch_params(msgs jsonb[], headers jsonb[])
RETURNS void
LANGUAGE plpgsql
IMMUTABLE
AS $$
BEGIN
    IF msgs IS NULL OR cardinality(msgs) = 0 THEN
        RAISE EXCEPTION 'msgs cannot be NULL or empty';
    END IF;
    IF headers IS NOT NULL AND cardinality(headers) <> cardinality(msgs) THEN
        RAISE EXCEPTION 'headers array length (%) must match msgs array length (%)',
            cardinality(headers), cardinality(msgs);
    END IF;
END;
$$;

CREATE OR REPLACE FUNCTION pgmq.send_batch(queue_name text, msgs jsonb[], headers jsonb[], delay timestamptz)
RETURNS SETOF bigint
LANGUAGE plpgsql
AS $$
DECLARE
    v_qtable text := pgmq.format_table_name(queue_name, 'q');
BEGIN
    PERFORM pgmq._validate_batch_params(msgs, headers);
    -- ORDER BY the ordinality so identity values follow array order (unnest pads a NULL headers array
    -- with NULLs); the outer ORDER BY then returns the ids in array order too.
    RETURN QUERY EXECUTE format(
        $sql$
        WITH inserted AS (
            INSERT INTO pgmq.%I (vt, message, headers)
            SELECT $1, b.message, b.headers
            FROM unnest($2, $3) WITH ORDINALITY AS b(message, headers, ord)
            ORDER BY b.ord
            RETURNING msg_id
        )
        SELECT msg_id FROM inserted ORDER BY msg_id
        $sql$,
        v_qtable
    ) USING delay, msgs, headers;
END;
$$;

CREATE OR REPLACE FUNCTION pgmq.send_batch(queue_name text, msgs jsonb[], headers jsonb[], delay integer)
RETURNS SETOF bigint
LANGUAGE sql
AS $$
    SELECT * FROM pgmq.send_batch(queue_name, msgs, headers, clock_timestamp() + make_interval(secs => delay));
$$;

CREATE OR REPLACE FUNCTION pgmq.send_batch(queue_name text, msgs jsonb[])
RETURNS SETOF bigint
LANGUAGE sql
AS $$
    SELECT * FROM pgmq.send_batch(queue_name, msgs, NULL::jsonb[], clock_timestamp());
$$;

CREATE OR REPLACE FUNCTION pgmq.send_batch(queue_name text, msgs jsonb[], headers jsonb[])
RETURNS SETOF bigint
LANGUAGE sql
AS $$
    SELECT * FROM pgmq.send_batch(queue_name, msgs, headers, clock_timestamp());
$$;

CREATE OR REPLACE FUNCTION pgmq.send_batch(queue_name text, msgs jsonb[], delay integer)
RETURNS SETOF bigint
LANGUAGE sql
AS $$
    SELECT * FROM pgmq.send_batch(queue_name, msgs, NULL::jsonb[], clock_timestamp() + make_interval(secs => delay));
$$;

CREATE OR REPLACE FUNCTION pgmq.send_batch(queue_name text, msgs jsonb[], delay timestamptz)
RETURNS SETOF bigint
LANGUAGE sql
AS $$
    SELECT * FROM pgmq.send_batch(queue_name, msgs, NULL::jsonb[], delay);
$$;
