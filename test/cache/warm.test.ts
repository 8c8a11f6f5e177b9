// `fleetboot cache warm --role R` against the loopback repository, with the repository's real
// d-i preseed: what is warmed is the union of the packages of every host that has the role,
// what the preseed installs on its own, the base set, the dependency closure and the
// installer's udebs (the kernel ABI read from the role's bzImage, minus the initrd's own).
// A dry run lists the files (paths, sizes, total) and fetches no pool file; unresolved names,
// unsupported roles and upstream 404s are listed and make the exit status non-zero.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRepo, KERNEL_ABI, type FixtureRepo } from './repo.js';
import { Upstream } from './upstream.js';
import { makeFleet } from './fleet.js';
import { startCache } from './harness.js';
import { aptDownload } from './apt.js';
import { get } from './client.js';
import { cacheCommandSpec } from '../../src/cli/cmd-cache.js';
import { runSpec } from '../../src/cli/command.js';
import { planRole } from '../../src/cache/install-set.js';
import { ConfigHolder } from '../../src/config/holder.js';
import { silentLogger } from '../../src/log.js';
import type { WarmReport } from '../../src/cache/warm.js';

let repo: FixtureRepo;
let root: string;

before(() => {
  root = mkdtempSync(join(tmpdir(), 'fb-cache-warm-'));
  repo = buildRepo(join(root, 'repo'));
});
after(() => rmSync(root, { recursive: true, force: true }));

/** Everything an install of role web fetches from pool/: all .debs of the repo (hello's
 *  closure, the required base set, fb-extra from the add-on role, what d-i adds) and the
 *  udebs anna takes: standard priority + closure, kernel ABI 99 only, not the initrd's. */
function expectedWeb(): { path: string; size: number }[] {
  const udebs = repo.udebs.filter((u) => ['fb-anna-test', 'fb-lib-udeb', `nic-modules-${KERNEL_ABI}-di`, `kernel-image-${KERNEL_ABI}-di`].includes(u.pkg));
  return [...repo.debs, ...repo.built, ...udebs].map((d) => ({ path: d.path, size: d.size })).sort((a, b) => a.path.localeCompare(b.path));
}

async function cli(args: string[], loaded: ReturnType<typeof makeFleet>['loaded']): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const log = console.log;
  const err = console.error;
  console.log = (...a: unknown[]) => void lines.push(a.join(' '));
  console.error = (...a: unknown[]) => void lines.push(a.join(' '));
  try {
    const code = await runSpec(cacheCommandSpec, args, loaded);
    return { code, out: lines.join('\n') };
  } finally {
    console.log = log;
    console.error = err;
  }
}

test('plan: union of the hosts\' roles, the preseed\'s own packages, kernel ABI and initrd udebs', async () => {
  const fleet = makeFleet('http://127.0.0.1:9/');
  try {
    const [p, ...more] = await planRole(new ConfigHolder(fleet.loaded), 'web');
    assert.equal(more.length, 0);
    assert.deepEqual(p.hosts, ['web-01', 'web-02']);
    assert.equal(p.repo, 'debian');
    assert.equal(p.suite, 'bookworm');
    assert.equal(p.kernelAbi, KERNEL_ABI);
    assert.deepEqual([...(p.initrdHas ?? [])], ['fb-initrd-udeb']);
    assert.equal(p.recommends, false, 'the preseed says install-recommends false');
    for (const n of ['hello', 'fb-extra', 'openssh-server', 'linux-image-amd64', 'initramfs-tools', 'grub-pc']) assert.ok(p.packages.includes(n), n);
    assert.equal(p.packages.includes('no-such-package'), false, 'ghost is not a role of the web hosts');
    const [r] = await planRole(new ConfigHolder(fleet.loaded), 'rocky-9');
    assert.match(r.unsupported ?? '', /not a d-i preseed/);
  } finally {
    fleet.cleanup();
  }
});

test('dry run: lists every file that would be fetched with sizes and a total; fetches no pool file; then warm; apt and anna find all on disk', { timeout: 120_000 }, async () => {
  const up = new Upstream(repo.root);
  await up.start();
  const fleet = makeFleet(up.url);
  try {
    const want = expectedWeb();
    const dry = await cli(['warm', '--role', 'web', '--dry-run'], fleet.loaded);
    assert.equal(dry.code, 0, dry.out);
    const listed = [...dry.out.matchAll(/^ {4}(pool\/\S+) {2}([\d.]+ KiB|[\d.]+ MiB)$/gm)].map((m) => m[1]).sort();
    assert.deepEqual(listed, want.map((w) => w.path));
    const total = want.reduce((n, w) => n + w.size, 0);
    assert.match(dry.out, new RegExp(`total: ${want.length} files, .* \\(${total} bytes\\)`));
    assert.match(dry.out, new RegExp(`hosts web-01, web-02 [\\s\\S]* 4 installer udebs \\(kernel ${KERNEL_ABI}\\)`));
    assert.equal(up.requests.filter((p) => p.startsWith('pool/')).length, 0, 'a dry run fetches no pool file');
    const json = await cli(['warm', '--role', 'web', '--dry-run', '--json'], fleet.loaded);
    const rep = JSON.parse(json.out) as WarmReport;
    assert.equal(rep.ok, true);
    assert.deepEqual(rep.results[0].toFetch.files.map((f) => [f.path, f.size]), want.map((w) => [w.path, w.size]));

    const real = await cli(['warm', '--role', 'web'], fleet.loaded);
    assert.equal(real.code, 0, real.out);
    assert.match(real.out, new RegExp(`fetched: ${want.length} files`));
    assert.equal(up.requests.filter((p) => p.startsWith('pool/')).length, want.length);
    // the install wave, against the same cache directory: apt for the .debs, anna's GETs for udebs
    const h = await startCache({ ...fleet.loaded.config.cache, dir: join(fleet.fx.dir, 'cache') }, undefined, undefined, fleet.loaded.config.paths.db);
    try {
      const pool = up.requests.filter((p) => p.startsWith('pool/')).length;
      const got = await aptDownload(join(root, 'apt-wave'), `${h.base}/debian`, 'bookworm', ['hello', 'fb-extra', 'openssh-server', 'linux-image-amd64', 'initramfs-tools', 'grub-pc']);
      assert.ok(got.length >= 9, got.join(' '));
      for (const u of want.filter((w) => w.path.endsWith('.udeb'))) assert.equal((await get(`${h.base}/debian/${u.path}`)).headers['x-cache'], 'HIT', u.path);
      assert.equal(up.requests.filter((p) => p.startsWith('pool/')).length, pool, 'the wave was served from disk');
    } finally {
      await h.close();
    }
    const again = await cli(['warm', '--role', 'web', '--dry-run'], fleet.loaded);
    assert.match(again.out, new RegExp(`already cached: ${want.length} files`));
    assert.match(again.out, /would fetch: 0 files/);
  } finally {
    fleet.cleanup();
    await up.stop();
  }
});

test('unresolved names, unsupported roles, unknown roles and upstream 404s: listed, non-zero exit', { timeout: 60_000 }, async () => {
  const up = new Upstream(repo.root);
  await up.start();
  const fleet = makeFleet(up.url);
  try {
    const ghost = await cli(['warm', '--role', 'ghost', '--dry-run'], fleet.loaded);
    assert.equal(ghost.code, 1);
    assert.match(ghost.out, /UNRESOLVED \(no such package in bookworm\): no-such-package/);
    assert.match(ghost.out, /hosts ghost-01/);
    const rocky = await cli(['warm', '--role', 'rocky-9'], fleet.loaded);
    assert.equal(rocky.code, 1);
    assert.match(rocky.out, /NOT WARMED: rocky-9\.ks\.cfg is not a d-i preseed/);
    assert.equal((await cli(['warm', '--role', 'nope'], fleet.loaded)).code, 2);
    assert.equal((await cli(['warm'], fleet.loaded)).code, 2);
    // a filtered mirror: upstream has no such udeb
    const gone = repo.udebs.find((u) => u.pkg === 'fb-anna-test')!;
    up.faults.set(gone.path, { kind: 'status', status: 404 });
    const r = await cli(['warm', '--role', 'web'], fleet.loaded);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /FAILED: 1 files/);
    assert.match(r.out, new RegExp(`^ {4}${gone.path.replace(/[.+]/g, '\\$&')}: upstream status 404`, 'm'));
    assert.match(r.out, new RegExp(`fetched: ${expectedWeb().length - 1} files`));
  } finally {
    fleet.cleanup();
    await up.stop();
  }
});
