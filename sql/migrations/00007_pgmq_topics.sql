-- pgmq.topic_bindings.compiled_regex as upstream pgmq compiles it (PGMQ-API.md section 5): '^' || p || '$',
-- where p is the pattern with the regex metacharacters . + ? { } ( ) | [ ] \ ^ $ backslash-escaped, then every
-- '*' replaced by '[^.]+' (one segment) and every '#' by '.*' (anything). So 'logs.#' matches 'logs.a' and
-- 'logs.a.b' but not 'logs' (the dot before '#' stays), and '#' alone matches every key. Our first version
-- followed the AMQP rule instead ('logs.#' also matched 'logs'), so the same bindings routed differently here
-- and upstream.
--
-- A generation expression cannot be altered in PostgreSQL 15: the column is dropped and added again, which
-- recomputes it for every existing binding. The covering index includes the column and is rebuilt with it.

-- +goose Up
DROP INDEX pgmq.idx_topic_bindings_covering;
ALTER TABLE pgmq.topic_bindings DROP COLUMN compiled_regex;
ALTER TABLE pgmq.topic_bindings ADD COLUMN compiled_regex text GENERATED ALWAYS AS (
    '^' ||
    replace(
        replace(
            regexp_replace(pattern, '([.+?{}()|\[\]\\^$])', '\\\1', 'g'),
            '*', '[^.]+'),
        '#', '.*') ||
    '$'
) STORED;
-- Routing reads every binding; the covering index lets it do so with an index-only scan.
CREATE INDEX idx_topic_bindings_covering ON pgmq.topic_bindings (pattern) INCLUDE (queue_name, compiled_regex);

-- +goose Down
DROP INDEX pgmq.idx_topic_bindings_covering;
ALTER TABLE pgmq.topic_bindings DROP COLUMN compiled_regex;
ALTER TABLE pgmq.topic_bindings ADD COLUMN compiled_regex text GENERATED ALWAYS AS (
    '^' ||
    CASE
        WHEN regexp_replace(pattern, '#(\.#)+', '#', 'g') = '#' THEN '.*'
        ELSE replace(
            regexp_replace(
                replace(replace(regexp_replace(pattern, '#(\.#)+', '#', 'g'), '.', '\.'), '*', '[^.]+'),
                '^#\\\.', '(?:[^.]+\.)*'),
            '\.#', '(?:\.[^.]+)*')
    END ||
    '$'
) STORED;
CREATE INDEX idx_topic_bindings_covering ON pgmq.topic_bindings (pattern) INCLUDE (queue_name, compiled_regex);
