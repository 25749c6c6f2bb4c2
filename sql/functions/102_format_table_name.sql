-- pgmq.format_table_name(queue_name text, prefix text) RETURNS text
--
-- Returns the lower-cased table name '<prefix>_<queue_name>' (prefix 'q' for the queue, 'a' for its
-- archive). Callers must still quote it with format('%I'). Every function that touches a queue goes
-- through here, so this is where names with '$', ';', '--' or a single quote are rejected:
-- raises P0001 'queue name contains invalid characters: $, ;, --, or \''.

CREATE OR REPLACE FUNCTION pgmq.format_table_name(queue_name text, prefix text)
RETURNS text
LANGUAGE plpgsql
IMMUTABLE
AS $$
BEGIN
    IF queue_name ~ '\$|;|--|''' THEN
        RAISE EXCEPTION 'queue name contains invalid characters: $, ;, --, or \''';
    END IF;
    RETURN lower(prefix || '_' || queue_name);
END;
$$;
