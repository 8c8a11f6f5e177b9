// A real `fleetboot image build` of the demo's image role (debootstrap through the package
// cache to the machine's own Debian mirror, mke2fs -d, zstd), then what is inside, read with
// debugfs (e2fsprogs) without mounting: no SSH host keys, empty machine-id, no hostname,
// kernel + initramfs in /boot, GRUB modules for BIOS and UEFI, the first-boot unit enabled,
// apt pointing at fleetboot. Then: the same inputs reuse the image; `image list --json`.
// Root only (debootstrap). The full build takes longer than 3 minutes on a loaded 2-core
// machine (docs/images.md has the numbers), so it runs only with FLEETBOOT_TEST_IMAGE_BUILD=1
// (and a runner timeout above 10 minutes for a cold cache: FLEETBOOT_TEST_TIMEOUT=3600000);
// the failure test below is quick and always runs as root. The package cache and its index live in FLEETBOOT_TEST_IMAGE_CACHE
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
import { machineDebianMirror } from '../helpers/machine-mirror.js';
import type { ImageManifest } from '../../src/image/store.js';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const cacheRoot = process.env.FLEETBOOT_TEST_IMAGE_CACHE ?? join(REPO, 'var/test-image-cache');
// FLEETBOOT_* variables are config overrides to the CLI: the test switches must not reach it
const cliEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FLEETBOOT_')));

async function sha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(file)) h.update(c as Buffer);
  return h.digest('hex');
}
const debugfs = (img: string, cmd: string) => {
  const r = spawnSync('debugfs', ['-R', cmd, img], { encoding: 'utf8' });
  return r.stdout;
};

/** A config whose cache (files + SQLite index) is the shared test cache; images in `dir`. */
function writeConfig(dir: string): string {
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
      '  broken: { installer: image, suite: bookworm, packages: [fb-no-such-package] }',
      'hosts: []',
      '',
    ].join('\n'),
  );
  mkdirSync(join(dir, 'assets'), { recursive: true });
  mkdirSync(join(dir, 'templates'), { recursive: true });
  return cfg;
}

test('image build: debootstrap through the cache, ext4+zstd, identity scrubbed, reused for the same inputs', { skip: (!isRoot && 'debootstrap needs root') || (process.env.FLEETBOOT_TEST_IMAGE_BUILD !== '1' && 'a full image build takes minutes: set FLEETBOOT_TEST_IMAGE_BUILD=1'), timeout: 40 * 60_000 }, async () => {
  mkdirSync(cacheRoot, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), 'fb-imgbuild-'));
  try {
    const cfg = writeConfig(dir);
    const cli = join(REPO, 'dist/src/cli.js');
    const b = await run(process.execPath, [cli, '--config', cfg, 'image', 'build', 'debian-12-image', '--json'], { maxBuffer: 16 << 20, timeout: 35 * 60_000, env: cliEnv });
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
    // ... overridden by fleetboot's conf.d + hook: MODULES=most without its network class
    assert.match(debugfs(raw, 'cat /etc/initramfs-tools/conf.d/fleetboot-modules'), /^MODULES=list$/m);
    assert.match(debugfs(raw, 'cat /etc/initramfs-tools/hooks/fleetboot-modules'), /^auto_add_modules base ide scsi block ata dasd firewire mmc usb_storage fb$/m);
    const initrd = join(dir, 'initrd.img');
    spawnSync('debugfs', ['-R', `dump /boot/initrd.img-${m.kernelVersion} ${initrd}`, raw]);
    const members = spawnSync('sh', ['-c', 'zstd -q -dc "$1" | cpio -t --quiet', 'sh', initrd], { encoding: 'utf8', maxBuffer: 64 << 20 }).stdout;
    for (const mod of ['virtio_blk.ko', 'nvme.ko', 'ahci.ko', 'megaraid_sas.ko', 'mpt3sas.ko', 'ext4.ko', 'crc32c_generic.ko']) {
      assert.ok(members.includes(`/${mod}`), `the initramfs has the disk/filesystem module ${mod}`);
    }
    for (const mod of ['e1000e.ko', 'igb.ko', 'ixgbe.ko', 'mlx5_core.ko', 'virtio_net.ko']) {
      assert.ok(!members.includes(`/${mod}`), `no network driver ${mod} in the initramfs (nothing in it needs one)`);
    }
    rmSync(raw);

    // the same inputs: reused, nothing rebuilt
    const again = await run(process.execPath, [cli, '--config', cfg, 'image', 'build', 'debian-12-image', '--json'], { maxBuffer: 16 << 20, env: cliEnv });
    const m2 = JSON.parse(again.stdout) as ImageManifest & { reused: boolean };
    assert.equal(m2.reused, true);
    assert.equal(m2.id, m.id);
    assert.equal(m2.sha256, m.sha256);
    const list = JSON.parse((await run(process.execPath, [cli, '--config', cfg, 'image', 'list', '--json'], { env: cliEnv })).stdout) as { roles: { role: string; state: string; images: ImageManifest[] }[] };
    assert.deepEqual(list.roles.map((r) => [r.role, r.state, r.images.map((i) => i.id)]), [['broken', 'none', []], ['debian-12-image', 'ready', [m.id]]]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a package the archive does not have: "step debootstrap failed" with its log tail, exit 1, nothing half-written', { skip: !isRoot && 'debootstrap needs root', timeout: 15 * 60_000 }, async () => {
  mkdirSync(cacheRoot, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), 'fb-imgfail-'));
  try {
    const cfg = writeConfig(dir);
    const r = spawnSync(process.execPath, [join(REPO, 'dist/src/cli.js'), '--config', cfg, 'image', 'build', 'broken'], { encoding: 'utf8', timeout: 14 * 60_000, env: cliEnv });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^step debootstrap failed: debootstrap exited with status 1$/m);
    assert.match(r.stderr, /fb-no-such-package/, 'the log tail names the missing package');
    const { readdirSync } = await import('node:fs');
    assert.deepEqual(readdirSync(join(dir, 'images/broken')).sort(), ['.status.json'], 'no image, no manifest, no work directory, no lock');
    const list = JSON.parse(spawnSync(process.execPath, [join(REPO, 'dist/src/cli.js'), '--config', cfg, 'image', 'list', 'broken', '--json'], { encoding: 'utf8', env: cliEnv }).stdout) as { roles: { state: string; build: { step: string; error: string } }[] };
    assert.equal(list.roles[0].state, 'failed');
    assert.equal(list.roles[0].build.step, 'debootstrap');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
