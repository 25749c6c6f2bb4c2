-- Re-creates every task queue's statement functions (see 215_queue_statements.sql) from the code just
-- migrated, so that they never lag behind the generic functions that call them. Runs in the migration's
-- transaction: sessions see the old set or the new one, never a mix.
-- Raises nothing.

DO $$
BEGIN
    PERFORM pgtq._install_queue_statements(q.queue_name) FROM pgtq.queues q ORDER BY q.queue_name;
END
$$;
