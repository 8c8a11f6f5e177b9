// Builds a small real Debian repository for the cache tests: real .debs from `apt-get download`
// (kept under os.tmpdir() so later runs reuse them), indexed with apt-ftparchive (apt-utils).
// Beside them, small packages built here with dpkg-deb: the names the d-i preseed installs
// on its own (openssh-server, the kernel metapackage, initramfs-tools, grub-pc) and a
// debian-installer component with a few udebs (module udebs of two kernel ABIs), so warm's
// installer path runs end to end. Also an installer directory, answered by the loopback
// upstream the way a real mirror answers directories.
// Nothing binary is committed; test/fixtures/cache/README.md says the same.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** hello and its closure, plus the suite's "required" base-files (which Pre-Depends on awk = mawk) */
export const FIXTURE_PACKAGES = ['hello', 'libc6', 'libgcc-s1', 'gcc-12-base', 'base-files', 'mawk'];

export const KERNEL_ABI = '6.1.0-99-amd64';
/** built with dpkg-deb: what d-i adds to every install (install-set.ts DI_IMPLICIT + preseed) */
export const BUILT_DEBS: { pkg: string; depends?: string }[] = [
  { pkg: 'openssh-server' },
  { pkg: 'linux-image-amd64', depends: `linux-image-${KERNEL_ABI}` },
  { pkg: `linux-image-${KERNEL_ABI}` },
  { pkg: 'initramfs-tools' },
  { pkg: 'grub-pc' },
  { pkg: 'fb-extra' },
];
export const UDEBS: { pkg: string; priority: string; kernel?: string; depends?: string }[] = [
  { pkg: 'fb-anna-test', priority: 'standard', depends: 'fb-lib-udeb' },
  { pkg: 'fb-lib-udeb', priority: 'optional' },
  // listed in the test initrd's var/lib/dpkg/status: never fetched
  { pkg: 'fb-initrd-udeb', priority: 'required' },
  { pkg: 'fb-optional-udeb', priority: 'optional' },
  { pkg: `nic-modules-${KERNEL_ABI}-di`, priority: 'standard', kernel: KERNEL_ABI, depends: `kernel-image-${KERNEL_ABI}-di` },
  { pkg: `kernel-image-${KERNEL_ABI}-di`, priority: 'optional', kernel: KERNEL_ABI },
  { pkg: 'nic-modules-6.1.0-98-amd64-di', priority: 'standard', kernel: '6.1.0-98-amd64' },
];
export const NETBOOT_DIR = 'dists/bookworm/main/installer-amd64/current/images/netboot';

export interface FixtureDeb {
  pkg: string;
  /** pool path relative to the repo root */
  path: string;
  size: number;
  sha256: string;
}

export interface FixtureRepo {
  root: string;
  suite: string;
  debs: FixtureDeb[];
  built: FixtureDeb[];
  udebs: FixtureDeb[];
  byHashPackagesGz: string;
}

function debsDir(): string {
  const dir = join(tmpdir(), 'fleetboot-cache-debs');
  mkdirSync(dir, { recursive: true });
  const have = readdirSync(dir).filter((f) => f.endsWith('.deb'));
  const missing = FIXTURE_PACKAGES.filter((p) => !have.some((f) => f.startsWith(`${p}_`)));
  if (missing.length) {
    try {
      execFileSync('apt-get', ['download', ...missing], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    } catch {
      // no package lists on this machine yet
      execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore' });
      execFileSync('apt-get', ['download', ...missing], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    }
  }
  return dir;
}

export const sha256File = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

function poolDir(pkg: string): string {
  return `pool/main/${pkg.startsWith('lib') ? pkg.slice(0, 4) : pkg[0]}/${pkg}`;
}

/** A real .deb/.udeb with dpkg-deb: control fields plus a README of random bytes (sizes differ). */
function dpkgDeb(root: string, work: string, o: { pkg: string; priority?: string; depends?: string; kernel?: string; udeb?: boolean }): FixtureDeb {
  const d = join(work, o.pkg);
  mkdirSync(join(d, 'DEBIAN'), { recursive: true });
  mkdirSync(join(d, 'usr/share/doc', o.pkg), { recursive: true });
  writeFileSync(join(d, 'usr/share/doc', o.pkg, 'README'), randomBytes(2000 + o.pkg.length * 97));
  const control = [
    // epoch 99: above every "Breaks: x (<< v)" the real libc6 carries (it breaks old openssh-server)
    `Package: ${o.pkg}`, 'Version: 99:1.0', 'Architecture: amd64', 'Maintainer: fleetboot tests <tests@fleetboot.invalid>',
    `Priority: ${o.priority ?? 'optional'}`, `Section: ${o.udeb ? 'debian-installer' : 'misc'}`,
    ...(o.depends ? [`Depends: ${o.depends}`] : []), ...(o.kernel ? [`Kernel-Version: ${o.kernel}`] : []), `Description: fleetboot cache test package ${o.pkg}`, '',
  ];
  writeFileSync(join(d, 'DEBIAN/control'), control.join('\n'));
  const rel = `${poolDir(o.pkg)}/${o.pkg}_1.0_amd64.${o.udeb ? 'udeb' : 'deb'}`;
  mkdirSync(join(root, poolDir(o.pkg)), { recursive: true });
  execFileSync('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', d, join(root, rel)], { stdio: 'ignore' });
  return { pkg: o.pkg, path: rel, size: statSync(join(root, rel)).size, sha256: sha256File(join(root, rel)) };
}

function packagesIndex(root: string, dir: string, content: Buffer): void {
  mkdirSync(join(root, dir), { recursive: true });
  writeFileSync(join(root, dir, 'Packages'), content);
  execFileSync('gzip', ['-9nkf', 'Packages'], { cwd: join(root, dir) });
  execFileSync('xz', ['-kf', 'Packages'], { cwd: join(root, dir) });
}

export function writeRelease(root: string, suite: string): void {
  const release = execFileSync(
    'apt-ftparchive',
    ['-o', `APT::FTPArchive::Release::Suite=${suite}`, '-o', `APT::FTPArchive::Release::Codename=${suite}`, '-o', 'APT::FTPArchive::Release::Architectures=amd64',
      '-o', 'APT::FTPArchive::Release::Components=main', '-o', 'APT::FTPArchive::Release::Origin=fleetboot-test', 'release', `dists/${suite}`],
    { cwd: root },
  );
  writeFileSync(join(root, 'dists', suite, 'Release'), release);
}

export function buildRepo(root: string, suite = 'bookworm'): FixtureRepo {
  const src = debsDir();
  const debs: FixtureDeb[] = [];
  for (const pkg of FIXTURE_PACKAGES) {
    const f = readdirSync(src).find((x) => x.startsWith(`${pkg}_`) && x.endsWith('.deb'))!;
    mkdirSync(join(root, poolDir(pkg)), { recursive: true });
    const rel = `${poolDir(pkg)}/${f}`;
    copyFileSync(join(src, f), join(root, rel));
    debs.push({ pkg, path: rel, size: statSync(join(root, rel)).size, sha256: sha256File(join(root, rel)) });
  }
  const work = join(root, '.build');
  const built = BUILT_DEBS.map((b) => dpkgDeb(root, work, b));
  const udebs = UDEBS.map((u) => dpkgDeb(root, work, { ...u, udeb: true }));
  rmSync(work, { recursive: true, force: true });
  const bin = `dists/${suite}/main/binary-amd64`;
  // apt-ftparchive indexes .deb and .udeb alike: split its stanzas by Filename
  const stanzas = execFileSync('apt-ftparchive', ['packages', 'pool/main'], { cwd: root }).toString().split(/\n\n+/).filter((x) => x.trim());
  const only = (ext: string) => Buffer.from(stanzas.filter((x) => new RegExp(`^Filename: .*\\.${ext}$`, 'm').test(x)).join('\n\n') + '\n');
  packagesIndex(root, bin, only('deb'));
  packagesIndex(root, `dists/${suite}/main/debian-installer/binary-amd64`, only('udeb'));
  const gzHash = sha256File(join(root, bin, 'Packages.gz'));
  mkdirSync(join(root, bin, 'by-hash/SHA256'), { recursive: true });
  copyFileSync(join(root, bin, 'Packages.gz'), join(root, bin, 'by-hash/SHA256', gzHash));
  // an installer tree: pxelinux.cfg is a directory with a dot in its name
  mkdirSync(join(root, NETBOOT_DIR, 'pxelinux.cfg'), { recursive: true });
  writeFileSync(join(root, NETBOOT_DIR, 'pxelinux.cfg/default'), 'default install\n');
  writeFileSync(join(root, NETBOOT_DIR, 'netboot.tar.gz'), randomBytes(5000));
  writeRelease(root, suite);
  return { root, suite, debs, built, udebs, byHashPackagesGz: `${bin}/by-hash/SHA256/${gzHash}` };
}

/** A bzImage header that carries `release` as its kernel_version string (boot protocol 2.15). */
export function fakeBzImage(file: string, release: string): void {
  const b = Buffer.alloc(0x1000);
  b.write('HdrS', 0x202, 'latin1');
  b.writeUInt16LE(0x020f, 0x206);
  b.writeUInt16LE(0x300, 0x20e); // string at 0x300 + 0x200
  b.write(`${release} (tests@fleetboot.invalid) #1 SMP Debian\0`, 0x500, 'latin1');
  writeFileSync(file, b);
}

/** A gzip'd newc initrd whose var/lib/dpkg/status lists `pkgs` (as d-i images do). */
export function fakeInitrd(file: string, pkgs: string[]): void {
  const d = join(tmpdir(), `fb-initrd-${process.pid}-${Date.now()}`);
  mkdirSync(join(d, 'var/lib/dpkg'), { recursive: true });
  mkdirSync(join(d, 'bin'), { recursive: true });
  writeFileSync(join(d, 'bin/sh'), randomBytes(3000));
  writeFileSync(join(d, 'var/lib/dpkg/status'), pkgs.map((p) => `Package: ${p}\nStatus: install ok unpacked\nVersion: 1.0\n`).join('\n'));
  const cpio = execFileSync('sh', ['-c', 'find . | sort | cpio -o -H newc 2>/dev/null | gzip -9n'], { cwd: d, maxBuffer: 1 << 24 });
  writeFileSync(file, cpio);
  rmSync(d, { recursive: true, force: true });
}

export function fixtureExists(f: string): boolean {
  return existsSync(f);
}

/** Upstream publishes a new Packages (without `drop`) and a new Release listing it, as a mirror
 *  push does; mtimes move forward so If-Modified-Since sees the change. */
export function republish(root: string, drop: string, suite = 'bookworm'): void {
  const bin = join(root, 'dists', suite, 'main/binary-amd64');
  const kept = readFileSync(join(bin, 'Packages'), 'utf8').split(/\n\n+/).filter((x) => x.trim() && !new RegExp(`^Package: ${drop}$`, 'm').test(x));
  writeFileSync(join(bin, 'Packages'), kept.join('\n\n') + '\n');
  execFileSync('gzip', ['-9nkf', 'Packages'], { cwd: bin });
  execFileSync('xz', ['-kf', 'Packages'], { cwd: bin });
  writeRelease(root, suite);
  const t = Date.now() / 1000 + 10;
  for (const f of ['Packages', 'Packages.gz', 'Packages.xz']) utimesSync(join(bin, f), t, t);
  utimesSync(join(root, 'dists', suite, 'Release'), t, t);
}
