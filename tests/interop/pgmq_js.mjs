// Drives the npm client pgmq-js against PGTQ's schema pgmq the way an application would: every method of its
// queue and message managers, with the extension creation turned off (schema pgmq is installed by
// pgtq-migrate, not as an extension). Run by tests/go/interop_pgmqjs_test.go:
//
//   PGTQ_INTEROP_URL=postgres://user@host:port/db node tests/interop/pgmq_js.mjs
//
// Prints "ok <number of checks>" and exits 0, or prints the first difference and exits 1.
import assert from 'node:assert/strict';
import { Pgmq } from 'pgmq-js';

const url = new URL(process.env.PGTQ_INTEROP_URL ?? '');
const pgmq = await Pgmq.new(
  {
    host: url.hostname,
    port: Number(url.port || 5432),
    database: decodeURIComponent(url.pathname.slice(1)),
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    ssl: false, // pgmq-js defaults to SSL
    max: 2,
  },
  { skipExtensionCreation: true },
);

let checks = 0;
const eq = (actual, expected, what) => {
  assert.deepEqual(actual, expected, what);
  checks++;
};

try {
  const q = 'js_queue';
  await pgmq.queue.create(q);
  await pgmq.queue.createUnlogged('js_unlogged');
  const queues = await pgmq.queue.list();
  eq(queues.map((x) => [x.name, x.isPartitioned, x.isUnlogged]).sort(),
    [['js_queue', false, false], ['js_unlogged', false, true]], 'list');
  eq(queues.every((x) => !Number.isNaN(x.createdAt.getTime())), true, 'list: createdAt');

  // send / sendBatch / read / readBatch: ids, bodies and read counts as the client maps them.
  eq(await pgmq.msg.send(q, { n: 1 }), 1, 'send');
  eq(await pgmq.msg.sendBatch(q, [{ n: 2 }, { n: 3 }, { n: 4 }]), [2, 3, 4], 'sendBatch');
  eq(await pgmq.msg.send(q, { n: 5 }, 3600), 5, 'send with a delay');
  const first = await pgmq.msg.read(q, 30);
  eq([first.msgId, first.readCount, first.message], [1, 1, { n: 1 }], 'read');
  eq(first.vt > new Date(), true, 'read: vt in the future');
  eq((await pgmq.msg.readBatch(q, 30, 10)).map((m) => m.msgId), [2, 3, 4], 'readBatch: the delayed message stays hidden');
  eq(await pgmq.msg.read(q, 30), undefined, 'read of an empty queue');

  // setVt sends three untyped parameters, which cannot choose between set_vt's four overloads (msg_id or
  // msg_ids, integer or timestamptz vt). Upstream pgmq has the same overloads since 1.10 and fails the same way.
  await assert.rejects(pgmq.msg.setVt(q, 5, 0), /function pgmq\.set_vt\(unknown, unknown, unknown\) is not unique/);
  checks++;

  // archive / delete, single and batch.
  eq([await pgmq.msg.archive(q, 1), await pgmq.msg.delete(q, 2)], [true, true], 'archive, delete');
  eq([await pgmq.msg.archive(q, 1), await pgmq.msg.delete(q, 2)], [false, false], 'archive, delete of gone messages');
  eq(await pgmq.msg.archiveBatch(q, [3, 99]), [3], 'archiveBatch');
  eq(await pgmq.msg.deleteBatch(q, [4, 99]), [4], 'deleteBatch');

  // pop.
  const id6 = await pgmq.msg.send(q, { n: 6 });
  const popped = await pgmq.msg.pop(q);
  eq([popped.msgId, popped.readCount, popped.message], [id6, 0, { n: 6 }], 'pop');
  eq(await pgmq.msg.pop(q), undefined, 'pop of an empty queue');

  // metrics: the delayed message 5 is still in the queue.
  const m = await pgmq.queue.getMetrics(q);
  eq([m.queueName, m.queueLength, m.totalMessages], [q, 1, 6], 'getMetrics');
  eq((await pgmq.queue.getAllMetrics()).map((x) => x.queueName).sort(), ['js_queue', 'js_unlogged'], 'getAllMetrics');

  // purge, detachArchive (a no-op with a warning), drop.
  await pgmq.queue.purge(q);
  eq((await pgmq.queue.getMetrics(q)).queueLength, 0, 'purge');
  await pgmq.queue.detachArchive(q);
  await pgmq.queue.drop(q);
  await pgmq.queue.drop('js_unlogged');
  eq(await pgmq.queue.list(), [], 'drop');
  console.log(`ok ${checks}`);
} catch (err) {
  console.log(`FAIL after ${checks} checks: ${err?.stack ?? err}`);
  process.exitCode = 1;
} finally {
  await pgmq.close();
}
