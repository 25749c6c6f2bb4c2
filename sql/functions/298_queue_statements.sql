-- Re-installs every task queue's statement functions (sql/statements, see 215_queue_statements.sql) from the
-- templates just loaded, so that they never lag behind the generic functions that call them, and makes sure
-- each queue has its recorded indexes and trigger (pgtq._setup; a no-op where they exist). Runs in the
-- migration's transaction: sessions see the old set or the new one, never a mix.
-- Raises nothing.

DO $$
BEGIN
    PERFORM pgtq._install_queue_statements(q.queue_id) FROM pgtq.queues q ORDER BY q.queue_id;
    PERFORM pgtq._setup(q.queue_id) FROM pgtq.queues q ORDER BY q.queue_id;
END
$$;
