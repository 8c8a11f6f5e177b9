// Package cache against a loopback upstream serving a real (small) Debian repository: hits,
// HEAD/Range/conditional requests, single-flight streaming, verification, faults, stale
// indexes, LRU eviction, metrics.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRepo, type FixtureRepo } from './repo.js';
import { Upstream } from './upstream.js';
import { startCache, type CacheHarness } from './harness.js';
import { get, rawGet, waitFor } from './client.js';
import { FakeClock } from '../helpers/fixture.js';

let repo: FixtureRepo;
let root: string;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

before(() => {
  root = mkdtempSync(join(tmpdir(), 'fb-cache-repo-'));
  repo = buildRepo(root);
});
after(() => rmSync(root, { recursive: true, force: true }));

async function setup(cfg: Record<string, unknown> = {}, clock?: FakeClock): Promise<{ up: Upstream; h: CacheHarness; close: () => Promise<void> }> {
  const up = new Upstream(repo.root);
  await up.start();
  const h = await startCache({ repos: [{ name: 'debian', url: `${up.url}/` }], ...cfg }, clock);
  return { up, h, close: async () => (await h.close(), await up.stop()) };
}
const deb = (name: string) => repo.debs.find((d) => d.pkg === name)!;
const tmpFiles = (h: CacheHarness) => (existsSync(join(h.dir, 'cache/.tmp')) ? readdirSync(join(h.dir, 'cache/.tmp')) : []);

test('miss then hit; HEAD, Range, If-Modified-Since on the cached file', async () => {
  const { up, h, close } = await setup();
  try {
    const d = deb('hello');
    const a = await get(`${h.base}/debian/${d.path}`);
    assert.equal(a.status, 200);
    assert.equal(a.headers['x-cache'], 'MISS');
    assert.equal(sha(a.body), d.sha256);
    const b = await get(`${h.base}/debian/${d.path}`);
    assert.equal(b.headers['x-cache'], 'HIT');
    assert.equal(sha(b.body), d.sha256);
    assert.equal(up.countFor(d.path), 1);
    const head = await get(`${h.base}/debian/${d.path}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], String(d.size));
    assert.equal(head.body.length, 0);
    const r = await get(`${h.base}/debian/${d.path}`, { headers: { range: 'bytes=100-199' } });
    assert.equal(r.status, 206);
    assert.equal(r.headers['content-range'], `bytes 100-199/${d.size}`);
    assert.deepEqual(r.body, readFileSync(join(repo.root, d.path)).subarray(100, 200));
    const tail = await get(`${h.base}/debian/${d.path}`, { headers: { range: `bytes=-10` } });
    assert.deepEqual(tail.body, readFileSync(join(repo.root, d.path)).subarray(d.size - 10));
    assert.equal((await get(`${h.base}/debian/${d.path}`, { headers: { range: `bytes=${d.size}-` } })).status, 416);
    const ims = await get(`${h.base}/debian/${d.path}`, { headers: { 'if-modified-since': b.headers['last-modified']! } });
    assert.equal(ims.status, 304);
    assert.equal(up.countFor(d.path), 1);
    const s = h.cache.stats();
    assert.equal(s.misses, 1);
    assert.ok(s.hits >= 5);
    assert.equal(s.bytesFromUpstream, d.size);
  } finally {
    await close();
  }
});

test('100 concurrent clients on a cold file: one upstream fetch, streamed to all before it completes', async () => {
  const { up, h, close } = await setup();
  try {
    const d = deb('libc6');
    let release!: () => void;
    const half = Math.floor(d.size / 2);
    up.faults.set(d.path, { kind: 'gate', afterBytes: half, release: new Promise<void>((r) => (release = r)) });
    const progress: number[] = Array(100).fill(0);
    const all = Array.from({ length: 100 }, (_, i) => get(`${h.base}/debian/${d.path}`, { onData: (n) => (progress[i] = n) }));
    // every client gets the first half while upstream is still holding the second half back
    while (progress.some((n) => n < half - 1)) await new Promise((r) => setTimeout(r, 20));
    assert.ok(progress.every((n) => n < d.size), 'nobody has the whole file before upstream sent it');
    release();
    const res = await Promise.all(all);
    for (const r of res) {
      assert.equal(r.error, undefined);
      assert.equal(sha(r.body), d.sha256);
    }
    assert.equal(up.countFor(d.path), 1);
    const s = h.cache.stats();
    assert.equal(s.coalesced, 99);
    assert.equal(s.bytesFromUpstream, d.size);
    assert.equal((await get(`${h.base}/debian/${d.path}`)).headers['x-cache'], 'HIT');
  } finally {
    await close();
  }
});

test('connection dropped mid-file: clients see an aborted body, nothing is cached, a retry succeeds', async () => {
  const { up, h, close } = await setup();
  try {
    const d = deb('mawk');
    up.faults.set(d.path, { kind: 'drop', afterBytes: 50_000 });
    const res = await Promise.all([get(`${h.base}/debian/${d.path}`), get(`${h.base}/debian/${d.path}`)]);
    for (const r of res) {
      assert.ok(r.error, 'client must see an error');
      assert.ok(r.body.length < d.size);
    }
    assert.equal(h.cache.has('debian', d.path), false);
    assert.equal(existsSync(h.cache.localPath('debian', d.path)), false);
    assert.deepEqual(tmpFiles(h), []);
    // no Content-Length upstream (chunked) and no index entry: the client's chunked body is
    // never terminated, which is an error too
    up.faults.set(d.path, { kind: 'drop', afterBytes: 50_000, chunked: true });
    const ch = await get(`${h.base}/debian/${d.path}`);
    assert.equal(ch.headers['content-length'], undefined);
    assert.ok(ch.error, 'unterminated chunked body must be an error');
    assert.equal(h.cache.has('debian', d.path), false);
    up.faults.delete(d.path);
    const ok = await get(`${h.base}/debian/${d.path}`);
    assert.equal(sha(ok.body), d.sha256);
    assert.equal(h.cache.stats().upstreamErrors, 2);
  } finally {
    await close();
  }
});

test('wrong bytes for a pool file whose SHA256 the Packages index gave: refused, never cached', async () => {
  const { up, h, close } = await setup();
  try {
    const pk = await get(`${h.base}/debian/dists/bookworm/main/binary-amd64/Packages.xz`);
    assert.equal(pk.status, 200);
    await h.cache.settled(); // the cache reads the index in the background
    const d = deb('base-files');
    up.faults.set(d.path, { kind: 'corrupt' });
    const r = await get(`${h.base}/debian/${d.path}`);
    assert.ok(r.error, 'a corrupt body must not look complete');
    assert.ok(r.body.length < d.size);
    assert.equal(h.cache.has('debian', d.path), false);
    assert.equal(h.cache.stats().verifyFailures, 1);
    // by-hash names carry their own SHA256
    up.faults.set(repo.byHashPackagesGz, { kind: 'corrupt' });
    const bh = await get(`${h.base}/debian/${repo.byHashPackagesGz}`);
    assert.ok(bh.error);
    assert.equal(h.cache.has('debian', repo.byHashPackagesGz), false);
    up.faults.clear();
    assert.equal(sha((await get(`${h.base}/debian/${d.path}`)).body), d.sha256);
    assert.equal((await get(`${h.base}/debian/${repo.byHashPackagesGz}`)).error, undefined);
    assert.deepEqual(tmpFiles(h), []);
  } finally {
    await close();
  }
});

test('upstream 500, silent, or stalling mid-body: 502/504 before headers, an aborted body after', async () => {
  const { up, h, close } = await setup({ upstreamTimeoutMs: 300 });
  try {
    const d = deb('hello');
    up.faults.set(d.path, { kind: 'status', status: 500 });
    assert.equal((await get(`${h.base}/debian/${d.path}`)).status, 502);
    up.faults.set(d.path, { kind: 'hang' });
    assert.equal((await get(`${h.base}/debian/${d.path}`)).status, 504);
    // headers and half the body, then silence past the timeout: the client is cut off
    up.faults.set(d.path, { kind: 'gate', afterBytes: 20_000, release: new Promise<void>(() => {}) });
    const stalled = await get(`${h.base}/debian/${d.path}`);
    assert.equal(stalled.status, 200);
    assert.ok(stalled.error, 'a stalled body must end in an error');
    assert.ok(stalled.body.length < d.size);
    assert.equal((await get(`${h.base}/debian/pool/main/n/nope/nope_1_all.deb`)).status, 404);
    assert.equal(h.cache.has('debian', d.path), false);
  } finally {
    await close();
  }
});

test('index files: fresh from disk, revalidated with If-Modified-Since, stale with Warning 110/111 when upstream is down', async () => {
  const clock = new FakeClock(Date.now());
  const { up, h, close } = await setup({ indexFreshSeconds: 60 }, clock);
  try {
    const rel = 'dists/bookworm/Release';
    const first = await get(`${h.base}/debian/${rel}`);
    assert.equal(first.status, 200);
    await get(`${h.base}/debian/${rel}`);
    assert.equal(up.countFor(rel), 1, 'fresh: not asked again');
    clock.advance(61_000);
    const reval = await get(`${h.base}/debian/${rel}`);
    assert.equal(reval.headers['x-cache'], 'HIT');
    assert.equal(up.countFor(rel), 2);
    assert.equal(h.cache.stats().revalidations, 1);
    clock.advance(61_000);
    up.allFault = { kind: 'status', status: 503 };
    const stale = await get(`${h.base}/debian/${rel}`);
    assert.equal(stale.status, 200);
    assert.equal(stale.headers['x-cache'], 'STALE');
    assert.match(String(stale.headers.warning), /^110 .*111 /);
    assert.deepEqual(stale.body, first.body);
    await up.stop(); // connection refused is "down" too
    const stale2 = await get(`${h.base}/debian/${rel}`);
    assert.equal(stale2.headers['x-cache'], 'STALE');
    // an index never seen cannot be served stale
    assert.equal((await get(`${h.base}/debian/dists/bookworm/main/binary-amd64/Packages.gz`)).status, 502);
    // upstream changed while we were away: the new version replaces the old
    up.allFault = undefined;
    await up.start(up.port);
    const t = Date.now() / 1000 + 5;
    utimesSync(join(repo.root, rel), t, t);
    clock.advance(61_000);
    const fresh = await get(`${h.base}/debian/${rel}`);
    assert.equal(fresh.headers['x-cache'], 'MISS');
    assert.equal(h.cache.stats().stale, 2);
  } finally {
    await close();
  }
});

test('size limit: least recently used .debs are evicted and fetched again on demand', async () => {
  const small = ['hello', 'libgcc-s1', 'gcc-12-base', 'base-files'].map(deb);
  const limit = small[0].size + small[1].size + small[2].size + 1000; // room for three
  const clock = new FakeClock(Date.now());
  const { up, h, close } = await setup({ maxBytes: limit }, clock);
  try {
    for (const d of small.slice(0, 3)) (await get(`${h.base}/debian/${d.path}`), clock.advance(1000));
    await get(`${h.base}/debian/${small[0].path}`); // hello is now the most recent
    clock.advance(1000);
    await get(`${h.base}/debian/${small[3].path}`);
    await waitFor(() => h.cache.stats().evictions >= 1, 'an eviction');
    assert.ok(h.cache.stats().sizeBytes <= limit);
    assert.equal(h.cache.has('debian', small[1].path), false, 'libgcc-s1 was least recently used');
    assert.equal(h.cache.has('debian', small[0].path), true);
    const again = await get(`${h.base}/debian/${small[1].path}`);
    assert.equal(sha(again.body), small[1].sha256);
    assert.equal(up.countFor(small[1].path), 2);
  } finally {
    await close();
  }
});

test('paths outside the archive shape and unknown repos are 404 without asking upstream; metrics exported', async () => {
  const { up, h, close } = await setup();
  try {
    const port = Number(new URL(h.base).port);
    // sent raw: a URL parser would have normalised "../" away before the cache saw it
    for (const p of ['debian/../etc/passwd', 'debian/pool/../../../../etc/passwd.deb', 'debian/dists/bookworm/../../../etc/Release', 'debian/pool/main/%2e%2e/%2e%2e/x/y_1_all.deb',
      'debian/pool/.tmp/x', 'debian/etc/passwd', 'nope/dists/bookworm/Release', 'debian/pool/main/h/..%2f..%2fx.deb', 'debian/pool/main/a%5cb/c/d.deb']) {
      const r = await rawGet(port, `/mirror/${p}`);
      assert.equal(r.status, 404, p);
    }
    assert.equal(up.requests.length, 0);
    assert.equal(existsSync(join(h.dir, 'etc')), false);
    await get(`${h.base}/debian/dists/bookworm/Release`);
    const text = await h.registry.metrics();
    for (const m of ['fleetboot_cache_hits_total', 'fleetboot_cache_misses_total', 'fleetboot_cache_bytes_from_upstream_total', 'fleetboot_cache_bytes_from_cache_total', 'fleetboot_cache_coalesced_total', 'fleetboot_cache_evictions_total', 'fleetboot_cache_size_bytes']) {
      assert.match(text, new RegExp(`^${m} `, 'm'), m);
    }
  } finally {
    await close();
  }
});

test('config: documented defaults, unique repo names, HEAD on a cold file fills the cache', async () => {
  const { cacheConfigSchema } = await import('../../src/cache/config.js');
  const c = cacheConfigSchema.parse({});
  assert.equal(c.enabled, false);
  assert.equal(c.dir, 'var/cache');
  assert.equal(c.repos[0].name, 'debian');
  assert.ok(c.maxBytes > 0 && c.indexFreshSeconds >= 0 && c.upstreamTimeoutMs > 0);
  assert.equal(cacheConfigSchema.safeParse({ repos: [{ name: 'a', url: 'http://x/' }, { name: 'a', url: 'http://y/' }] }).success, false);
  assert.equal(cacheConfigSchema.safeParse({ repos: [{ name: 'a', url: 'ftp://x/' }] }).success, false);
  const { up, h, close } = await setup();
  try {
    const d = deb('gcc-12-base');
    const head = await get(`${h.base}/debian/${d.path}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], String(d.size));
    await waitFor(() => h.cache.has('debian', d.path), 'the HEAD-started download to commit');
    assert.equal((await get(`${h.base}/debian/${d.path}`)).headers['x-cache'], 'HIT');
    assert.equal(up.countFor(d.path), 1);
  } finally {
    await close();
  }
});

test('a client that stops reading does not hold back the download or the other clients', async () => {
  const { up, h, close } = await setup();
  try {
    const d = deb('libc6');
    const http = await import('node:http');
    // a stuck client: takes the headers, never reads the body
    const stuck = await new Promise<import('node:http').IncomingMessage>((r) => http.get(`${h.base}/debian/${d.path}`, { agent: false }, (res) => (res.pause(), r(res))));
    const others = await Promise.all(Array.from({ length: 5 }, () => get(`${h.base}/debian/${d.path}`)));
    for (const o of others) assert.equal(sha(o.body), d.sha256);
    assert.equal(h.cache.has('debian', d.path), true);
    assert.equal(up.countFor(d.path), 1);
    stuck.destroy();
  } finally {
    await close();
  }
});

test('slow upstream: clients get bytes while the download runs; one fetch; both verified', async () => {
  const { up, h, close } = await setup();
  try {
    const d = deb('mawk');
    up.faults.set(d.path, { kind: 'slow', bytesPerSec: 400 * 1024 });
    const seenInFlight: number[] = [];
    const one = () => {
      let first = true;
      return get(`${h.base}/debian/${d.path}`, { onData: () => first && ((first = false), seenInFlight.push(h.cache.stats().downloadsInFlight)) });
    };
    const [a, b] = await Promise.all([one(), one()]);
    for (const r of [a, b]) {
      assert.equal(r.error, undefined);
      assert.equal(sha(r.body), d.sha256);
    }
    assert.deepEqual(seenInFlight, [1, 1], 'the first bytes reached both clients while upstream was still sending');
    assert.equal(up.countFor(d.path), 1);
    assert.equal(h.cache.stats().coalesced, 1);
  } finally {
    await close();
  }
});

test('negative cache: a missing index is asked once; the remembered 404 is not counted as a hit', async () => {
  const { up, h, close } = await setup();
  try {
    const p = 'dists/bookworm/main/i18n/Translation-de.xz';
    assert.equal((await get(`${h.base}/debian/${p}`)).status, 404);
    const hits = h.cache.stats().hits;
    assert.equal((await get(`${h.base}/debian/${p}`)).status, 404);
    assert.equal(up.countFor(p), 1);
    assert.equal(h.cache.stats().hits, hits, 'a 404 from memory is not a cache hit');
    assert.equal(h.cache.stats().negativeHits, 1);
  } finally {
    await close();
  }
});
