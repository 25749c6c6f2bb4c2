-- pgmq.validate_topic_pattern(pattern text) RETURNS boolean
--
-- Checks a topic binding pattern as pgmq does: 1 to 255 characters of A-Z, a-z, 0-9, '.', '_', '-', '*' and
-- '#', not starting or ending with a dot, without two dots in a row and without two wildcards in a row. A
-- wildcard may share a segment with text ('a*' is valid, as in pgmq: '*' compiles to '[^.]+' and '#' to '.*'
-- wherever they stand, see pgmq.topic_bindings.compiled_regex). Returns true for a valid pattern and raises
-- otherwise. Raises P0001 with pgmq's texts, checked in this order:
--   'pattern cannot be NULL or empty'
--   'pattern length cannot exceed 255 characters, got <n> characters'
--   'pattern contains invalid characters. Only alphanumeric, dots, hyphens, underscores, *, and # are allowed. Got: <p>'
--   'pattern cannot start with a dot. Got: <p>'
--   'pattern cannot end with a dot. Got: <p>'
--   'pattern cannot contain consecutive dots. Got: <p>'
--   'pattern cannot contain consecutive stars (**). Use # for multi-segment matching. Got: <p>'
--   'pattern cannot contain consecutive hashes (##). A single # already matches zero or more segments. Got: <p>'
--   'pattern cannot contain adjacent wildcards (*# or #*). Separate wildcards with dots. Got: <p>'

CREATE OR REPLACE FUNCTION pgmq.validate_topic_pattern(pattern text)
RETURNS boolean
LANGUAGE plpgsql
IMMUTABLE
AS $$
BEGIN
    IF pattern IS NULL OR pattern = '' THEN
        RAISE EXCEPTION 'pattern cannot be NULL or empty';
    END IF;
    IF length(pattern) > 255 THEN
        RAISE EXCEPTION 'pattern length cannot exceed 255 characters, got % characters', length(pattern);
    END IF;
    IF pattern !~ '^[A-Za-z0-9._*#-]+$' THEN
        RAISE EXCEPTION 'pattern contains invalid characters. Only alphanumeric, dots, hyphens, underscores, *, and # are allowed. Got: %',
            pattern;
    END IF;
    IF pattern ~ '^\.' THEN
        RAISE EXCEPTION 'pattern cannot start with a dot. Got: %', pattern;
    END IF;
    IF pattern ~ '\.$' THEN
        RAISE EXCEPTION 'pattern cannot end with a dot. Got: %', pattern;
    END IF;
    IF pattern ~ '\.\.' THEN
        RAISE EXCEPTION 'pattern cannot contain consecutive dots. Got: %', pattern;
    END IF;
    IF pattern ~ '\*\*' THEN
        RAISE EXCEPTION 'pattern cannot contain consecutive stars (**). Use # for multi-segment matching. Got: %', pattern;
    END IF;
    IF pattern ~ '##' THEN
        RAISE EXCEPTION 'pattern cannot contain consecutive hashes (##). A single # already matches zero or more segments. Got: %',
            pattern;
    END IF;
    IF pattern ~ '\*#|#\*' THEN
        RAISE EXCEPTION 'pattern cannot contain adjacent wildcards (*# or #*). Separate wildcards with dots. Got: %', pattern;
    END IF;
    RETURN true;
END;
$$;
