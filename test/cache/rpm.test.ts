// RPM-format repos (format: rpm) over HTTP: repomd.xml and installer images revalidated,
// checksum-named repodata and packages immutable; repodata checked against repomd.xml,
// packages against primary.xml, images against .treeinfo. And the default answer files: every
// /mirror/<repo> the demo's templates name is a configured repo of the right format, and the
// kickstart's url reaches the cache.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRpmRepo, rpmBytes, RPM_BASE, type RpmRepo } from './rpmrepo.js';
import { Upstream } from './upstream.js';
import { startCache } from './harness.js';
import { get } from './client.js';
import { FakeClock, REPO, makeFixture, startDaemon } from '../helpers/fixture.js';
import { loadConfig } from '../../src/config/load.js';
import { ConfigHolder } from '../../src/config/holder.js';
import { TemplateRenderer, buildContext } from '../../src/install/render.js';

let repo: RpmRepo;
let root: string;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

before(() => {
  root = mkdtempSync(join(tmpdir(), 'fb-cache-rpm-'));
  repo = buildRpmRepo(root);
});
after(() => rmSync(root, { recursive: true, force: true }));

test('rpm repo: repomd.xml -> repodata -> packages and .treeinfo -> images are verified; kinds and freshness', async () => {
  const up = new Upstream(repo.root);
  await up.start();
  const clock = new FakeClock(Date.now());
  const h = await startCache({ indexFreshSeconds: 60, repos: [{ name: 'rocky', url: `${up.url}/pub/rocky`, format: 'rpm' }] }, clock);
  const url = (rel: string) => `${h.base}/rocky/${RPM_BASE}/${rel}`;
  const upPath = (rel: string) => `pub/rocky/${RPM_BASE}/${rel}`;
  try {
    const md = await get(url('repodata/repomd.xml'));
    assert.equal(md.status, 200);
    assert.equal((await get(url('repodata/repomd.xml'))).headers['x-cache'], 'HIT');
    await h.cache.settled();
    // repodata checked against repomd.xml
    up.faults.set(upPath(repo.primary.path), { kind: 'corrupt' });
    assert.ok((await get(url(repo.primary.path))).error);
    assert.equal(h.cache.has('rocky', `${RPM_BASE}/${repo.primary.path}`), false);
    up.faults.clear();
    assert.equal((await get(url(repo.primary.path))).error, undefined);
    await h.cache.settled();
    // packages checked against primary.xml
    const rpm = repo.rpms[0];
    up.faults.set(upPath(rpm.path), { kind: 'corrupt' });
    assert.ok((await get(url(rpm.path))).error);
    up.faults.clear();
    const ok = await get(url(rpm.path));
    assert.equal(sha(ok.body), rpm.sha256);
    assert.equal(ok.headers['content-type'], 'application/x-rpm');
    assert.equal((await get(url(rpm.path))).headers['x-cache'], 'HIT');
    // installer images checked against .treeinfo
    assert.equal((await get(url('.treeinfo'))).status, 200);
    await h.cache.settled();
    const img = repo.images[0];
    up.faults.set(upPath(img.path), { kind: 'corrupt' });
    assert.ok((await get(url(img.path))).error);
    up.faults.clear();
    assert.equal(sha((await get(url(img.path))).body), img.sha256);
    assert.equal(h.cache.stats().verifyFailures, 3);
    // immutable vs revalidated: past the freshness, the checksum-named files and packages are
    // served as they are; repomd.xml and the image are asked with If-Modified-Since (304)
    clock.advance(61_000);
    const before = up.requests.length;
    const reval = h.cache.stats().revalidations; // one so far: .treeinfo, rechecked when the image mismatched
    assert.equal((await get(url(rpm.path))).headers['x-cache'], 'HIT');
    assert.equal((await get(url(repo.primary.path))).headers['x-cache'], 'HIT');
    assert.equal(up.requests.length, before);
    assert.equal((await get(url('repodata/repomd.xml'))).headers['x-cache'], 'HIT');
    assert.equal(sha((await get(url(img.path))).body), sha(rpmBytes(repo, img.path)));
    const asked = up.headers.slice(-2);
    assert.deepEqual(asked.map((x) => x.path), [upPath('repodata/repomd.xml'), upPath(img.path)]);
    assert.ok(asked.every((x) => x.ims), 'revalidated with If-Modified-Since');
    assert.equal(h.cache.stats().revalidations - reval, 2);
  } finally {
    await h.close();
    await up.stop();
  }
});

test('rpm repo: directories and Debian shapes are 404 without asking upstream', async () => {
  const up = new Upstream(repo.root);
  await up.start();
  const h = await startCache({ repos: [{ name: 'rocky', url: `${up.url}/pub/rocky`, format: 'rpm' }] });
  try {
    for (const p of [RPM_BASE, `${RPM_BASE}/repodata`, `${RPM_BASE}/Packages/h`, 'dists/bookworm/Release', 'pool/main/h/hello/hello_1_amd64.deb']) {
      assert.equal((await get(`${h.base}/rocky/${p}`)).status, 404, p);
    }
    assert.deepEqual(up.requests, []);
  } finally {
    await h.close();
    await up.stop();
  }
});

test('default answer files point at configured repos: the demo config, and the kickstart url through the daemon', async () => {
  // the embedded demo: every /mirror/<name>/ its templates render is a configured repo
  const demo = loadConfig({ env: {}, cwd: REPO });
  assert.ok(demo.ok);
  const holder = new ConfigHolder(demo.loaded);
  const renderer = new TemplateRenderer(demo.loaded.config.paths.templates);
  const repos = new Map(demo.loaded.config.cache.repos.map((r) => [r.name, r.format]));
  const seen = new Map<string, string>();
  for (const rh of holder.index.all()) {
    const text = renderer.render(rh.role.template, buildContext(holder, rh, { id: 1, token: 'T' }));
    for (const m of text.matchAll(/\/mirror\/([a-z0-9._-]+)/g)) seen.set(m[1], rh.role.template);
  }
  assert.deepEqual([...seen.keys()].sort(), ['debian', 'rocky', 'ubuntu']);
  for (const [name, tpl] of seen) assert.ok(repos.has(name), `${tpl} points at /mirror/${name}, which the demo does not configure`);
  assert.equal(repos.get('rocky'), 'rpm');
  assert.equal(repos.get('debian'), 'deb');

  // the kickstart as rendered for a host, against a daemon whose rocky repo is the loopback tree
  const up = new Upstream(repo.root);
  await up.start();
  const fx = makeFixture('', `roles:\n  rocky-9:\n    kernel: r/vmlinuz\n    initrd: r/initrd.img\n    template: rocky-9.ks.cfg\n    suite: "9"\nhosts:\n  - name: build-01\n    macs: ["52:54:00:00:04:01"]\n    roles: [rocky-9]\n`);
  fx.write('fleetboot.yaml', `server:\n  address: 127.0.0.1\nhttp:\n  listen: 127.0.0.1\n  port: 0\npaths:\n  db: state/fb.sqlite\n  assets: assets\n  templates: ${join(REPO, 'preseed-templates')}\ntftp:\n  enabled: false\ndhcp:\n  enabled: false\nsyslog:\n  enabled: false\nweb:\n  enabled: false\ninventory: inventory.yaml\ncache:\n  enabled: true\n  dir: cache\n  repos:\n    - { name: rocky, url: "${up.url}/pub/rocky", format: rpm }\n`);
  const { d } = await startDaemon(fx);
  try {
    const rh = d.holder.index.byName('build-01')!;
    const ks = new TemplateRenderer(join(REPO, 'preseed-templates')).render(rh.role.template, buildContext(d.holder, rh, { id: 1, token: 'T' }));
    const base = /^url --url=(\S+)$/m.exec(ks)![1];
    const appstream = /^repo --name=AppStream --baseurl=(\S+)$/m.exec(ks)![1];
    assert.equal(appstream, base.replace('/BaseOS/', '/AppStream/'));
    for (const rel of ['.treeinfo', 'repodata/repomd.xml', repo.rpms[1].path]) {
      const r = await get(`${base}/${rel}`);
      assert.equal(r.status, 200, `${base}/${rel}`);
      assert.deepEqual(r.body, rpmBytes(repo, rel));
    }
  } finally {
    await d.stop();
    fx.cleanup();
    await up.stop();
  }
});
