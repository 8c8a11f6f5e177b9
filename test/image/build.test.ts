// A real `fleetboot image build` of the demo's image role (debootstrap through the package
// cache to the machine's own Debian mirror, mke2fs -d, zstd), then what is inside, read with
// debugfs (e2fsprogs) without mounting: no SSH host keys, empty machine-id, no hostname,
// kernel + initramfs in /boot, GRUB modules for BIOS and UEFI, the first-boot unit enabled,
// apt pointing at fleetboot. Then: the same inputs reuse the image; `image list --json`.
// Root only (debootstrap). The package cache and its index live in FLEETBOOT_TEST_IMAGE_CACHE
// (default var/test-image-cache in the checkout), so later runs and CI reuse the downloads;
// the images go to a fresh directory, so the build itself runs every time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO } from '../helpers/fixture.js';
import { machineDebianMirror } from '../cache/debootstrap.test.js';
import type { ImageManifest } from '../../src/image/store.js';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const cacheRoot = process.env.FLEETBOOT_TEST_IMAGE_CACHE ?? join(REPO, 'var/test-image-cache');

async function sha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(file)) h.update(c as Buffer);
  return h.digest('hex');
}
const debugfs = (img: string, cmd: string) => {
  const r = spawnSync('debugfs', ['-R', cmd, img], { encoding: 'utf8' });
  return r.stdout;
};

test('image build: debootstrap through the cache, ext4+zstd, identity scrubbed, reused for the same inputs', { skip: !isRoot && 'debootstrap needs root', timeout: 40 * 60_000 }, async () => {
  mkdirSync(cacheRoot, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), 'fb-imgbuild-'));
  try {
    const cfg = join(dir, 'fleetboot.yaml');
    writeFileSync(
      cfg,
      [
        'server: { address: 127.0.0.1 }',
        // nothing listens here: the build starts the cache in-process on a loopback port
        'http: { listen: 127.0.0.1, port: 1 }',
        `paths: { db: ${JSON.stringify(join(cacheRoot, 'fb.sqlite'))}, images: images, assets: assets, templates: templates }`,
        `cache: { enabled: true, dir: ${JSON.stringify(join(cacheRoot, 'cache'))}, indexFreshSeconds: 86400, repos: [{ name: debian, url: ${JSON.stringify(machineDebianMirror())} }] }`,
        'tftp: { enabled: false }',
        'syslog: { enabled: false }',
        'images: { keep: 2 }',
        'roles:',
        '  debian-12-image: { installer: image, suite: bookworm, packages: [openssh-server, less] }',
        'hosts: []',
        '',
      ].join('\n'),
    );
    mkdirSync(join(dir, 'assets'));
    mkdirSync(join(dir, 'templates'));
    const cli = join(REPO, 'dist/src/cli.js');
    const b = await run(process.execPath, [cli, '--config', cfg, 'image', 'build', 'debian-12-image', '--json'], { maxBuffer: 16 << 20, timeout: 35 * 60_000 });
    const m = JSON.parse(b.stdout) as ImageManifest & { reused: boolean };
    assert.equal(m.reused, false);
    assert.match(b.stderr, /step 1\/5 debootstrap/);
    assert.match(b.stderr, /step 5\/5 finish/);
    const file = join(dir, 'images/debian-12-image', m.file);
    assert.equal(m.file, `${m.id}.ext4.zst`);
    assert.equal(m.format, 'ext4+zstd');
    assert.equal(await sha256(file), m.sha256, 'manifest sha256 is the file\'s');
    assert.equal((await import('node:fs')).statSync(file).size, m.size);
    assert.match(m.kernelVersion, /^\d+\.\d+\.\d+-\d+-amd64$/);
    for (const p of ['openssh-server', 'less', 'linux-image-amd64', 'grub-pc-bin', 'grub-efi-amd64-bin', 'systemd-sysv', 'curl']) assert.ok(m.packages.some((x) => x.name === p), p);

    const raw = join(dir, 'raw.ext4');
    await run('sh', ['-c', `zstd -q -dc "$1" > "$2"`, 'sh', file, raw]);
    assert.equal((await import('node:fs')).statSync(raw).size, m.rawSize);
    const fsck = spawnSync('e2fsck', ['-fn', raw], { encoding: 'utf8' });
    assert.equal(fsck.status, 0, `e2fsck -fn: ${fsck.stdout}${fsck.stderr}`);
    assert.match(spawnSync('dumpe2fs', ['-h', raw], { encoding: 'utf8' }).stdout, /^Filesystem volume name:\s+fbroot$/m);

    const ssh = debugfs(raw, 'ls /etc/ssh');
    assert.match(ssh, /sshd_config/, 'openssh-server is installed');
    assert.doesNotMatch(ssh, /ssh_host_/, 'no SSH host keys');
    assert.match(debugfs(raw, 'stat /etc/machine-id'), /Size: 0\b/, 'machine-id empty');
    assert.doesNotMatch(debugfs(raw, 'ls /etc'), /\bhostname\b/, 'no /etc/hostname');
    assert.doesNotMatch(debugfs(raw, 'ls /var/lib/dbus'), /machine-id/);
    assert.equal(debugfs(raw, 'cat /etc/fstab'), '');
    assert.deepEqual(debugfs(raw, 'ls /var/lib/apt/lists').match(/\S+(?=\s*$|\s{2,})/g)?.filter((n) => !/^\d+$/.test(n) && !/^\(\d+\)$/.test(n)).sort() ?? [], ['.', '..', 'partial'].sort());
    const boot = debugfs(raw, 'ls /boot');
    assert.match(boot, new RegExp(`vmlinuz-${m.kernelVersion}`));
    assert.match(boot, new RegExp(`initrd\\.img-${m.kernelVersion}`));
    assert.match(debugfs(raw, 'ls /usr/lib/grub/i386-pc'), /\bnormal\.mod\b/);
    assert.match(debugfs(raw, 'ls /usr/lib/grub/x86_64-efi'), /\bnormal\.mod\b/);
    assert.match(debugfs(raw, 'cat /etc/apt/sources.list'), /^deb http:\/\/127\.0\.0\.1:1\/mirror\/debian bookworm main$/m);
    assert.match(debugfs(raw, 'ls /etc/systemd/system/multi-user.target.wants'), /fleetboot-firstboot\.service/);
    assert.match(debugfs(raw, 'cat /usr/local/sbin/fleetboot-firstboot'), /FLEETBOOT_PROGRESS_URL/);
    assert.doesNotMatch(debugfs(raw, 'ls /etc/dpkg/dpkg.cfg.d'), /unsafe-io/, 'the build-only dpkg setting is gone');
    assert.match(debugfs(raw, 'cat /etc/initramfs-tools/initramfs.conf'), /^MODULES=most$/m);
    rmSync(raw);

    // the same inputs: reused, nothing rebuilt
    const again = await run(process.execPath, [cli, '--config', cfg, 'image', 'build', 'debian-12-image', '--json'], { maxBuffer: 16 << 20 });
    const m2 = JSON.parse(again.stdout) as ImageManifest & { reused: boolean };
    assert.equal(m2.reused, true);
    assert.equal(m2.id, m.id);
    assert.equal(m2.sha256, m.sha256);
    const list = JSON.parse((await run(process.execPath, [cli, '--config', cfg, 'image', 'list', '--json'])).stdout) as { roles: { role: string; state: string; images: ImageManifest[] }[] };
    assert.deepEqual(list.roles.map((r) => [r.role, r.state, r.images.map((i) => i.id)]), [['debian-12-image', 'ready', [m.id]]]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
