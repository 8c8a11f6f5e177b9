// Cache hits from memory (src/cache/hot-bodies.ts): the bytes of a hit file are read once per
// version of the file (device, inode, size, mtime of the open descriptor), bounded by size,
// and the HTTP answers — whole, one range, several ranges — are byte for byte the file's,
// from memory and with the memory turned off (cache.hotBytes: 0, read from disk per hit).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HotBodies } from '../../src/cache/hot-bodies.js';
import { buildRepo } from './repo.js';
import { Upstream } from './upstream.js';
import { startCache } from './harness.js';
import { get } from './client.js';

async function read(h: HotBodies, path: string) {
  const fh = await open(path);
  try {
    const st = await fh.stat();
    return await h.get(path, st, fh);
  } finally {
    await fh.close();
  }
}

test('hot bodies: read once per file version, a replaced file is read again, bounded', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fb-hot-'));
  try {
    const a = join(dir, 'a.deb');
    writeFileSync(a, Buffer.alloc(1000, 1));
    const h = new HotBodies(2500, 1500);
    assert.deepEqual(await read(h, a), Buffer.alloc(1000, 1));
    assert.deepEqual(await read(h, a), Buffer.alloc(1000, 1));
    assert.deepEqual(h.stats, { hits: 1, loads: 1 });
    // replaced by rename (as the cache commits a file): another inode, the new bytes
    writeFileSync(join(dir, 'tmp'), Buffer.alloc(1000, 2));
    renameSync(join(dir, 'tmp'), a);
    assert.deepEqual(await read(h, a), Buffer.alloc(1000, 2));
    assert.deepEqual(h.stats, { hits: 1, loads: 2 });
    // over maxFile: streamed, never kept
    writeFileSync(join(dir, 'big'), Buffer.alloc(2000, 3));
    assert.equal(await read(h, join(dir, 'big')), null);
    // the total stays bounded: a third 1000-byte body pushes out the least recently used
    writeFileSync(join(dir, 'c'), Buffer.alloc(1000, 4));
    await read(h, join(dir, 'c'));
    assert.deepEqual(await read(h, a), Buffer.alloc(1000, 2), 'the most recent two are kept');
    assert.equal(h.stats.hits, 2);
    assert.equal(await read(new HotBodies(0), a), null, 'hotBytes 0: off');
    // 20 hits at once on a version not yet in memory: one read, one buffer shared by all
    const fresh = new HotBodies(1 << 20);
    const fh = await open(a);
    try {
      const st = await fh.stat();
      const got = await Promise.all(Array.from({ length: 20 }, () => fresh.get(a, st, fh)));
      assert.equal(fresh.stats.loads, 1);
      assert.ok(got.every((b) => b === got[0]));
    } finally {
      await fh.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const hotBytes of [128 * 1024 * 1024, 0]) {
  test(`cache hits ${hotBytes ? 'from memory' : 'from disk (hotBytes: 0)'}: whole, range and multipart answers are the file's bytes`, async () => {
    const root = mkdtempSync(join(tmpdir(), 'fb-cache-hot-'));
    const repo = buildRepo(root);
    const up = new Upstream(repo.root);
    await up.start();
    const h = await startCache({ repos: [{ name: 'debian', url: up.url }], hotBytes });
    try {
      const d = repo.debs.find((x) => x.pkg === 'hello')!;
      const url = `${h.base}/debian/${d.path}`;
      const file = readFileSync(join(repo.root, d.path));
      assert.equal((await get(url)).headers['x-cache'], 'MISS');
      for (let i = 0; i < 2; i++) {
        const r = await get(url);
        assert.equal(r.headers['x-cache'], 'HIT');
        assert.deepEqual(r.body, file);
      }
      const one = await get(url, { headers: { range: 'bytes=100-299' } });
      assert.equal(one.status, 206);
      assert.deepEqual(one.body, file.subarray(100, 300));
      const many = await get(url, { headers: { range: 'bytes=0-9, -5' } });
      assert.equal(many.status, 206);
      const text = many.body.toString('latin1');
      assert.ok(text.includes(file.subarray(0, 10).toString('latin1')) && text.includes(file.subarray(file.length - 5).toString('latin1')));
      const head = await get(url, { method: 'HEAD' });
      assert.equal(head.headers['content-length'], String(file.length));
      assert.deepEqual(h.cache.hot.stats, hotBytes ? { hits: 3, loads: 1 } : { hits: 0, loads: 0 });
    } finally {
      await h.close();
      await up.stop();
      rmSync(root, { recursive: true, force: true });
    }
  });
}
