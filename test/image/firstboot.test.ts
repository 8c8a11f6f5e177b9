// The image's first-boot script (src/image/rootfs.ts), run with /bin/sh and the real curl
// against a loopback server: reports up (or sha256 of the verify file), retries while the
// server fails, removes its env file only after a report got through, and does nothing
// without an env file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { FIRSTBOOT_SCRIPT, FIRSTBOOT_UNIT } from '../../src/image/rootfs.js';

const run = promisify(execFile);

async function withServer(fail: number, fn: (url: string, seen: string[]) => Promise<void>) {
  const seen: string[] = [];
  let failures = fail;
  const srv = createServer((req: IncomingMessage, res) => {
    seen.push(req.url ?? '');
    if (failures-- > 0) return void res.writeHead(503).end('busy');
    res.writeHead(200).end('ok');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    await fn(`http://127.0.0.1:${(srv.address() as AddressInfo).port}/i/tok123/progress`, seen);
  } finally {
    srv.closeAllConnections();
    await new Promise((r) => srv.close(r));
  }
}

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'fb-firstboot-'));
  const script = join(dir, 'fleetboot-firstboot');
  writeFileSync(script, FIRSTBOOT_SCRIPT, { mode: 0o755 });
  return { dir, script, env: join(dir, 'firstboot.env'), done: () => rmSync(dir, { recursive: true, force: true }) };
}

test('reports sha256 of the verify file, then removes the env file', async () => {
  const t = setup();
  try {
    const data = join(t.dir, 'data-file');
    writeFileSync(data, 'kept across the reinstall\n');
    const hex = createHash('sha256').update('kept across the reinstall\n').digest('hex');
    await withServer(0, async (url, seen) => {
      writeFileSync(t.env, `FLEETBOOT_PROGRESS_URL="${url}"\nFLEETBOOT_VERIFY_FILE=${data}\n`);
      const r = await run('/bin/sh', [t.script], { env: { PATH: process.env.PATH, FLEETBOOT_FIRSTBOOT_ENV: t.env } });
      assert.deepEqual(seen, [`/i/tok123/progress?stage=up&message=sha256%3D${hex}`]);
      assert.match(r.stdout, /reported sha256=/);
      assert.equal(existsSync(t.env), false, 'env file removed after the report');
    });
  } finally {
    t.done();
  }
});

test('plain "up" without a verify file; retries while the server answers 503', async () => {
  const t = setup();
  try {
    await withServer(2, async (url, seen) => {
      writeFileSync(t.env, `FLEETBOOT_PROGRESS_URL='${url}'\n`);
      await run('/bin/sh', [t.script], { env: { PATH: process.env.PATH, FLEETBOOT_FIRSTBOOT_ENV: t.env } });
      assert.equal(seen.length, 3, 'two failures, then success');
      assert.ok(seen.every((u) => u === '/i/tok123/progress?stage=up&message=up'));
      assert.equal(existsSync(t.env), false);
    });
  } finally {
    t.done();
  }
});

test('no env file: exit 0 and no request; the env file is data, never executed', async () => {
  const t = setup();
  try {
    await withServer(0, async (url, seen) => {
      await run('/bin/sh', [t.script], { env: { PATH: process.env.PATH, FLEETBOOT_FIRSTBOOT_ENV: t.env } });
      assert.deepEqual(seen, []);
      const marker = join(t.dir, 'pwned');
      writeFileSync(t.env, `touch ${marker}\nFLEETBOOT_PROGRESS_URL=${url}\n$(touch ${marker})\n`);
      await run('/bin/sh', [t.script], { env: { PATH: process.env.PATH, FLEETBOOT_FIRSTBOOT_ENV: t.env } });
      assert.equal(existsSync(marker), false, 'nothing in the env file ran');
      assert.equal(seen.length, 1);
    });
  } finally {
    t.done();
  }
});

test('the unit waits for the network and only runs with an env file', () => {
  assert.match(FIRSTBOOT_UNIT, /^After=network-online\.target$/m);
  assert.match(FIRSTBOOT_UNIT, /^Wants=network-online\.target$/m);
  assert.match(FIRSTBOOT_UNIT, /^ConditionPathExists=\/etc\/fleetboot\/firstboot\.env$/m);
  assert.match(FIRSTBOOT_UNIT, /^WantedBy=multi-user\.target$/m);
});
