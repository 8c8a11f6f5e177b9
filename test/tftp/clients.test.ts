// Real TFTP clients (atftp, curl, tftp-hpa) against our server on an ephemeral loopback port,
// fetching a 32 MiB file (65537 blocks at 512 bytes: the block number rolls over) byte-identical.
// A missing client binary fails the test: CI installs them (.ci/apt-deps.sh).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeRoot, startServer, writeFile, type TestServer } from './helpers.js';

const run = promisify(execFile);
const SIZE = 32 * 1024 * 1024;

let root: { dir: string; cleanup: () => void };
let s: TestServer;
let want: string;

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

function which(tool: string): string {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':').concat(['/usr/sbin', '/sbin'])) {
    if (existsSync(join(dir, tool))) return join(dir, tool);
  }
  throw new Error(`missing client ${tool} (run .ci/apt-deps.sh)`);
}

before(async () => {
  root = makeRoot();
  writeFile(join(root.dir, 'big.bin'), SIZE, 42);
  want = await sha256(join(root.dir, 'big.bin'));
  // production defaults except the port; the runs below must not depend on tuning
  s = await startServer({ root: root.dir, config: { timeoutMs: 1000, retries: 6 } });
});
after(async () => {
  await s?.server.stop();
  root?.cleanup();
});

async function fetched(name: string, cmd: string, args: (port: number, out: string) => string[]) {
  const bin = which(cmd);
  const out = join(root.dir, `out-${name}`);
  const before = await s.metric('fleetboot_tftp_transfers_total', { result: 'ok' });
  // async: the server runs in this process, a sync exec would block its event loop
  await run(bin, args(s.port, out), { cwd: root.dir, timeout: 180_000 });
  assert.equal(await sha256(out), want, `${name}: bytes differ`);
  for (let i = 0; i < 100 && s.server.activeTransfers > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(await s.metric('fleetboot_tftp_transfers_total', { result: 'ok' }), before + 1, `${name}: transfer logged ok`);
}

test('atftp, no options (512-byte lockstep, rollover)', async () => {
  await fetched('atftp', 'atftp', (port, out) => ['-g', '-r', 'big.bin', '-l', out, '127.0.0.1', String(port)]);
});

test('atftp with blksize 1432 and windowsize 16', async () => {
  await fetched('atftp-win', 'atftp', (port, out) => ['--option', 'blksize 1432', '--option', 'windowsize 16', '-g', '-r', 'big.bin', '-l', out, '127.0.0.1', String(port)]);
  const last = s.logs.filter((l) => l.msg === 'tftp: transfer complete').at(-1)!;
  assert.equal(last.blksize, 1432);
  assert.equal(last.windowsize, 16);
});

test('curl tftp:// (tsize, blksize 512, timeout options)', async () => {
  await fetched('curl', 'curl', (port, out) => ['-sS', '-o', out, `tftp://127.0.0.1:${port}/big.bin`]);
});

test('curl tftp:// with --tftp-blksize 1468', async () => {
  await fetched('curl-1468', 'curl', (port, out) => ['-sS', '--tftp-blksize', '1468', '-o', out, `tftp://127.0.0.1:${port}/big.bin`]);
});

test('tftp-hpa client, binary mode', async () => {
  await fetched('tftp-hpa', 'tftp', (port, out) => ['-m', 'binary', '127.0.0.1', String(port), '-c', 'get', 'big.bin', out]);
});

test('real clients are refused paths outside the root', async () => {
  const bin = which('tftp');
  const out = join(root.dir, 'out-passwd');
  const r = await run(bin, ['-m', 'binary', '127.0.0.1', String(s.port), '-c', 'get', '../../../../etc/passwd', out], { timeout: 30_000 }).catch((e: { stdout: string; stderr: string }) => e);
  assert.match(`${r.stdout}${r.stderr}`, /Access violation|access violation/i);
  assert.ok(!existsSync(out) || (await sha256(out)) === createHash('sha256').digest('hex'), 'nothing received');
});
