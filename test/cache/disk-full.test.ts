// With the cache disk full, refreshing an index we hold fails while writing (ENOSPC): the client
// gets the held copy marked stale, complete, never an empty or broken-off body; once there is
// room the new version is served. The cache directory is a real 4 MiB tmpfs (root: mount).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { appendFileSync, closeSync, mkdtempSync, openSync, readFileSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRepo } from './repo.js';
import { Upstream } from './upstream.js';
import { startCache } from './harness.js';
import { get } from './client.js';
import { FakeClock } from '../helpers/fixture.js';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;

test('cache disk full: a held index whose refresh fails with ENOSPC is served stale and whole; fresh again once there is room', { skip: isRoot ? false : 'needs root to mount a small tmpfs' }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'fb-cache-full-'));
  const mnt = join(root, 'mnt');
  execFileSync('mkdir', [mnt]);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mnt]);
  const repo = buildRepo(join(root, 'repo'));
  const up = new Upstream(repo.root);
  await up.start();
  const clock = new FakeClock(Date.now());
  const h = await startCache({ repos: [{ name: 'debian', url: `${up.url}/` }], indexFreshSeconds: 60, dir: join(mnt, 'cache') }, clock, join(root, 'state'));
  const filler = join(mnt, 'filler');
  try {
    const rel = 'dists/bookworm/Release';
    const good = readFileSync(join(repo.root, rel));
    const first = await get(`${h.base}/debian/${rel}`);
    assert.equal(first.status, 200);
    assert.deepEqual(first.body, good);
    // upstream publishes a new, larger Release; the cache disk fills up
    appendFileSync(join(repo.root, rel), `X-Padding: ${'p'.repeat(200_000)}\n`);
    const newer = new Date(Date.now() + 120_000);
    execFileSync('touch', ['-d', newer.toISOString(), join(repo.root, rel)]);
    const fd = openSync(filler, 'w');
    try {
      for (;;) writeSync(fd, Buffer.alloc(64 * 1024, 1));
    } catch (e) {
      assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
    }
    try {
      for (;;) writeSync(fd, Buffer.alloc(512, 1));
    } catch {
      /* to the last block */
    }
    closeSync(fd);
    clock.advance(61_000);
    // a real client: curl, headers and body
    const r = await run('curl', ['-sS', '-D', '-', '-o', join(root, 'body'), `${h.base}/debian/${rel}`], { encoding: 'utf8' });
    const headers = r.stdout;
    assert.match(headers, /^HTTP\/1\.1 200/);
    assert.match(headers, /^x-cache: STALE\r?$/im);
    assert.match(headers, /^warning: 110 /im);
    const body = readFileSync(join(root, 'body'));
    assert.ok(body.length > 0, 'never an empty body');
    assert.deepEqual(body, good, 'the held copy, whole');
    assert.equal(up.countFor(rel), 2, 'the refresh was attempted');
    // room again: the next request fetches and serves the new version
    unlinkSync(filler);
    clock.advance(61_000);
    const after = await get(`${h.base}/debian/${rel}`);
    assert.equal(after.status, 200);
    assert.notEqual(after.headers['x-cache'], 'STALE');
    assert.deepEqual(after.body, readFileSync(join(repo.root, rel)));
  } finally {
    await h.close();
    await up.stop();
    rmSync(filler, { force: true });
    execFileSync('umount', [mnt]);
    rmSync(root, { recursive: true, force: true });
  }
});
