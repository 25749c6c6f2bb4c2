-- pgmq.validate_topic_pattern(pattern text) RETURNS boolean
--
-- Checks a topic binding pattern: 1 to 255 characters of A-Z, a-z, 0-9, '.', '_', '-', '*' and '#', made of
-- dot-separated non-empty segments, where '*' (exactly one segment) and '#' (zero or more segments) must
-- each be a whole segment (AMQP topic rules; 'a*' is rejected rather than given a meaning of our own).
-- Returns true for a valid pattern and raises PQ003, naming the pattern, otherwise.

CREATE OR REPLACE FUNCTION pgmq.validate_topic_pattern(pattern text)
RETURNS boolean
LANGUAGE plpgsql
IMMUTABLE
AS $$
BEGIN
    IF pattern IS NULL OR pattern = '' THEN
        RAISE EXCEPTION USING ERRCODE = 'PQ003', MESSAGE = 'pgmq: pattern must not be NULL or empty';
    END IF;
    IF length(pattern) > 255 THEN
        RAISE EXCEPTION USING ERRCODE = 'PQ003',
            MESSAGE = format('pgmq: pattern is too long (%s characters), maximum length is 255', length(pattern));
    END IF;
    IF pattern !~ '^[A-Za-z0-9._*#-]+$' THEN
        RAISE EXCEPTION USING ERRCODE = 'PQ003',
            MESSAGE = format('pgmq: pattern %L contains invalid characters: only A-Z, a-z, 0-9, ".", "_", "-", "*" and "#" are allowed', pattern);
    END IF;
    IF pattern ~ '^\.|\.$|\.\.' THEN
        RAISE EXCEPTION USING ERRCODE = 'PQ003',
            MESSAGE = format('pgmq: pattern %L has an empty segment (leading, trailing or doubled dot)', pattern);
    END IF;
    -- A wildcard followed or preceded by anything but a dot or the pattern's edge is part of a longer segment.
    IF pattern ~ '[^.][*#]|[*#][^.]' THEN
        RAISE EXCEPTION USING ERRCODE = 'PQ003',
            MESSAGE = format('pgmq: pattern %L is invalid: "*" and "#" must be whole segments', pattern);
    END IF;
    RETURN true;
END;
$$;
