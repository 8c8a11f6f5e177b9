// /assets' cache of jail verdicts, stats and small bodies (src/http/asset-cache.ts), and the
// large-file path from reusable buffers (src/http/send-range.ts), through a real HTTP server
// and curl: a changed file is never served with the old length, cached entries are
// revalidated after the TTL, a file replaced under a cached entry is served whole and new.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync, renameSync, utimesSync, symlinkSync } from 'node:fs';
import { randomBytes, createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { AssetCache } from '../../src/http/asset-cache.js';
import { serveAsset } from '../../src/http/assets.js';
import { silentLogger } from '../../src/log.js';

const run = promisify(execFile);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function setup(opts: ConstructorParameters<typeof AssetCache>[1]) {
  const root = mkdtempSync(join(tmpdir(), 'fb-asset-cache-'));
  let t = 1_000_000;
  const cache = new AssetCache(root, { now: () => t, ...opts });
  const server: Server = createServer((req, res) => {
    void serveAsset(cache, decodeURIComponent((req.url ?? '').replace(/^\/assets\//, '')), req, res, silentLogger());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/assets`;
  /** replaces a file the way `assets fetch` does: a new inode renamed over the old name */
  const replace = (rel: string, body: Buffer, mtime = Date.now() / 1000 + 5) => {
    writeFileSync(join(root, '.tmp'), body);
    utimesSync(join(root, '.tmp'), mtime, mtime);
    renameSync(join(root, '.tmp'), join(root, rel));
  };
  return {
    root, cache, base, replace,
    advance: (ms: number) => void (t += ms),
    /** curl's view: status and the exact bytes */
    async curl(rel: string, ...args: string[]): Promise<{ status: number; body: Buffer }> {
      const out = join(root, `..curl-${process.pid}-${Math.random()}`);
      const { stdout } = await run('curl', ['-s', '-o', out, '-w', '%{http_code}', ...args, `${base}/${rel}`]);
      const { readFileSync, unlinkSync } = await import('node:fs');
      const body = readFileSync(out);
      unlinkSync(out);
      return { status: Number(stdout), body };
    },
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      rmSync(root, { recursive: true, force: true });
    },
  };
}

test('asset cache: small files come from memory until the TTL, then a change is seen', async () => {
  const s = await setup({ ttlMs: 1000 });
  try {
    const v1 = Buffer.from('version one\n');
    const v2 = Buffer.from('version two, longer\n');
    writeFileSync(join(s.root, 'a.txt'), v1);
    assert.deepEqual((await s.curl('a.txt')).body, v1);
    assert.deepEqual((await s.curl('a.txt')).body, v1);
    assert.equal(s.cache.stats.resolves, 1, 'the second request did no file-system lookup');
    assert.equal(s.cache.stats.bodyReads, 1);
    s.replace('a.txt', v2);
    // within the TTL the old version is still served: whole and consistent, never mixed
    assert.deepEqual((await s.curl('a.txt')).body, v1);
    s.advance(1001);
    assert.deepEqual((await s.curl('a.txt')).body, v2, 'after the TTL the changed file is served');
    assert.equal(s.cache.stats.resolves, 2);
    // unchanged after another TTL: revalidated (one resolve), not read again
    s.advance(1001);
    assert.deepEqual((await s.curl('a.txt')).body, v2);
    assert.equal(s.cache.stats.resolves, 3);
    assert.equal(s.cache.stats.bodyReads, 2);
  } finally {
    await s.close();
  }
});

test('asset cache: a deleted file is a 404 after the TTL; misses are never cached', async () => {
  const s = await setup({ ttlMs: 1000 });
  try {
    writeFileSync(join(s.root, 'gone.bin'), 'x');
    assert.equal((await s.curl('gone.bin')).status, 200);
    rmSync(join(s.root, 'gone.bin'));
    s.advance(1001);
    assert.equal((await s.curl('gone.bin')).status, 404);
    for (let i = 0; i < 5; i++) assert.equal((await s.curl(`nope-${i}`)).status, 404);
    assert.equal(s.cache.stats.hits, 0);
  } finally {
    await s.close();
  }
});

test('asset cache: a large file replaced under a cached entry is served whole and new at once', async () => {
  // bodies above 64 KiB are not kept in memory: opened per request and checked by fstat
  const s = await setup({ ttlMs: 60_000, maxBodyBytes: 64 * 1024 });
  try {
    const big1 = randomBytes(3 * 1024 * 1024 + 17); // several 512 KiB chunks, a short last one
    const big2 = randomBytes(2 * 1024 * 1024 + 5);
    writeFileSync(join(s.root, 'k.img'), big1);
    assert.equal(sha((await s.curl('k.img')).body), sha(big1));
    s.replace('k.img', big2);
    // the entry is still within its TTL, but the descriptor's fstat no longer matches it
    const r = await s.curl('k.img');
    assert.equal(r.status, 200);
    assert.equal(sha(r.body), sha(big2), 'the new file, whole: never the old length with new bytes');
    // ranges on the large path, across a chunk boundary
    const part = await s.curl('k.img', '-r', '524000-1048999');
    assert.equal(part.status, 206);
    assert.deepEqual(part.body, big2.subarray(524000, 1049000));
    // many at once share the buffer pool: every copy intact
    const all = await Promise.all(Array.from({ length: 12 }, () => s.curl('k.img')));
    for (const a of all) assert.equal(sha(a.body), sha(big2));
  } finally {
    await s.close();
  }
});

test('asset cache: the jail still decides (symlink out, hidden names) and the entry count is bounded', async () => {
  const s = await setup({ ttlMs: 60_000, maxEntries: 3 });
  try {
    const outside = mkdtempSync(join(tmpdir(), 'fb-outside-'));
    writeFileSync(join(outside, 'secret'), 'no');
    symlinkSync(join(outside, 'secret'), join(s.root, 'escape'));
    writeFileSync(join(s.root, '.hidden'), 'no');
    assert.equal((await s.curl('escape')).status, 404);
    assert.equal((await s.curl('.hidden')).status, 404);
    for (let i = 0; i < 6; i++) writeFileSync(join(s.root, `f${i}`), `file ${i}`);
    for (let i = 0; i < 6; i++) assert.equal((await s.curl(`f${i}`)).body.toString(), `file ${i}`);
    const before = s.cache.stats.resolves;
    await s.curl('f0'); // evicted (least recently used of 6 with room for 3): resolved again
    assert.equal(s.cache.stats.resolves, before + 1);
    await s.curl('f5'); // kept
    assert.equal(s.cache.stats.resolves, before + 1);
    rmSync(outside, { recursive: true, force: true });
  } finally {
    await s.close();
  }
});
