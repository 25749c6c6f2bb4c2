-- pgmq.validate_routing_key(routing_key text) RETURNS boolean
--
-- Checks a topic routing key: 1 to 255 characters of A-Z, a-z, 0-9, '.', '_' and '-', made of dot-separated
-- non-empty segments (no leading, trailing or doubled dot). Returns true for a valid key and raises PQ003,
-- naming the key, otherwise, so callers can use it as a guard.

CREATE OR REPLACE FUNCTION pgmq.validate_routing_key(routing_key text)
RETURNS boolean
LANGUAGE plpgsql
IMMUTABLE
AS $$
BEGIN
    IF routing_key IS NULL OR routing_key = '' THEN
        RAISE EXCEPTION USING ERRCODE = 'PQ003', MESSAGE = 'pgmq: routing_key must not be NULL or empty';
    END IF;
    IF length(routing_key) > 255 THEN
        RAISE EXCEPTION USING ERRCODE = 'PQ003',
            MESSAGE = format('pgmq: routing_key is too long (%s characters), maximum length is 255', length(routing_key));
    END IF;
    IF routing_key !~ '^[A-Za-z0-9._-]+$' THEN
        RAISE EXCEPTION USING ERRCODE = 'PQ003',
            MESSAGE = format('pgmq: routing_key %L contains invalid characters: only A-Z, a-z, 0-9, ".", "_" and "-" are allowed', routing_key);
    END IF;
    IF routing_key ~ '^\.|\.$|\.\.' THEN
        RAISE EXCEPTION USING ERRCODE = 'PQ003',
            MESSAGE = format('pgmq: routing_key %L has an empty segment (leading, trailing or doubled dot)', routing_key);
    END IF;
    RETURN true;
END;
$$;
