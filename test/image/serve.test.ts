// /images/<role>/<file> through a real daemon, with curl: Range, ETag (If-None-Match,
// If-Range), HEAD, 416, and the jail (only <id>.ext4.zst / <id>.json; no traversal, no hidden
// status/lock files, no symlink out). And /api/v1/images: auth, states, build refusals, audit.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeFixture, startDaemon, mintToken, type Fixture } from '../helpers/fixture.js';
import type { Daemon } from '../../src/daemon.js';
import { AuthStore } from '../../src/web/auth.js';
import type { ImageManifest } from '../../src/image/store.js';

const run = promisify(execFile);
const INVENTORY = `
roles:
  img:
    installer: image
    suite: bookworm
    packages: [openssh-server]
  bad-suite:
    installer: image
    suite: no-such-suite
  answers:
    kernel: tiny/vmlinuz
    initrd: tiny/initrd.img
    template: tiny.cfg
hosts:
  - name: alpha
    macs: ["52:54:00:aa:00:01"]
    roles: [answers]
`;
const ID = '0123456789abcdef';
const body = randomBytes(3 * 1024 * 1024 + 17);
const sha = createHash('sha256').update(body).digest('hex');
let fx: Fixture;
let d: Daemon;
let base: string;
let token: string;

before(async () => {
  fx = makeFixture('paths:\n  images: images\n', INVENTORY);
  // makeFixture's own paths: section comes first; the appended one would be a duplicate key
  const cfg = (await import('node:fs')).readFileSync(fx.configFile, 'utf8').replace('paths:\n  images: images\n', '').replace('  templates: templates\n', '  templates: templates\n  images: images\n');
  writeFileSync(fx.configFile, cfg);
  const dir = join(fx.dir, 'images/img');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${ID}.ext4.zst`), body);
  const m: ImageManifest = { id: ID, role: 'img', format: 'ext4+zstd', file: `${ID}.ext4.zst`, sha256: sha, size: body.length, rawSize: 1 << 30, builtAt: '2026-01-01T00:00:00.000Z', buildSeconds: 100, suite: 'bookworm', kernelVersion: '6.1.0-41-amd64', packages: [{ name: 'openssh-server', version: '1:9.2p1-2' }] };
  writeFileSync(join(dir, `${ID}.json`), JSON.stringify(m));
  writeFileSync(join(dir, '.status.json'), '{"state":"done"}');
  writeFileSync(join(dir, '.build.lock'), '999999999 2026-01-01T00:00:00Z\n'); // a builder that died
  writeFileSync(join(fx.dir, 'secret.json'), 'outside the images directory');
  symlinkSync(join(fx.dir, 'secret.json'), join(dir, 'fedcba9876543210.json'));
  ({ d, base } = await startDaemon(fx));
  token = await mintToken(d);
});
after(async () => {
  await d?.stop();
  fx.cleanup();
});

async function curl(args: string[]): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
  const hdr = join(fx.dir, `h-${randomBytes(4).toString('hex')}`);
  const out = join(fx.dir, `b-${randomBytes(4).toString('hex')}`);
  const { stdout } = await run('curl', ['-s', '-o', out, '-D', hdr, '-w', '%{http_code}', ...args]);
  const { readFileSync } = await import('node:fs');
  const headers: Record<string, string> = {};
  for (const l of readFileSync(hdr, 'utf8').split('\r\n').slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  let b = Buffer.alloc(0);
  try {
    b = readFileSync(out);
  } catch {
    /* HEAD / no body */
  }
  return { status: Number(stdout), headers, body: b };
}

test('curl downloads the image whole, with ETag and Accept-Ranges; sha256 matches the manifest', async () => {
  const r = await curl([`${base}/images/img/${ID}.ext4.zst`]);
  assert.equal(r.status, 200);
  assert.equal(createHash('sha256').update(r.body).digest('hex'), sha);
  assert.equal(r.headers['accept-ranges'], 'bytes');
  assert.match(r.headers.etag, /^"[0-9a-f]+-[0-9a-f]+"$/);
  const m = await curl([`${base}/images/img/${ID}.json`]);
  assert.equal(m.status, 200);
  assert.equal(JSON.parse(m.body.toString()).sha256, sha);
  const h = await curl(['-I', `${base}/images/img/${ID}.ext4.zst`]);
  assert.equal(h.status, 200);
  assert.equal(h.headers['content-length'], String(body.length));
});

test('Range: a middle slice, a suffix, resume with curl -C, If-Range, 416 past the end, 304 on If-None-Match', async () => {
  const url = `${base}/images/img/${ID}.ext4.zst`;
  const mid = await curl(['-r', '1000-1999', url]);
  assert.equal(mid.status, 206);
  assert.equal(mid.headers['content-range'], `bytes 1000-1999/${body.length}`);
  assert.deepEqual(mid.body, body.subarray(1000, 2000));
  const suf = await curl(['-H', 'Range: bytes=-17', url]);
  assert.equal(suf.status, 206);
  assert.deepEqual(suf.body, body.subarray(body.length - 17));
  const part = join(fx.dir, 'resume.zst');
  writeFileSync(part, body.subarray(0, 1_000_000));
  await run('curl', ['-s', '-C', '-', '-o', part, url]);
  assert.equal(createHash('sha256').update((await import('node:fs')).readFileSync(part)).digest('hex'), sha, 'resumed download is whole');
  const etag = (await curl(['-I', url])).headers.etag;
  assert.equal((await curl(['-H', `If-Range: ${etag}`, '-r', '0-9', url])).status, 206);
  const stale = await curl(['-H', 'If-Range: "0-0"', '-r', '0-9', url]);
  assert.equal(stale.status, 200, 'an If-Range that no longer matches gets the whole file');
  assert.equal(stale.body.length, body.length);
  const past = await curl(['-r', `${body.length}-`, url]);
  assert.equal(past.status, 416);
  assert.equal(past.headers['content-range'], `bytes */${body.length}`);
  assert.equal((await curl(['-H', `If-None-Match: ${etag}`, url])).status, 304);
});

test('the jail: only <role>/<id>.ext4.zst|json inside paths.images; no traversal, hidden files or symlinks out', async () => {
  for (const p of [
    'img/.status.json',
    'img/.build.lock',
    'img/fedcba9876543210.json', // a symlink pointing outside
    'img/%2e%2e/%2e%2e/secret.json',
    '..%2fsecret.json',
    `img/${ID}.ext4`,
    `img/${ID}.ext4.zst/x`,
    `IMG/${ID}.json`,
    `img/sub/${ID}.json`,
    `${ID}.json`,
    'img',
  ]) {
    const r = await curl(['--path-as-is', `${base}/images/${p}`]);
    assert.equal(r.status, 404, p);
    assert.ok(!r.body.toString().includes('outside the images'), p);
  }
});

type Err = { error: { code: string; message: string } };
const api = (path: string, init: RequestInit = {}) =>
  fetch(`${base}/api/v1${path}`, { ...init, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...(init.headers as Record<string, string> | undefined) } });

test('API: token required; GET lists installer: image roles with state and latest manifest', async () => {
  assert.equal((await fetch(`${base}/api/v1/images`)).status, 401);
  const r = await api('/images');
  assert.equal(r.status, 200);
  const j = (await r.json()) as { roles: { role: string; state: string; latest: ImageManifest | null; images: ImageManifest[] }[] };
  assert.deepEqual(j.roles.map((x) => [x.role, x.state]), [['bad-suite', 'none'], ['img', 'ready']], 'answer-file roles are not listed');
  // the lock's pid is not alive: a stale lock is not a build
  const img = j.roles.find((x) => x.role === 'img')!;
  assert.equal(img.latest?.sha256, sha);
  assert.equal(img.images.length, 1);
});

test('API: build refusals (unknown role 404, answer-file role 400, bad body 400) and a failing build names its step; all audited', async () => {
  const unknown = await api('/images/nosuch/build', { method: 'POST', body: '{}' });
  assert.equal(unknown.status, 404);
  assert.equal(((await unknown.json()) as Err).error.code, 'FB_NOT_FOUND');
  const answers = await api('/images/answers/build', { method: 'POST', body: '{}' });
  assert.equal(answers.status, 400);
  assert.match(((await answers.json()) as Err).error.message, /installer: answer-file/);
  assert.equal((await api('/images/img/build', { method: 'POST', body: '{"force":"yes"}' })).status, 400);
  const started = await api('/images/bad-suite/build', { method: 'POST', body: '{}' });
  assert.equal(started.status, 202);
  assert.deepEqual(await started.json(), { role: 'bad-suite', state: 'building' });
  let st: { state: string; build: { step: string; error: string } };
  for (let i = 0; ; i++) {
    st = (await (await api('/images/bad-suite')).json()) as typeof st;
    if (st.state !== 'building' || i > 100) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(st.state, 'failed');
  assert.equal(st.build.step, 'prepare');
  assert.match(st.build.error, /^step prepare failed: debootstrap does not know suite "no-such-suite"/);
  const audit = new AuthStore(d.db).auditLog({ action: 'image.build' }) as { target: string; detail: string; actor: string }[];
  assert.deepEqual(audit.map((a) => [a.target, a.detail.replace(/:.*/, '')]).sort(), [['answers', 'refused'], ['bad-suite', 'started'], ['nosuch', 'refused']]);
  assert.ok(audit.every((a) => a.actor.includes('tests')));
});

test('API: DELETE removes an image (audited), a second DELETE is 404, bad ids 400', async () => {
  assert.equal((await api('/images/img/not-an-id', { method: 'DELETE' })).status, 400);
  const del = await api(`/images/img/${ID}`, { method: 'DELETE' });
  assert.equal(del.status, 200);
  assert.deepEqual(await del.json(), { removed: { role: 'img', id: ID } });
  assert.equal((await api(`/images/img/${ID}`, { method: 'DELETE' })).status, 404);
  assert.equal((await curl([`${base}/images/img/${ID}.ext4.zst`])).status, 404);
  const audit = new AuthStore(d.db).auditLog({ action: 'image.rm' }) as { target: string; detail: string }[];
  assert.deepEqual(audit.map((a) => [a.target, a.detail]), [['img', ID]]);
  const st = ((await (await api('/images/img')).json()) as { state: string });
  assert.equal(st.state, 'none');
});
