-- Records which version of sql/functions/ the database holds. The migrator writes the SHA-256 of the embedded
-- function files here after applying them; the Go driver compares it with its own to detect a database that was
-- migrated by a different binary.

-- +goose Up
CREATE SCHEMA IF NOT EXISTS pgtq;

CREATE TABLE IF NOT EXISTS pgtq.schema_functions (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    hash       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE pgtq.schema_functions IS
    'SHA-256 of the sql/functions files last applied by pgtq-migrate; one row.';

-- +goose Down
DROP TABLE IF EXISTS pgtq.schema_functions;
