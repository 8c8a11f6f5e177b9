// /assets: Range, ETag, conditional requests, and every traversal trick we know of.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { symlinkSync, mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { makeFixture, startDaemon, type Fixture } from '../helpers/fixture.js';
import type { Daemon } from '../../src/daemon.js';
import { parseRange } from '../../src/http/assets.js';

let fx: Fixture;
let d: Daemon;
let base: string;
let port: number;
const body = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));

before(async () => {
  fx = makeFixture();
  fx.write('assets/data.bin', body);
  fx.write('secret.txt', 'outside the root\n');
  mkdirSync(join(fx.dir, 'assets/links'), { recursive: true });
  symlinkSync(join(fx.dir, 'secret.txt'), join(fx.dir, 'assets/links/escape'));
  symlinkSync('../data.bin', join(fx.dir, 'assets/links/inside'));
  writeFileSync(join(fx.dir, 'assets/empty'), '');
  writeFileSync(join(fx.dir, 'assets/.linux.42-beef.partial'), 'half a kernel'); // assets fetch staging
  ({ d, base } = await startDaemon(fx));
  port = d.httpPort;
});
after(async () => {
  await d.stop();
  fx.cleanup();
});

/** raw request: fetch() and curl normalise "..", so traversal must be sent byte for byte */
function raw(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks), headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('whole file with ETag and Accept-Ranges', async () => {
  const r = await raw('/assets/data.bin');
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, body);
  assert.equal(r.headers['accept-ranges'], 'bytes');
  assert.match(String(r.headers.etag), /^"[0-9a-f]+-[0-9a-f]+"$/);
});

test('single ranges: a-b, a-, -n; curl -r agrees', async () => {
  let r = await raw('/assets/data.bin', { range: 'bytes=10-19' });
  assert.equal(r.status, 206);
  assert.equal(r.headers['content-range'], 'bytes 10-19/1000');
  assert.deepEqual(r.body, body.subarray(10, 20));
  r = await raw('/assets/data.bin', { range: 'bytes=990-' });
  assert.deepEqual(r.body, body.subarray(990));
  r = await raw('/assets/data.bin', { range: 'bytes=-5' });
  assert.deepEqual(r.body, body.subarray(995));
  r = await raw('/assets/data.bin', { range: 'bytes=900-5000' });
  assert.equal(r.headers['content-range'], 'bytes 900-999/1000');
  const viaCurl = (await promisify(execFile)('curl', ['-sS', '-r', '100-199', `${base}/assets/data.bin`], { encoding: 'buffer' })).stdout;
  assert.deepEqual(viaCurl, body.subarray(100, 200));
});

test('unsatisfiable range is 416 with Content-Range */size', async () => {
  const r = await raw('/assets/data.bin', { range: 'bytes=1000-' });
  assert.equal(r.status, 416);
  assert.equal(r.headers['content-range'], 'bytes */1000');
});

test('If-None-Match -> 304; If-Range with a stale ETag -> whole file', async () => {
  const etag = String((await raw('/assets/data.bin')).headers.etag);
  assert.equal((await raw('/assets/data.bin', { 'if-none-match': etag })).status, 304);
  const r = await raw('/assets/data.bin', { range: 'bytes=0-9', 'if-range': '"stale"' });
  assert.equal(r.status, 200);
  assert.equal(r.body.length, 1000);
  const ok = await raw('/assets/data.bin', { range: 'bytes=0-9', 'if-range': etag });
  assert.equal(ok.status, 206);
});

test('HEAD gives the length without a body; an empty file is served', async () => {
  const r = await fetch(`${base}/assets/data.bin`, { method: 'HEAD' });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-length'), '1000');
  const e = await raw('/assets/empty');
  assert.equal(e.status, 200);
  assert.equal(e.body.length, 0);
});

for (const path of [
  '/assets/../secret.txt',
  '/assets/%2e%2e/secret.txt',
  '/assets/%2E%2E%2Fsecret.txt',
  '/assets/tiny/..%2f..%2fsecret.txt',
  '/assets/..%5csecret.txt',
  '/assets/%2fetc%2fpasswd',
  '/assets//etc/passwd',
  '/assets/links/escape',
  '/assets/tiny',
  '/assets/nope',
  '/assets/data.bin%00.txt',
  '/assets/.linux.42-beef.partial',
  '/assets/tiny/%2e%2e%2f.linux.42-beef.partial',
]) {
  test(`traversal/invalid refused: ${path}`, async () => {
    const r = await raw(path);
    assert.equal(r.status, 404);
    assert.doesNotMatch(r.body.toString(), /outside the root|root:/);
  });
}

test('a symlink that stays inside the root is served', async () => {
  const r = await raw('/assets/links/inside');
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, body);
});

test('parseRange edge cases', () => {
  assert.equal(parseRange(undefined, 10), null);
  assert.equal(parseRange('bytes=5-2', 10), null);
  assert.equal(parseRange('bytes=0-1,4-5', 10), null);
  assert.equal(parseRange('items=0-1', 10), null);
  assert.equal(parseRange('bytes=-0', 10), 'unsatisfiable');
  assert.deepEqual(parseRange('bytes=-20', 10), { start: 0, end: 9 });
});
