-- Privileges on schema pgtq's functions, re-applied last on every migrate (functions are re-created there).
--
-- Every pgtq function is SECURITY DEFINER with a pinned search_path, so the roles need only EXECUTE:
--   pgtq_producer  enqueue, enqueue_batch
--   pgtq_worker    the producer's, plus read, complete, fail, extend_lease, release, next_due, prune_due
--                  (which never prunes below the queue's retention, see 211_prune.sql)
--   pgtq_admin     every public function (queue management, stats, list_dlq, reschedule, prune, set_retention)
-- Producers can enqueue only into registered queues (pgtq._queue's may_register), so they cannot make pgtq
-- build indexes and triggers on arbitrary pgmq queues.
-- Internal helpers (pgtq._*) are executable by no role: only the definer functions call them.
-- Raises nothing.

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pgtq FROM PUBLIC;

GRANT EXECUTE ON FUNCTION
    pgtq.enqueue(text, jsonb, text, integer, jsonb, text),
    pgtq.enqueue_batch(text, jsonb[], text[], integer, jsonb[])
TO pgtq_producer, pgtq_worker, pgtq_admin;

GRANT EXECUTE ON FUNCTION
    pgtq.read(text, integer, integer, boolean, boolean, integer, integer),
    pgtq.complete(text, bigint, integer),
    pgtq.complete(text, bigint[], integer[]),
    pgtq.fail(text, bigint, integer, text, boolean, integer, integer),
    pgtq.extend_lease(text, bigint, integer, integer),
    pgtq.release(text, bigint, integer),
    pgtq.next_due(text),
    pgtq.prune_due(text, interval, integer, interval)
TO pgtq_worker, pgtq_admin;

GRANT EXECUTE ON FUNCTION
    pgtq.create_queue(text, boolean, text),
    pgtq.drop_queue(text),
    pgtq.reschedule(text, bigint),
    pgtq.prune(text, interval, integer),
    pgtq.set_retention(text, interval),
    pgtq.stats(text),
    pgtq.list_dlq(text, integer)
TO pgtq_admin;

GRANT EXECUTE ON FUNCTION pgtq.schema_version() TO pgtq_producer, pgtq_worker, pgtq_admin;

-- Operating a queue (issue 12, 220-229): listing, inspection, cancel, retry now, pause/resume, bulk reschedule
-- and DLQ purge are administration: pgtq_admin only.
GRANT EXECUTE ON FUNCTION
    pgtq.list_queues(),
    pgtq.list_tasks(text, text, text, bigint, integer),
    pgtq.list_archive(text, bigint, integer),
    pgtq.get_task(text, bigint, text),
    pgtq.cancel(text, bigint),
    pgtq.retry_now(text, bigint),
    pgtq.pause(text),
    pgtq.resume(text),
    pgtq.reschedule_all(text, text, text),
    pgtq.purge_dlq(text, interval)
TO pgtq_admin;
