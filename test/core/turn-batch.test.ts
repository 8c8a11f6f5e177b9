// TurnBatch (src/store/turn-batch.ts): one transaction per event-loop turn, answers only after
// the commit, a failing job leaves nothing behind, a failed commit fails every job. And the
// route that uses it: concurrent /boot.ipxe requests (curl) are all answered and recorded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { openDatabase } from '../../src/store/db.js';
import { TurnBatch } from '../../src/store/turn-batch.js';
import { makeFixture, startDaemon } from '../helpers/fixture.js';

const run = promisify(execFile);

function db() {
  const d = openDatabase(':memory:');
  d.exec('CREATE TABLE t (k TEXT PRIMARY KEY)');
  return d;
}

test('turn batch: jobs of one turn share one commit and settle after it', async () => {
  const d = db();
  const b = new TurnBatch((fn) => d.transaction(fn)());
  const ins = d.prepare('INSERT INTO t VALUES (?)');
  const seen: number[] = [];
  const ps = Array.from({ length: 20 }, (_, i) =>
    b.run(() => (ins.run(`k${i}`), i)).then((v) => {
      // settled after the commit: the row is visible outside any transaction
      assert.equal(d.inTransaction, false);
      assert.ok(d.prepare('SELECT 1 FROM t WHERE k = ?').get(`k${v}`));
      seen.push(v);
    }),
  );
  await Promise.all(ps);
  assert.equal(seen.length, 20);
  assert.deepEqual(b.stats, { batches: 1, jobs: 20 });
  await b.run(() => ins.run('later'));
  assert.equal(b.stats.batches, 2, 'a later turn is its own batch');
});

test('turn batch: a job that throws is rolled back alone; a failed commit fails them all', async () => {
  const d = db();
  const b = new TurnBatch((fn) => d.transaction(fn)());
  const ins = d.prepare('INSERT INTO t VALUES (?)');
  const ok = b.run(() => ins.run('a'));
  const bad = b.run(() => {
    ins.run('b');
    throw new Error('boom');
  });
  const ok2 = b.run(() => ins.run('c'));
  await ok;
  await assert.rejects(bad, /boom/);
  await ok2;
  assert.deepEqual((d.prepare('SELECT k FROM t ORDER BY k').all() as { k: string }[]).map((r) => r.k), ['a', 'c']);

  let failCommit = true;
  const failing = new TurnBatch(<T>(fn: () => T): T => {
    const v = d.transaction(fn)();
    if (failCommit && !d.inTransaction) throw new Error('disk I/O error');
    return v;
  });
  failCommit = true;
  const jobs = [failing.run(() => 1), failing.run(() => 2)];
  for (const j of jobs) await assert.rejects(j, /disk I\/O error/);
});

test('turn batch: 40 concurrent /boot.ipxe requests from unknown MACs are all answered and recorded', async () => {
  const fx = makeFixture();
  const { d, base } = await startDaemon(fx);
  try {
    const macs = Array.from({ length: 40 }, (_, i) => `52:54:00:77:01:${i.toString(16).padStart(2, '0')}`);
    const outs = await Promise.all(macs.map((m) => run('curl', ['-sf', `${base}/boot.ipxe?mac=${m}`]).then((r) => r.stdout)));
    for (const o of outs) assert.match(o, /^#!ipxe\n.*local boot/s);
    const rows = d.store.discovered().map((r) => r.mac);
    for (const m of macs) assert.ok(rows.includes(m), `${m} recorded`);
  } finally {
    await d.stop();
    fx.cleanup();
  }
});
