// The TFTP transfer thread (src/tftp/transfer-thread.ts): transfers run there by default, their
// metrics and log lines reach the main thread, and a thread that dies ends its transfers
// (io_error, slots freed) while the next request gets a new thread.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import type { Socket } from 'node:dgram';
import { fetch } from './client.js';
import { makeRoot, startServer, writeFile } from './helpers.js';

let root: { dir: string; cleanup: () => void };
let small: Buffer;

before(() => {
  root = makeRoot();
  small = writeFile(join(root.dir, 'small.bin'), 70_000, 31)!;
  writeFile(join(root.dir, 'big.bin'), 4_000_000, 32);
});
after(() => root.cleanup());

/** the server's transfer thread (private: reached for on purpose, to kill it) */
const workerOf = (server: unknown): Worker | undefined => (server as { thread?: { worker?: Worker } }).thread?.worker;

test('transfers run in the transfer thread; a thread that dies ends its transfers and the next request gets a new one', async () => {
  const s = await startServer({ root: root.dir, config: { timeoutMs: 2000 } });
  try {
    const first = workerOf(s.server);
    assert.ok(first, 'a transfer thread runs');
    const r = await fetch({ port: s.port, file: 'small.bin', options: { blksize: '1468' } });
    assert.deepEqual(r.data, small);
    for (let i = 0; i < 200 && (await s.metric('fleetboot_tftp_transfers_total', { result: 'ok' })) < 1; i++) await new Promise((res) => setTimeout(res, 10));
    assert.equal(await s.metric('fleetboot_tftp_bytes_total'), small.length, 'bytes reported by the thread');
    assert.ok(s.logs.some((l) => l.msg === 'tftp: transfer complete' && l.bytes === small.length));

    // a client that stops ACKing holds a transfer in the thread; then the thread dies
    // (it never hears from the dead transfer again: its socket is closed at the end, by hand)
    let heldSock: Socket | undefined;
    void fetch({ port: s.port, file: 'big.bin', stallAfter: 2, onData: (_b, _p, sock) => (heldSock = sock) }).catch(() => null);
    const active = () => s.server.activeTransfers;
    for (let i = 0; i < 500 && active() !== 1; i++) await new Promise((res) => setTimeout(res, 5));
    assert.equal(active(), 1);
    await first.terminate();
    for (let i = 0; i < 200 && active() !== 0; i++) await new Promise((res) => setTimeout(res, 10));
    assert.equal(active(), 0, 'the dead thread freed its slot');
    assert.equal(await s.metric('fleetboot_tftp_active_transfers'), 0);
    assert.equal(await s.metric('fleetboot_tftp_transfers_total', { result: 'io_error' }), 1);
    assert.ok(s.logs.some((l) => l.level === 50 && String(l.msg).includes('transfer thread exited')));

    const again = await fetch({ port: s.port, file: 'small.bin' });
    assert.deepEqual(again.data, small, 'served by a new thread');
    const second = workerOf(s.server);
    assert.ok(second && second !== first);
    // the client may have closed it already (an ERROR for the dead transfer ends its fetch)
    try {
      heldSock?.close();
    } catch {
      // closed
    }
  } finally {
    await s.server.stop();
  }
  assert.equal(workerOf(s.server), undefined, 'stop() ends the thread');
});
