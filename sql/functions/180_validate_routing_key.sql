-- pgmq.validate_routing_key(routing_key text) RETURNS boolean
--
-- Checks a topic routing key as pgmq does: 1 to 255 characters of A-Z, a-z, 0-9, '.', '_' and '-', not
-- starting or ending with a dot, without two dots in a row. Returns true for a valid key and raises
-- otherwise, so callers use it as a guard. Raises P0001 with pgmq's texts, checked in this order:
--   'routing_key cannot be NULL or empty'
--   'routing_key length cannot exceed 255 characters, got <n> characters'
--   'routing_key contains invalid characters. Only alphanumeric, dots, hyphens, and underscores are allowed. Got: <key>'
--   'routing_key cannot start with a dot. Got: <key>'
--   'routing_key cannot end with a dot. Got: <key>'
--   'routing_key cannot contain consecutive dots. Got: <key>'

CREATE OR REPLACE FUNCTION pgmq.validate_routing_key(routing_key text)
RETURNS boolean
LANGUAGE plpgsql
IMMUTABLE
AS $$
BEGIN
    IF routing_key IS NULL OR routing_key = '' THEN
        RAISE EXCEPTION 'routing_key cannot be NULL or empty';
    END IF;
    IF length(routing_key) > 255 THEN
        RAISE EXCEPTION 'routing_key length cannot exceed 255 characters, got % characters', length(routing_key);
    END IF;
    IF routing_key !~ '^[A-Za-z0-9._-]+$' THEN
        RAISE EXCEPTION 'routing_key contains invalid characters. Only alphanumeric, dots, hyphens, and underscores are allowed. Got: %',
            routing_key;
    END IF;
    IF routing_key ~ '^\.' THEN
        RAISE EXCEPTION 'routing_key cannot start with a dot. Got: %', routing_key;
    END IF;
    IF routing_key ~ '\.$' THEN
        RAISE EXCEPTION 'routing_key cannot end with a dot. Got: %', routing_key;
    END IF;
    IF routing_key ~ '\.\.' THEN
        RAISE EXCEPTION 'routing_key cannot contain consecutive dots. Got: %', routing_key;
    END IF;
    RETURN true;
END;
$$;
