-- pgtq.schema_version() RETURNS TABLE (migration bigint, patch integer, compatible_since bigint, hash text,
--                                      applied_at timestamptz)
--
-- The schema version recorded by the pgtq-migrate run that last applied the function files: migration (S, the
-- newest migration number of that binary), patch (P, its function patch number), compatible_since (the oldest
-- S whose clients still work with these functions), hash (SHA-256 of the function and statement files) and
-- applied_at. Returns no row when the functions were never recorded (or after `pgtq-migrate down`), and NULL
-- migration, patch and compatible_since for a row recorded before schema versions existed.
-- SECURITY DEFINER so that the pgtq roles, which have no rights on pgtq.schema_functions, can call it: the Go
-- driver does in driver.New.
-- Raises nothing.

CREATE OR REPLACE FUNCTION pgtq.schema_version()
RETURNS TABLE (migration bigint, patch integer, compatible_since bigint, hash text, applied_at timestamptz)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT s.migration, s.patch, s.compatible_since, s.hash, s.applied_at FROM pgtq.schema_functions AS s
$$;
