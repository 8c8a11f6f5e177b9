// Two processes on one cache directory and SQLite file (the daemon and `fleetboot cache warm`):
// starting one never kills the other's downloads (temp files are per process and only those of
// dead writers are removed), and both may commit the same path.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildRepo, NETBOOT_DIR, type FixtureRepo } from './repo.js';
import { Upstream } from './upstream.js';
import { startCache } from './harness.js';
import { makeFleet } from './fleet.js';
import { get, waitFor } from './client.js';
import { REPO, startDaemon } from '../helpers/fixture.js';

const run = promisify(execFile);
let repo: FixtureRepo;
let root: string;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

before(() => {
  root = mkdtempSync(join(tmpdir(), 'fb-cache-shared-'));
  repo = buildRepo(join(root, 'repo'));
});
after(() => rmSync(root, { recursive: true, force: true }));

test('`fleetboot cache warm` (a real second process) while the daemon downloads: the download completes and commits', { timeout: 120_000 }, async () => {
  const up = new Upstream(repo.root);
  await up.start();
  const fleet = makeFleet(up.url);
  const { d, base } = await startDaemon(fleet.fx);
  try {
    const path = `${NETBOOT_DIR}/netboot.tar.gz`;
    let release!: () => void;
    up.faults.set(path, { kind: 'gate', afterBytes: 2000, release: new Promise<void>((r) => (release = r)) });
    let got = 0;
    const pending = get(`${base}/mirror/debian/${path}`, { onData: (n) => (got = n) });
    await waitFor(() => got > 0, 'the daemon streaming the first bytes');
    const tmp = join(fleet.fx.dir, 'cache/.tmp');
    assert.equal(readdirSync(tmp).length, 1, "the daemon's temp file");
    const cli = await run(process.execPath, [join(REPO, 'dist/src/cli.js'), '--config', fleet.configFile, 'cache', 'warm', '--role', 'web'], { env: { ...process.env, FLEETBOOT_CONFIG: '' } });
    assert.match(cli.stdout, /fetched: 16 files/);
    release();
    const r = await pending;
    assert.equal(r.error, undefined, "the daemon's download survived the warm-up's start");
    assert.equal(sha(r.body), sha(readFileSync(join(repo.root, path))));
    const again = await get(`${base}/mirror/debian/${path}`);
    assert.equal(again.headers['x-cache'], 'HIT');
    // the daemon sees what the warm-up committed (same SQLite file)
    const hello = repo.debs.find((x) => x.pkg === 'hello')!;
    assert.equal((await get(`${base}/mirror/debian/${hello.path}`)).headers['x-cache'], 'HIT');
    assert.equal(up.countFor(hello.path), 1);
  } finally {
    await d.stop();
    fleet.cleanup();
    await up.stop();
  }
});

test('two caches on one directory: a second start() leaves the first one\'s temp file; both commit the same path', async () => {
  const up = new Upstream(repo.root);
  await up.start();
  const dir = mkdtempSync(join(tmpdir(), 'fb-cache-two-'));
  const a = await startCache({ repos: [{ name: 'debian', url: up.url }] }, undefined, dir);
  let b: Awaited<ReturnType<typeof startCache>> | undefined;
  try {
    const d = repo.debs.find((x) => x.pkg === 'libc6')!;
    let release!: () => void;
    up.faults.set(d.path, { kind: 'gate', afterBytes: 100_000, release: new Promise<void>((r) => (release = r)) });
    let gotA = 0;
    const ra = get(`${a.base}/debian/${d.path}`, { onData: (n) => (gotA = n) });
    await waitFor(() => gotA > 0, 'first bytes from A');
    b = await startCache({ repos: [{ name: 'debian', url: up.url }] }, undefined, dir);
    let gotB = 0;
    const rb = get(`${b.base}/debian/${d.path}`, { onData: (n) => (gotB = n) });
    await waitFor(() => gotB > 0, 'first bytes from B');
    assert.equal(readdirSync(join(dir, 'cache/.tmp')).length, 2, 'one temp file per process');
    release();
    const [x, y] = await Promise.all([ra, rb]);
    for (const r of [x, y]) {
      assert.equal(r.error, undefined);
      assert.equal(sha(r.body), d.sha256);
    }
    assert.equal(a.cache.has('debian', d.path), true);
    assert.equal((a.db.prepare('SELECT COUNT(*) AS n FROM cache_files').get() as { n: number }).n, 1);
    assert.equal((await get(`${a.base}/debian/${d.path}`)).headers['x-cache'], 'HIT');
    assert.equal((await get(`${b.base}/debian/${d.path}`)).headers['x-cache'], 'HIT');
    assert.deepEqual(readdirSync(join(dir, 'cache/.tmp')), []);
  } finally {
    await b?.close();
    await a.close();
    await up.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('start-up removes only temp files whose writer is gone', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fb-cache-tmp-'));
  const tmp = join(dir, 'cache/.tmp');
  mkdirSync(tmp, { recursive: true });
  const host = hostname().replace(/[^A-Za-z0-9-]/g, '_');
  // a pid that is not running: a child that has exited
  const dead = await new Promise<number>((r) => {
    const c = execFile(process.execPath, ['-e', '0']);
    c.on('exit', () => r(c.pid!));
  });
  const names = {
    dead: `${host}.${dead}.abcdef01.${randomUUID()}`,
    alive: `${host}.${process.ppid}.abcdef02.${randomUUID()}`, // our parent runs
    ownGone: `${host}.${process.pid}.abcdef03.${randomUUID()}`, // our pid, an instance that is not alive
    otherHostFresh: `elsewhere.1234.abcdef04.${randomUUID()}`,
    otherHostOld: `elsewhere.1235.abcdef05.${randomUUID()}`,
    legacyOld: randomUUID(),
  };
  for (const n of Object.values(names)) writeFileSync(join(tmp, n), 'partial');
  const old = Date.now() / 1000 - 24 * 3600;
  utimesSync(join(tmp, names.otherHostOld), old, old);
  utimesSync(join(tmp, names.legacyOld), old, old);
  const h = await startCache({ repos: [{ name: 'debian', url: 'http://127.0.0.1:9/' }] }, undefined, dir);
  try {
    const left = new Set(readdirSync(tmp));
    assert.deepEqual(Object.entries(names).filter(([, n]) => left.has(n)).map(([k]) => k).sort(), ['alive', 'otherHostFresh']);
  } finally {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
