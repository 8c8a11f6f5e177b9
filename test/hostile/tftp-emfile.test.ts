// Issue 13 hole 2 (TFTP side): when the server cannot open a file (or a transfer socket) for
// lack of descriptors it must NOT answer "ERROR 1 file not found" — PXE firmware takes any
// error packet as final — but stay silent so the client's own RRQ retransmission retries.
// Real descriptor exhaustion: the server runs in a child with `ulimit -n 48` and the test holds
// transfers open (never ACKed) until the next RRQ cannot be served; then frees them, and the
// real tftp-hpa client, retransmitting its RRQ every second, gets the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from '../helpers/fixture.js';
import { makeRoot, writeFile } from '../tftp/helpers.js';
import { encode, decode } from '../../src/tftp/codec.js';
import { TftpServer } from '../../src/tftp/server.js';
import { tftpConfigSchema } from '../../src/tftp/config.js';
import { Registry } from 'prom-client';
import { silentLogger } from '../../src/log.js';
import { FileSource } from '../../src/tftp/source.js';

const run = promisify(execFile);

/** Sends one RRQ from a fresh socket; the first answer (DATA/ERROR) or null after waitMs. */
async function rrq(port: number, file: string, waitMs: number): Promise<{ sock: dgram.Socket; first: null | { op: string; code?: number; from: number } }> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const got = new Promise<{ op: string; code?: number; from: number } | null>((resolve) => {
    const t = setTimeout(() => resolve(null), waitMs);
    sock.once('message', (msg, rinfo) => {
      clearTimeout(t);
      const d = decode(msg);
      resolve(d.ok ? { op: d.packet.op, code: d.packet.op === 'error' ? d.packet.code : undefined, from: rinfo.port } : { op: 'malformed', from: rinfo.port });
    });
  });
  sock.send(encode({ op: 'rrq', filename: file, mode: 'octet', options: [] }), port, '127.0.0.1');
  return { sock, first: await got };
}

test('out of descriptors: the RRQ goes unanswered (no "file not found"), and a retrying tftp-hpa gets the file once they are free', async () => {
  const root = makeRoot();
  writeFile(join(root.dir, 'pxelinux.0'), 64 * 1024, 3);
  const child = spawn('bash', ['-c', `ulimit -n 48 && exec "${process.execPath}" "${join(REPO, 'dist/bench/tftp-serve.js')}" "${root.dir}" 127.0.0.1 0`], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FLEETBOOT_LOG_LEVEL: 'warn' } });
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  const held: { sock: dgram.Socket; from: number }[] = [];
  try {
    const [line] = (await once(child.stdout!, 'data')) as [Buffer];
    const port = Number(/listening (\d+)/.exec(String(line))?.[1]);
    assert.ok(port > 0, String(line));
    // hold transfers (first DATA received, never ACKed: each keeps a file and a socket open)
    let refusal: { op: string; code?: number } | null | undefined;
    for (let i = 0; i < 200 && refusal === undefined; i++) {
      const r = await rrq(port, 'pxelinux.0', 1500);
      if (r.first?.op === 'data') held.push({ sock: r.sock, from: r.first.from });
      else {
        refusal = r.first;
        r.sock.close();
      }
    }
    assert.ok(held.length > 0 && held.length < 40, `transfers held before descriptors ran out: ${held.length}`);
    assert.equal(refusal, null, `out of descriptors the server must stay silent, not answer ${JSON.stringify(refusal)}`);

    // a real client that retransmits its RRQ; the held transfers are freed while it waits
    const out = join(root.dir, 'got.bin');
    const client = run('bash', ['-c', `printf 'binary\\nrexmt 1\\ntimeout 20\\nget pxelinux.0 ${out}\\nquit\\n' | tftp 127.0.0.1 ${port}`], { timeout: 30_000 });
    await new Promise((r) => setTimeout(r, 1500));
    for (const h of held.splice(0)) {
      h.sock.send(encode({ op: 'error', code: 0, message: 'test releases this transfer' }), h.from, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 5));
      h.sock.close();
    }
    const { stdout, stderr: cerr } = await client;
    assert.ok(!/error/i.test(stdout + cerr), stdout + cerr);
    assert.deepEqual(readFileSync(out), readFileSync(join(root.dir, 'pxelinux.0')));
    assert.match(stderr, /out of descriptors or memory; request left unanswered/);
  } finally {
    for (const h of held) h.sock.close();
    child.kill('SIGTERM');
    await once(child, 'exit').catch(() => {});
    root.cleanup();
  }
});

test('an injected EMFILE from the file opener is retried by the client, counted as unavailable', async () => {
  const root = makeRoot();
  writeFile(join(root.dir, 'f.bin'), 3000, 5);
  let failures = 2;
  const registry = new Registry();
  const server = new TftpServer({
    config: tftpConfigSchema.parse({ address: '127.0.0.1', port: 0, timeoutMs: 200 }),
    root: root.dir,
    log: silentLogger(),
    registry,
    openFile: async (p) => {
      if (failures-- > 0) throw Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' });
      return FileSource.open(p);
    },
  });
  await server.start();
  try {
    const first = await rrq(server.port, 'f.bin', 500);
    first.sock.close();
    assert.equal(first.first, null, 'no answer while the open fails');
    const { fetch } = await import('../tftp/client.js');
    const r = await fetch({ port: server.port, file: 'f.bin', timeoutMs: 200 });
    assert.equal(r.error, undefined);
    assert.deepEqual(r.data, readFileSync(join(root.dir, 'f.bin')));
    const v = (await registry.getSingleMetric('fleetboot_tftp_transfers_total')!.get()).values;
    assert.equal(v.find((x) => x.labels.result === 'unavailable')?.value, 2);
    assert.equal(v.find((x) => x.labels.result === 'not_found'), undefined);
  } finally {
    await server.stop();
    root.cleanup();
  }
});
