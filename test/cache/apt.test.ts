// Real clients through the cache: apt-get update + install --download-only against the loopback
// repository, a second run served with zero upstream traffic (counted on the upstream server).
// The warm-up's own apt run is in warm.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRepo, type FixtureRepo } from './repo.js';
import { Upstream } from './upstream.js';
import { startCache } from './harness.js';
import { aptDownload } from './apt.js';

let repo: FixtureRepo;
let root: string;
const HELLO_CLOSURE = ['hello', 'libc6', 'libgcc-s1', 'gcc-12-base'];

before(() => {
  root = mkdtempSync(join(tmpdir(), 'fb-cache-apt-'));
  repo = buildRepo(join(root, 'repo'));
});
after(() => rmSync(root, { recursive: true, force: true }));

test('apt-get update + install --download-only through the cache; the second run costs upstream nothing', { timeout: 120_000 }, async () => {
  const up = new Upstream(repo.root);
  await up.start();
  const h = await startCache({ repos: [{ name: 'debian', url: up.url }] });
  try {
    const first = await aptDownload(join(root, 'apt1'), `${h.base}/debian`, 'bookworm', ['hello']);
    assert.deepEqual(first.map((f) => f.split('_')[0]).sort(), [...HELLO_CLOSURE].sort());
    const bytes = up.bodyBytes;
    const reqs = up.requests.length;
    assert.ok(h.cache.stats().bytesFromUpstream > 2_000_000);
    const second = await aptDownload(join(root, 'apt2'), `${h.base}/debian`, 'bookworm', ['hello']);
    assert.deepEqual(second, first);
    assert.equal(up.bodyBytes - bytes, 0, 'second run: zero upstream bytes');
    assert.deepEqual(up.requests.slice(reqs), [], 'second run: no upstream requests at all');
  } finally {
    await h.close();
    await up.stop();
  }
});
