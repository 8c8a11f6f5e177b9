// The verification chain and crash consistency: by-name index files are checked against the
// Release (with one Release revalidation when upstream just published a new one); a new
// Release marks the by-name indexes it contradicts stale; a Packages index read later drops
// cached packages it contradicts; by-hash MD5Sum/SHA1 names are checked; a row whose file is
// not the version it describes is fetched again; files without rows are removed at start-up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { buildRepo, republish, type FixtureRepo } from './repo.js';
import { Upstream } from './upstream.js';
import { startCache, type CacheHarness } from './harness.js';
import { get, waitFor } from './client.js';
import { FakeClock } from '../helpers/fixture.js';

const hash = (algo: string, b: Buffer) => createHash(algo).update(b).digest('hex');
const REL = 'dists/bookworm/Release';
const PGZ = 'dists/bookworm/main/binary-amd64/Packages.gz';

async function setup(cfg: Record<string, unknown> = {}, clock?: FakeClock, dir?: string) {
  const root = mkdtempSync(join(tmpdir(), 'fb-cache-verify-'));
  const repo: FixtureRepo = buildRepo(join(root, 'repo'));
  const up = new Upstream(repo.root);
  await up.start();
  const h: CacheHarness = await startCache({ repos: [{ name: 'debian', url: up.url }], ...cfg }, clock, dir);
  return { root, repo, up, h, close: async () => (await h.close(), await up.stop(), rmSync(root, { recursive: true, force: true })) };
}

test('by-name index files are checked against the Release: a corrupt Packages.gz is refused, never cached', async () => {
  const { up, h, close } = await setup();
  try {
    assert.equal((await get(`${h.base}/debian/${REL}`)).status, 200);
    await h.cache.settled();
    up.faults.set(PGZ, { kind: 'corrupt' });
    const bad = await get(`${h.base}/debian/${PGZ}`);
    assert.ok(bad.error, 'the client sees an incomplete body, not a short file');
    assert.equal(h.cache.has('debian', PGZ), false);
    assert.equal(h.cache.stats().verifyFailures, 1);
    assert.equal(up.countFor(REL), 2, 'the Release was revalidated once before refusing');
    up.faults.clear();
    const ok = await get(`${h.base}/debian/${PGZ}`);
    assert.equal(ok.error, undefined);
    assert.equal(h.cache.has('debian', PGZ), true);
  } finally {
    await close();
  }
});

test('upstream published a new Release: the new by-name index is accepted after one Release revalidation', async () => {
  const clock = new FakeClock(Date.now());
  const { repo, up, h, close } = await setup({ indexFreshSeconds: 3600 }, clock);
  try {
    await get(`${h.base}/debian/${REL}`);
    await h.cache.settled();
    republish(repo.root, 'fb-extra'); // new Packages + Release upstream; ours is still fresh
    const r = await get(`${h.base}/debian/${PGZ}`);
    assert.equal(r.status, 200);
    assert.equal(r.error, undefined);
    assert.equal(hash('sha256', r.body), hash('sha256', readFileSync(join(repo.root, PGZ))));
    assert.equal(h.cache.has('debian', PGZ), true);
    assert.equal(up.countFor(REL), 2);
    assert.equal(h.cache.stats().verifyFailures, 0);
  } finally {
    await close();
  }
});

test('a changed Release marks the by-name indexes it contradicts stale: they are fetched again, not served old', async () => {
  const clock = new FakeClock(Date.now());
  const { repo, up, h, close } = await setup({ indexFreshSeconds: 60 }, clock);
  try {
    await get(`${h.base}/debian/${REL}`);
    clock.advance(50_000);
    const old = await get(`${h.base}/debian/${PGZ}`);
    clock.advance(20_000); // the Release is due for revalidation, Packages.gz is not
    republish(repo.root, 'fb-extra');
    assert.equal((await get(`${h.base}/debian/${REL}`)).headers['x-cache'], 'MISS');
    await h.cache.settled();
    const now = await get(`${h.base}/debian/${PGZ}`);
    assert.equal(now.headers['x-cache'], 'MISS', 'revalidated because the new Release lists another SHA256');
    assert.notDeepEqual(now.body, old.body);
    assert.equal(hash('sha256', now.body), hash('sha256', readFileSync(join(repo.root, PGZ))));
    assert.equal(up.countFor(PGZ), 2);
  } finally {
    await close();
  }
});

test('a pool file cached before any Packages index listed it is dropped when the index contradicts it', async () => {
  const { repo, up, h, close } = await setup();
  try {
    const d = repo.debs.find((x) => x.pkg === 'hello')!;
    up.faults.set(d.path, { kind: 'corrupt' }); // same length, other bytes, nothing to check against yet
    await get(`${h.base}/debian/${d.path}`);
    assert.equal(h.cache.has('debian', d.path), true);
    up.faults.clear();
    await get(`${h.base}/debian/dists/bookworm/main/binary-amd64/Packages.xz`);
    await h.cache.settled();
    assert.equal(h.cache.has('debian', d.path), false, 'dropped: its SHA256 is not the one Packages lists');
    assert.equal(h.cache.stats().contradicted, 1);
    const again = await get(`${h.base}/debian/${d.path}`);
    assert.equal(again.headers['x-cache'], 'MISS');
    assert.equal(hash('sha256', again.body), d.sha256);
  } finally {
    await close();
  }
});

test('by-hash MD5Sum/, SHA1/ and SHA512/ names are checked against the bytes', async () => {
  const { repo, up, h, close } = await setup();
  try {
    const body = readFileSync(join(repo.root, PGZ));
    const other = readFileSync(join(repo.root, 'dists/bookworm/main/binary-amd64/Packages.xz'));
    const paths: string[] = [];
    for (const [dir, algo] of [['MD5Sum', 'md5'], ['SHA1', 'sha1'], ['SHA512', 'sha512']]) {
      const p = `dists/bookworm/main/binary-amd64/by-hash/${dir}/${hash(algo, body)}`;
      mkdirSync(dirname(join(repo.root, p)), { recursive: true });
      copyFileSync(join(repo.root, PGZ), join(repo.root, p));
      paths.push(p);
      up.faults.set(p, { kind: 'corrupt' });
      const bad = await get(`${h.base}/debian/${p}`);
      assert.ok(bad.error, p);
      assert.equal(h.cache.has('debian', p), false, p);
    }
    // a name that is not the digest of what upstream sends (right length, other file)
    const wrong = `dists/bookworm/main/binary-amd64/by-hash/MD5Sum/${hash('md5', body)}`;
    writeFileSync(join(repo.root, wrong), other);
    up.faults.clear();
    assert.ok((await get(`${h.base}/debian/${wrong}`)).error);
    assert.equal(h.cache.stats().verifyFailures, 4);
    copyFileSync(join(repo.root, PGZ), join(repo.root, wrong));
    for (const p of paths) {
      const ok = await get(`${h.base}/debian/${p}`);
      assert.equal(ok.error, undefined, p);
      assert.equal(h.cache.has('debian', p), true, p);
    }
  } finally {
    await close();
  }
});

test('a row whose file is not the version it describes (crash between row and rename) is fetched again', async () => {
  const { up, h, close } = await setup({ indexFreshSeconds: 3600 });
  try {
    await get(`${h.base}/debian/${REL}`);
    // what a crash after the row was written and before the rename leaves: the row of the new
    // version (here: another mtime, same size) over the old file
    h.db.prepare('UPDATE cache_files SET mtime = mtime + 5000 WHERE path = ?').run(REL);
    const r = await get(`${h.base}/debian/${REL}`);
    assert.equal(r.headers['x-cache'], 'MISS');
    assert.equal(up.countFor(REL), 2);
    assert.equal((await get(`${h.base}/debian/${REL}`)).headers['x-cache'], 'HIT');
    // and a row without its file
    rmSync(h.cache.localPath('debian', REL));
    assert.equal((await get(`${h.base}/debian/${REL}`)).headers['x-cache'], 'MISS');
    assert.equal(h.cache.stats().files, 1);
  } finally {
    await close();
  }
});

test('a commit whose target became a directory: a clean error, the row put back, totals unchanged', async () => {
  const { repo, up, h, close } = await setup();
  try {
    const d = repo.debs.find((x) => x.pkg === 'libc6')!;
    let release!: () => void;
    up.faults.set(d.path, { kind: 'gate', afterBytes: 100_000, release: new Promise<void>((r) => (release = r)) });
    let got = 0;
    const pending = get(`${h.base}/debian/${d.path}`, { onData: (n) => (got = n) });
    await waitFor(() => got > 0, 'the first bytes');
    mkdirSync(join(h.cache.localPath('debian', d.path), 'x'), { recursive: true });
    writeFileSync(join(h.cache.localPath('debian', d.path), 'x/y'), 'y');
    release();
    const r = await pending;
    assert.ok(r.error, 'the client sees the failure');
    assert.equal(h.cache.has('debian', d.path), false);
    assert.equal(h.cache.stats().files, 0);
    assert.equal(h.cache.stats().sizeBytes, 0);
  } finally {
    await close();
  }
});

test('start-up reconcile: files no row describes are removed (never served, never outside the size accounting)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fb-cache-reconcile-'));
  const { repo, up, h, close } = await setup({}, undefined, dir);
  let h2: CacheHarness | undefined;
  try {
    const hello = repo.debs.find((x) => x.pkg === 'hello')!;
    const mawk = repo.debs.find((x) => x.pkg === 'mawk')!;
    await get(`${h.base}/debian/${hello.path}`);
    await h.close();
    // an older version renamed before it recorded, and crashed in between
    mkdirSync(dirname(h.cache.localPath('debian', mawk.path)), { recursive: true });
    writeFileSync(h.cache.localPath('debian', mawk.path), readFileSync(join(repo.root, mawk.path)));
    h2 = await startCache({ repos: [{ name: 'debian', url: up.url }] }, undefined, dir);
    const r = await h2.cache.reconciled();
    assert.deepEqual(r.removed, [`debian/${mawk.path}`]);
    assert.equal(r.scanned, 2);
    assert.equal(h2.cache.stats().files, 1);
    assert.equal((await get(`${h2.base}/debian/${hello.path}`)).headers['x-cache'], 'HIT');
    assert.equal((await get(`${h2.base}/debian/${mawk.path}`)).headers['x-cache'], 'MISS');
  } finally {
    await h2?.close();
    await close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cache_known is pruned: a re-read index drops the rows of files it no longer lists', async () => {
  const clock = new FakeClock(Date.now());
  const { repo, h, close } = await setup({ indexFreshSeconds: 60 }, clock);
  try {
    const known = (p: string) => h.db.prepare('SELECT src FROM cache_known WHERE repo = ? AND path = ?').get('debian', p) as { src: string } | undefined;
    const extra = repo.built.find((x) => x.pkg === 'fb-extra')!;
    const hello = repo.debs.find((x) => x.pkg === 'hello')!;
    await get(`${h.base}/debian/${REL}`);
    await get(`${h.base}/debian/${PGZ}`);
    await h.cache.settled();
    assert.equal(known(extra.path)?.src, PGZ);
    assert.equal(known(PGZ)?.src, REL, 'the Release taught the digest of Packages.gz');
    republish(repo.root, 'fb-extra');
    clock.advance(61_000);
    await get(`${h.base}/debian/${REL}`);
    await h.cache.settled();
    assert.equal((await get(`${h.base}/debian/${PGZ}`)).headers['x-cache'], 'MISS');
    await h.cache.settled();
    assert.equal(known(extra.path), undefined, 'no index lists fb-extra any more');
    assert.equal(known(hello.path)?.src, PGZ);
  } finally {
    await close();
  }
});
