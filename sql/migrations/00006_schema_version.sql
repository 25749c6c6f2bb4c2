-- Schema versions "S.P" next to the function hash: pgtq-migrate records, when it applies the function files,
-- the newest migration number of its binary (S, migration), its function patch number (P, patch) and the
-- oldest S whose clients still work with these functions (compatible_since). An older pgtq-migrate refuses
-- to replace newer functions, and the driver (through pgtq.schema_version(), sql/functions/216) accepts a
-- database inside its compatibility window. Rows written before this migration have NULLs until the next
-- function application.
--
-- pgtq_admin may read the recorded version and goose's version table, so that `pgtq-migrate status` works
-- when connected as an administrator that is not the schema owner.

-- +goose Up
ALTER TABLE pgtq.schema_functions
    ADD COLUMN IF NOT EXISTS migration bigint,
    ADD COLUMN IF NOT EXISTS patch integer,
    ADD COLUMN IF NOT EXISTS compatible_since bigint;

COMMENT ON TABLE pgtq.schema_functions IS
    'The sql/functions files last applied by pgtq-migrate: schema version migration.patch, the oldest client '
    'migration they serve (compatible_since) and their SHA-256; one row.';

GRANT SELECT ON pgtq.schema_functions TO pgtq_admin;

-- +goose StatementBegin
DO $$
BEGIN
    -- goose's default version table; a migrator configured with another table grants it itself.
    IF to_regclass('public.pgtq_migrations') IS NOT NULL THEN
        GRANT SELECT ON public.pgtq_migrations TO pgtq_admin;
    END IF;
END $$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DO $$
BEGIN
    IF to_regclass('public.pgtq_migrations') IS NOT NULL THEN
        REVOKE SELECT ON public.pgtq_migrations FROM pgtq_admin;
    END IF;
END $$;
-- +goose StatementEnd

REVOKE SELECT ON pgtq.schema_functions FROM pgtq_admin;

-- The function reads the columns dropped below; the next `up` re-creates it.
DROP FUNCTION IF EXISTS pgtq.schema_version();

ALTER TABLE pgtq.schema_functions
    DROP COLUMN IF EXISTS migration,
    DROP COLUMN IF EXISTS patch,
    DROP COLUMN IF EXISTS compatible_since;

COMMENT ON TABLE pgtq.schema_functions IS
    'SHA-256 of the sql/functions files last applied by pgtq-migrate; one row.';
