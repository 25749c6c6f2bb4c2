-- Schema pgtq: the task queue on top of schema pgmq (tables, types, roles). Functions live in
-- sql/functions/2NN_*.sql and are re-applied after every migration run; their grants are in 299_grants.sql.
--
-- Objects:
--   pgtq.queues  one row per task queue (registered by pgtq.create_queue, or lazily for queues made with plain
--                pgmq.create): DLQ name, retention, last prune time.
--   pgtq.groups  one row per active group of a queue (a group with tasks in the queue table). busy_msg_id is
--                the task that holds the group (processing, or waiting to retry); NULL = idle. Grouped reads
--                walk these rows instead of the backlog (FIFO: O(qty) through the head_msg_id hint; LIFO: a
--                window of the newest tasks, at worst every idle group), never O(backlog).
--   pgtq.task    the row type pgtq.read returns; field order is API (the Go driver scans it positionally).
--   pgtq.stats   the row type pgtq.stats returns.
--   roles        pgtq_producer, pgtq_worker, pgtq_admin (NOLOGIN, cluster-wide, created only when missing).

-- +goose Up
CREATE SCHEMA IF NOT EXISTS pgtq;

CREATE TABLE pgtq.queues (
    queue_name     text PRIMARY KEY,
    -- NULL: the queue has no dead-letter queue; final failures are archived with status 'failed'.
    dlq_name       text NULL,
    -- Default age for pgtq.prune/prune_due when the caller passes older_than NULL. NULL: caller must pass one.
    retention      interval NULL,
    -- Start of the last prune run (pgtq.prune_due claims a run by moving it forward).
    last_pruned_at timestamptz NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE pgtq.groups (
    queue_name  text NOT NULL,
    group_key   text NOT NULL,
    -- The task holding the group (claimed by a grouped read and not yet completed, dead-lettered or released;
    -- a task waiting to retry keeps it). NULL = idle: the group's next visible task may start.
    busy_msg_id bigint NULL,
    -- Ordering hint for FIFO grouped reads: the group's oldest task when the row was created or its last busy
    -- task finished. Never used for correctness (the real head is probed in the queue table); it lets a read
    -- walk idle groups oldest-first and stop after qty heads instead of probing every group.
    head_msg_id bigint NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (queue_name, group_key)
);

-- Grouped reads walk only idle groups of one queue, oldest head first.
CREATE INDEX groups_idle_idx ON pgtq.groups (queue_name, head_msg_id) WHERE busy_msg_id IS NULL;
-- ... and the busy groups (to redeliver a busy task whose lease expired or whose retry is due).
CREATE INDEX groups_busy_idx ON pgtq.groups (queue_name) WHERE busy_msg_id IS NOT NULL;

-- Field order is part of the API.
CREATE TYPE pgtq.task AS (
    msg_id      bigint,
    attempt     integer,
    task_id     text,
    group_key   text,
    enqueued_at timestamptz,
    vt          timestamptz,
    payload     jsonb,
    headers     jsonb
);

CREATE TYPE pgtq.stats AS (
    queue_name                text,
    queued                    bigint,  -- visible now, waiting for a worker (status queued)
    delayed                   bigint,  -- status queued but not visible yet (enqueued with a delay)
    processing                bigint,  -- status processing (claimed, lease live or expired but not re-read)
    retrying                  bigint,  -- status retrying (failed, waiting for retry_delay)
    dlq                       bigint,  -- messages in the dead-letter queue (0 without one)
    archived                  bigint,  -- rows in the queue's archive (completed, failed, dead_lettered)
    oldest_queued_age_seconds double precision  -- age of the oldest visible queued task, NULL if none
);

-- Roles are cluster-wide: create them only when missing, and tolerate another database's migration creating
-- them at the same moment (two CREATE ROLE race on pg_authid's unique index).
-- +goose StatementBegin
DO $$
DECLARE
    v_role text;
BEGIN
    FOREACH v_role IN ARRAY ARRAY['pgtq_producer', 'pgtq_worker', 'pgtq_admin'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = v_role) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', v_role);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;
            END;
        END IF;
    END LOOP;
END
$$;
-- +goose StatementEnd

-- Every pgtq function is SECURITY DEFINER: the roles need only USAGE on the schema (for the types) and EXECUTE
-- on their functions (granted in sql/functions/299_grants.sql), no rights on any table.
GRANT USAGE ON SCHEMA pgtq TO pgtq_producer, pgtq_worker, pgtq_admin;
ALTER DEFAULT PRIVILEGES IN SCHEMA pgtq REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
GRANT SELECT ON pgtq.queues, pgtq.groups TO pgtq_admin;

-- +goose Down
ALTER DEFAULT PRIVILEGES IN SCHEMA pgtq GRANT EXECUTE ON FUNCTIONS TO PUBLIC;
DROP SCHEMA pgtq CASCADE;
