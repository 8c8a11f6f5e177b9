// Which address replies leave from. With `tftp.address` unset, transfer sockets bind to the
// server address (what DHCP hands out as next-server) for RRQs sent to it, and requests to any
// other local address still work. 127.0.0.2 stands in for the server address: all of 127/8 is
// local on Linux, so no interface is changed. (The wildcard listener this configuration opens
// is on an ephemeral port for the test's duration; all traffic stays on loopback.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { firstDataFrom, makeRoot, startServer, writeFile } from './helpers.js';

const run = promisify(execFile);
let root: { dir: string; cleanup: () => void };
let small: Buffer;

before(() => {
  root = makeRoot();
  small = writeFile(join(root.dir, 'small.bin'), 70_000, 2)!;
});
after(() => root.cleanup());

/** A real client as well: the content arrives whole whichever listener took the request. */
async function hpaGet(to: string, port: number, out: string): Promise<Buffer> {
  await run('tftp', ['-m', 'binary', to, String(port), '-c', 'get', 'small.bin', out], { timeout: 20_000 });
  return readFileSync(out);
}

test('tftp.address unset: an RRQ to the server address is answered from it; other local addresses still work', async () => {
  const s = await startServer({ root: root.dir, config: { address: undefined }, transferAddress: '127.0.0.2' });
  try {
    assert.equal(await firstDataFrom('127.0.0.2', s.port), '127.0.0.2');
    assert.deepEqual(await hpaGet('127.0.0.2', s.port, join(root.dir, 'o1')), small);
    // not the server address: the wildcard listener takes it and the route picks the source
    assert.equal(await firstDataFrom('127.0.0.1', s.port), '127.0.0.1');
    assert.deepEqual(await hpaGet('127.0.0.1', s.port, join(root.dir, 'o2')), small);
    assert.equal(s.logs.find((l) => l.msg === 'tftp listening')?.transferAddress, '127.0.0.2');
  } finally {
    await s.server.stop();
  }
});

test('tftp.address set: listener and transfer sockets use only it', async () => {
  const s = await startServer({ root: root.dir, config: { address: '127.0.0.2' }, transferAddress: '127.0.0.3' });
  try {
    assert.equal(await firstDataFrom('127.0.0.2', s.port), '127.0.0.2');
    assert.equal(await firstDataFrom('127.0.0.1', s.port), null, 'nothing listens on other addresses');
  } finally {
    await s.server.stop();
  }
});

test('a server address this host does not own (NAT, mapped container ports): warn and let the route pick', async () => {
  // 192.0.2.1 (TEST-NET-1) is only bind-probed, never sent to
  const s = await startServer({ root: root.dir, config: { address: undefined }, transferAddress: '192.0.2.1' });
  try {
    assert.ok(s.logs.some((l) => l.level === 40 && /not an address of this host/.test(l.msg)));
    assert.equal(await firstDataFrom('127.0.0.1', s.port), '127.0.0.1');
  } finally {
    await s.server.stop();
  }
});
