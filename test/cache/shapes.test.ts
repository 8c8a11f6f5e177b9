// Directory-like paths never become cached files: shapes that cannot be archive files are
// refused before upstream is asked; an upstream directory (301 to "dir/", then an HTML
// listing) or any text/html answer is refused; a file left where a directory must be (by an
// older version) is cleaned up instead of breaking every commit below it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { buildRepo, NETBOOT_DIR, type FixtureRepo } from './repo.js';
import { Upstream } from './upstream.js';
import { startCache, type CacheHarness } from './harness.js';
import { get } from './client.js';
import { checkArchivePath, kindOf } from '../../src/cache/paths.js';

let repo: FixtureRepo;
let root: string;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

before(() => {
  root = mkdtempSync(join(tmpdir(), 'fb-cache-shapes-'));
  repo = buildRepo(root);
});
after(() => rmSync(root, { recursive: true, force: true }));

async function setup(): Promise<{ up: Upstream; h: CacheHarness; close: () => Promise<void> }> {
  const up = new Upstream(repo.root);
  await up.start();
  const h = await startCache({ repos: [{ name: 'debian', url: up.url }] });
  return { up, h, close: async () => (await h.close(), await up.stop()) };
}

test('archive file shapes: what a real Debian mirror serves as files passes, directories do not', () => {
  for (const p of [
    'pool/main/h/hello/hello_2.10-3_amd64.deb', 'pool/main/l/linux-signed-amd64/nic-modules-6.1.0-18-amd64-di_6.1.76-1_amd64.udeb',
    'pool/main/h/hello/hello_2.10.orig.tar.gz', 'pool/main/h/hello/hello_2.10-3.dsc', 'dists/bookworm/InRelease', 'dists/bookworm/Release.gpg',
    'dists/bookworm/main/binary-amd64/Packages.xz', 'dists/bookworm/main/i18n/Translation-en.bz2', 'dists/bookworm/main/Contents-udeb-amd64.gz',
    'dists/bookworm/main/dep11/Components-amd64.yml.gz', 'dists/bookworm/main/dep11/icons-48x48.tar.gz', 'dists/bookworm/main/binary-amd64/Packages.diff/Index',
    'dists/bookworm/main/binary-amd64/Packages.diff/T-2024-01-01-0000.00-F-2023-12-31-2000.00.gz', 'dists/bookworm/main/binary-amd64/Release',
    `dists/bookworm/main/binary-amd64/by-hash/SHA256/${'a'.repeat(64)}`, `dists/bookworm/main/binary-amd64/by-hash/MD5Sum/${'b'.repeat(32)}`,
    'dists/bookworm/main/installer-amd64/current/images/netboot/debian-installer/amd64/linux', 'dists/bookworm/main/installer-amd64/current/images/SHA256SUMS',
    'dists/bookworm/main/installer-amd64/current/images/netboot/netboot.tar.gz',
  ]) assert.equal(checkArchivePath(p), p, p);
  for (const p of [
    'pool/main/h', 'pool/main/h/hello', 'pool/main', 'dists/bookworm', 'dists/bookworm/main', 'dists/bookworm/main/binary-amd64',
    'dists/bookworm/main/installer-amd64/current', `dists/bookworm/main/binary-amd64/by-hash/SHA256/${'a'.repeat(63)}`,
    'dists/bookworm/main/binary-amd64/by-hash/SHA256', 'pool/main/h/hello/README', 'dists/bookworm/main/binary-amd64/notes.html', 'README', 'ls-lR.gz',
  ]) assert.equal(checkArchivePath(p), null, p);
  // rpm trees
  for (const p of ['9/BaseOS/x86_64/os/Packages/b/bash-5.1.8-9.el9.x86_64.rpm', '9/BaseOS/x86_64/os/repodata/repomd.xml', '9/BaseOS/x86_64/os/.treeinfo',
    `9/BaseOS/x86_64/os/repodata/${'c'.repeat(64)}-primary.xml.gz`, '9/BaseOS/x86_64/os/images/install.img', '9/BaseOS/x86_64/os/images/pxeboot/vmlinuz']) {
    assert.equal(checkArchivePath(p, 'rpm'), p, p);
  }
  for (const p of ['9/BaseOS/x86_64/os', '9/BaseOS/x86_64/os/repodata', '9/BaseOS/x86_64/os/images/pxeboot', '9/BaseOS/x86_64/os/.hidden']) assert.equal(checkArchivePath(p, 'rpm'), null, p);
  assert.equal(kindOf(`9/x/repodata/${'c'.repeat(64)}-primary.xml.gz`, 'rpm'), 'immutable');
  assert.equal(kindOf('9/x/repodata/repomd.xml', 'rpm'), 'index');
  assert.equal(kindOf('9/x/images/install.img', 'rpm'), 'index');
});

test('directory paths are 404 and never cached: refused shapes, redirects to "dir/", HTML answers', async () => {
  const { up, h, close } = await setup();
  try {
    for (const p of ['pool/main/h', 'pool/main/h/hello', 'dists/bookworm', 'dists/bookworm/main/binary-amd64']) {
      assert.equal((await get(`${h.base}/debian/${p}`)).status, 404, p);
    }
    assert.deepEqual(up.requests, [], 'refused by shape: upstream never asked');
    // passes the shape check (a dot in the name), but upstream says "directory" with a 301
    const dirPath = `${NETBOOT_DIR}/pxelinux.cfg`;
    const r = await get(`${h.base}/debian/${dirPath}`);
    assert.equal(r.status, 404);
    assert.deepEqual(up.requests, [dirPath], 'the redirect to the listing is not followed');
    assert.equal(h.cache.has('debian', dirPath), false);
    assert.equal(existsSync(h.cache.localPath('debian', dirPath)), false);
    // the file below it is served and cached normally
    const f = await get(`${h.base}/debian/${dirPath}/default`);
    assert.equal(f.status, 200);
    assert.equal(f.body.toString(), 'default install\n');
    assert.ok(statSync(dirname(h.cache.localPath('debian', `${dirPath}/default`))).isDirectory());
    // HTML for an archive path (a captive portal, an error page): refused, nothing cached
    const d = repo.debs.find((x) => x.pkg === 'hello')!;
    up.faults.set(d.path, { kind: 'html' });
    const html = await get(`${h.base}/debian/${d.path}`);
    assert.equal(html.status, 502);
    assert.match(html.body.toString(), /text\/html/);
    assert.equal(h.cache.has('debian', d.path), false);
    up.faults.clear();
    assert.equal(sha((await get(`${h.base}/debian/${d.path}`)).body), d.sha256);
  } finally {
    await close();
  }
});

test('a file poisoned into a directory position (older versions) is removed; commits below it work', async () => {
  const { h, close } = await setup();
  try {
    const d = repo.debs.find((x) => x.pkg === 'hello')!;
    // what an older fleetboot left: pool/main/h cached as a file (kind immutable) with its row
    const poison = 'pool/main/h';
    mkdirSync(dirname(h.cache.localPath('debian', poison)), { recursive: true });
    writeFileSync(h.cache.localPath('debian', poison), '<html>Index of /pool/main/h</html>\n');
    h.db.prepare("INSERT INTO cache_files (repo, path, kind, size, sha256, validated_at, last_access) VALUES ('debian', ?, 'immutable', 35, 'x', 1, 1)").run(poison);
    const r = await get(`${h.base}/debian/${d.path}`);
    assert.equal(r.status, 200);
    assert.equal(sha(r.body), d.sha256);
    assert.equal(h.cache.has('debian', d.path), true, 'committed below the former file');
    assert.equal(h.cache.has('debian', poison), false, 'the poisoned row is gone');
    assert.ok(statSync(h.cache.localPath('debian', poison)).isDirectory());
    assert.equal((await get(`${h.base}/debian/${d.path}`)).headers['x-cache'], 'HIT');
  } finally {
    await close();
  }
});

test('a file whose name is a directory in the cache: a clean 404, the cache stays intact', async () => {
  const { up, h, close } = await setup();
  try {
    const def = `${NETBOOT_DIR}/pxelinux.cfg/default`;
    assert.equal((await get(`${h.base}/debian/${def}`)).status, 200);
    // pxelinux.cfg is now a directory in the cache: asking for it as a file never reaches a
    // rename over that directory
    up.requests.length = 0;
    assert.equal((await get(`${h.base}/debian/${NETBOOT_DIR}/pxelinux.cfg`)).status, 404);
    assert.deepEqual(up.requests, []);
    assert.equal((await get(`${h.base}/debian/${def}`)).headers['x-cache'], 'HIT');
  } finally {
    await close();
  }
});
