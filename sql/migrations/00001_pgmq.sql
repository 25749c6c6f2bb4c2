-- Schema pgmq: PGTQ's own implementation of the pgmq SQL interface (tables and types only).
--
-- The functions live in sql/functions/1NN_*.sql and are re-applied after every migration run.
-- Installing this schema beside the real pgmq extension is refused with SQLSTATE PQ006: both would
-- claim schema pgmq and its tables, and the extension's functions would silently mix with ours.

-- +goose Up
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pgmq') THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PQ006',
            MESSAGE = 'the pgmq extension is installed in this database; PGTQ ships its own schema pgmq and cannot be installed beside it',
            HINT = 'Use a database without the pgmq extension, or DROP EXTENSION pgmq after moving its queues.';
    END IF;
END
$$;
-- +goose StatementEnd

-- A plain CREATE SCHEMA (no IF NOT EXISTS): an existing schema pgmq that is not ours must stop the migration.
CREATE SCHEMA pgmq;

-- Field order is part of the API: clients decode these records positionally.
CREATE TYPE pgmq.message_record AS (
    msg_id bigint,
    read_ct integer,
    enqueued_at timestamptz,
    last_read_at timestamptz,
    vt timestamptz,
    message jsonb,
    headers jsonb
);

CREATE TYPE pgmq.queue_record AS (
    queue_name varchar,
    is_partitioned boolean,
    is_unlogged boolean,
    created_at timestamptz
);

CREATE TYPE pgmq.metrics_result AS (
    queue_name text,
    queue_length bigint,
    newest_msg_age_sec integer,
    oldest_msg_age_sec integer,
    total_messages bigint,
    scrape_time timestamptz,
    queue_visible_length bigint,
    default_partition_length bigint
);

-- One row per queue, name stored as given (case kept), as pgmq does.
CREATE TABLE pgmq.meta (
    queue_name varchar UNIQUE NOT NULL,
    is_partitioned boolean NOT NULL,
    is_unlogged boolean NOT NULL,
    created_at timestamptz DEFAULT now()
);

-- Throttle state of NOTIFY on insert. UNLOGGED: it is only a rate limiter, losing it on a crash is harmless,
-- and it is updated on every notifying insert, so WAL for it would be pure overhead.
CREATE UNLOGGED TABLE pgmq.notify_insert_throttle (
    queue_name varchar UNIQUE NOT NULL REFERENCES pgmq.meta (queue_name) ON DELETE CASCADE,
    throttle_interval_ms integer NOT NULL DEFAULT 0,
    last_notified_at timestamptz NOT NULL DEFAULT to_timestamp(0)
);

CREATE INDEX idx_notify_throttle_active
    ON pgmq.notify_insert_throttle (queue_name, last_notified_at)
    WHERE throttle_interval_ms > 0;

-- Topic routing (AMQP-like): a message sent with a routing key goes to every queue bound by a matching pattern.
-- Patterns are dot-separated segments; a '*' segment matches exactly one segment, a '#' segment zero or more.
-- compiled_regex is derived here, in the table, so every reader matches with the same anchored regex:
-- repeated '#' segments collapse to one, dots are escaped, '*' becomes one segment, a leading '#.' becomes
-- "any segments followed by a dot" and every other '.#' becomes "any further segments". Patterns are
-- validated (pgmq.validate_topic_pattern) before they get here, so no other regex metacharacters occur.
CREATE TABLE pgmq.topic_bindings (
    pattern text NOT NULL,
    queue_name text NOT NULL REFERENCES pgmq.meta (queue_name) ON DELETE CASCADE,
    bound_at timestamptz NOT NULL DEFAULT now(),
    compiled_regex text GENERATED ALWAYS AS (
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
    ) STORED,
    CONSTRAINT topic_bindings_unique_pattern_queue UNIQUE (pattern, queue_name)
);

-- Routing reads every binding; the covering index lets it do so with an index-only scan.
CREATE INDEX idx_topic_bindings_covering ON pgmq.topic_bindings (pattern) INCLUDE (queue_name, compiled_regex);

-- Monitoring roles may read everything in pgmq, including queue tables created later.
GRANT USAGE ON SCHEMA pgmq TO pg_monitor;
GRANT SELECT ON ALL TABLES IN SCHEMA pgmq TO pg_monitor;
GRANT SELECT ON ALL SEQUENCES IN SCHEMA pgmq TO pg_monitor;
ALTER DEFAULT PRIVILEGES IN SCHEMA pgmq GRANT SELECT ON TABLES TO pg_monitor;
ALTER DEFAULT PRIVILEGES IN SCHEMA pgmq GRANT SELECT ON SEQUENCES TO pg_monitor;

-- +goose Down
ALTER DEFAULT PRIVILEGES IN SCHEMA pgmq REVOKE SELECT ON TABLES FROM pg_monitor;
ALTER DEFAULT PRIVILEGES IN SCHEMA pgmq REVOKE SELECT ON SEQUENCES FROM pg_monitor;
DROP SCHEMA pgmq CASCADE;
