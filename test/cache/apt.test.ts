// Real clients through the cache: apt-get update + install --download-only against the loopback
// repository, a second run served with zero upstream traffic, and `fleetboot cache warm`
// pre-fetching a role's closure so apt then needs nothing from upstream's pool.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRepo, type FixtureRepo } from './repo.js';
import { Upstream } from './upstream.js';
import { startCache } from './harness.js';
import { aptDownload } from './apt.js';
import { warmCache } from '../../src/cache/warm.js';
import { cacheCommand } from '../../src/cli/cache.js';
import { silentLogger } from '../../src/log.js';

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

test('warm: dry run counts the role closure + required set; after warming apt fetches nothing from upstream pool', { timeout: 120_000 }, async () => {
  const up = new Upstream(repo.root);
  await up.start();
  const dir = join(root, 'warm');
  const h = await startCache({ repos: [{ name: 'debian', url: up.url }] }, undefined, dir);
  try {
    const dry = await warmCache(h.cache, { suite: 'bookworm', packages: ['hello'], dryRun: true });
    // hello's closure plus base-files (Priority: required) and mawk (provides awk, base-files' Pre-Depends)
    const expected = repo.debs;
    assert.equal(dry.packages, expected.length);
    assert.equal(dry.toFetch.count, expected.length);
    assert.equal(dry.toFetch.bytes, expected.reduce((n, d) => n + d.size, 0));
    assert.deepEqual(dry.unresolved, []);
    assert.equal(up.requests.filter((p) => p.startsWith('pool/')).length, 0, 'a dry run fetches no packages');

    // the CLI against the same cache directory and SQLite file, as the operator runs it
    const lines: string[] = [];
    const log = console.log;
    console.log = (...a: unknown[]) => void lines.push(a.join(' '));
    let code: number;
    try {
      const config = {
        cache: { enabled: true, dir: join(dir, 'cache'), repos: [{ name: 'debian', url: up.url }] },
        paths: { db: join(dir, 'fb.sqlite') },
        roles: { web: { packages: ['hello'], suite: 'bookworm' } },
      };
      assert.equal(await cacheCommand(['warm', '--role', 'web', '--dry-run'], { config, log: silentLogger() }), 0);
      assert.match(lines.join('\n'), new RegExp(`would fetch: ${expected.length} files`));
      code = await cacheCommand(['warm', '--role', 'web'], { config, log: silentLogger() });
      assert.equal(await cacheCommand(['warm', '--role', 'nope'], { config, log: silentLogger() }), 2);
    } finally {
      console.log = log;
    }
    assert.equal(code, 0, lines.join('\n'));
    assert.match(lines.join('\n'), new RegExp(`fetched: ${expected.length} files`));
    for (const d of expected) assert.equal(h.cache.has('debian', d.path), true, d.path);
    const poolBefore = up.requests.filter((p) => p.startsWith('pool/')).length;
    assert.equal(poolBefore, expected.length);
    const got = await aptDownload(join(root, 'apt3'), `${h.base}/debian`, 'bookworm', ['hello']);
    assert.equal(got.length, HELLO_CLOSURE.length);
    assert.equal(up.requests.filter((p) => p.startsWith('pool/')).length, poolBefore, 'apt was served the pool entirely from disk');
    const again = await warmCache(h.cache, { suite: 'bookworm', packages: ['hello'], dryRun: true });
    assert.equal(again.toFetch.count, 0);
    assert.equal(again.cached.count, expected.length);
  } finally {
    await h.close();
    await up.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
