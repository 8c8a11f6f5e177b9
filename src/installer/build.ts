// Builds fleetboot's installer environment (boot-assets/fleetboot-installer/): the Debian
// kernel and an initramfs holding busybox-static, the real partitioning/filesystem tools
// (sfdisk, mke2fs, e2fsck, resize2fs, tune2fs, mkfs.fat, zstd) with exactly the shared
// libraries their ELF headers name, the kernel modules servers need for disks and NICs (with
// their modules.dep closure), and the installer scripts in src/installer/env/.
// Inputs are content-addressed: the same .debs and scripts give the same key, and a build
// whose key matches the MANIFEST already there is skipped.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, posix } from 'node:path';
import type { PackageCache } from '../cache/cache.js';
import { packageRoot } from '../config/package-root.js';
import { fetchInstallerDebs, type DebSet, type FetchedDeb } from './debs.js';

export const BUILDER_VERSION = 2;
export const INSTALLER_DIR = 'fleetboot-installer';

/** Storage (SATA/SAS/NVMe/virtio) and NIC drivers of real servers, plus what the install
 *  itself mounts (ext4, vfat) and what ext4's checksums ask for at run time (crc32c). */
export const WANTED_MODULES = [
  'virtio_blk', 'virtio_scsi', 'virtio_net', 'virtio_pci', 'ahci', 'nvme', 'sd_mod', 'megaraid_sas', 'mpt3sas',
  'e1000', 'e1000e', 'igb', 'ixgbe', 'i40e', 'ice', 'bnxt_en', 'mlx5_core', 'tg3',
  'ext4', 'vfat', 'nls_cp437', 'nls_ascii', 'nls_utf8', 'crc32c_generic', 'crc32c_intel', 'af_packet', 'efivarfs',
];

/** binaries taken from the .debs (found in bin, sbin, usr/bin, usr/sbin of the extracted tree) */
export const TOOLS = ['sfdisk', 'mke2fs', 'e2fsck', 'resize2fs', 'tune2fs', 'mkfs.fat', 'zstd', 'blkdiscard', 'blkid'];
const ENV_FILES = ['init', 'install.sh', 'partition.sh', 'udhcpc.sh'];

export interface InstallerManifest {
  key: string;
  builderVersion: number;
  builtAt: string;
  buildSeconds: number;
  suite: string;
  repo: string;
  kernelVersion: string;
  packages: { name: string; version: string; filename: string; sha256: string }[];
  binaries: string[];
  libraries: string[];
  modules: { wanted: string[]; builtin: string[]; included: number };
  files: Record<string, { sha256: string; size: number }>;
}

const sha256File = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
export const envDir = () => join(packageRoot(), 'src', 'installer', 'env');

/** Follows symlinks inside an extracted tree (absolute targets are relative to the tree). */
function resolveIn(root: string, rel: string, depth = 0): string | undefined {
  const p = join(root, rel);
  let st;
  try {
    st = lstatSync(p);
  } catch {
    return undefined;
  }
  if (!st.isSymbolicLink()) return rel;
  if (depth > 20) return undefined;
  const t = readlinkSync(p);
  return resolveIn(root, t.startsWith('/') ? t.slice(1) : posix.join(posix.dirname(rel), t), depth + 1);
}

const LIB_DIRS = ['lib/x86_64-linux-gnu', 'usr/lib/x86_64-linux-gnu', 'lib64', 'lib', 'usr/lib'];

function elfNeeded(file: string): { needed: string[]; interp?: string } {
  const dyn = execFileSync('readelf', ['-d', '-l', '-W', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const needed = [...dyn.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
  const interp = /Requesting program interpreter: ([^\]]+)\]/.exec(dyn)?.[1];
  return { needed, interp };
}

export function inputKey(debs: DebSet): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ v: BUILDER_VERSION, k: debs.kernel.filename, t: debs.tools.map((t) => t.filename), m: WANTED_MODULES, b: TOOLS }));
  for (const f of ENV_FILES) h.update(readFileSync(join(envDir(), f)));
  return h.digest('hex').slice(0, 16);
}

export function readInstallerManifest(assetsDir: string): InstallerManifest | undefined {
  try {
    return JSON.parse(readFileSync(join(assetsDir, INSTALLER_DIR, 'MANIFEST.json'), 'utf8')) as InstallerManifest;
  } catch {
    return undefined;
  }
}

function extract(deb: FetchedDeb, into: string) {
  execFileSync('dpkg-deb', ['-x', deb.local, into]);
}

/** modules.dep of a tree: module name -> { path, deps (paths) } */
function readModulesDep(root: string, kver: string): Map<string, { path: string; deps: string[] }> {
  const out = new Map<string, { path: string; deps: string[] }>();
  for (const line of readFileSync(join(root, 'lib/modules', kver, 'modules.dep'), 'utf8').split('\n')) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const path = line.slice(0, i);
    out.set(modName(path), { path, deps: line.slice(i + 1).trim().split(/\s+/).filter(Boolean) });
  }
  return out;
}
const modName = (p: string) => basename(p).replace(/\.ko(\.xz|\.zst|\.gz)?$/, '').replace(/-/g, '_');

function buildTree(work: string, debs: DebSet, say: (s: string) => void): { root: string; kver: string; binaries: string[]; libraries: string[]; builtin: string[]; included: number } {
  const x = join(work, 'x');
  const root = join(work, 'root');
  mkdirSync(x);
  for (const d of [debs.kernel, ...debs.tools]) extract(d, x);
  const kvers = readdirSync(join(x, 'lib/modules'));
  if (kvers.length !== 1) throw new Error(`expected one kernel in ${debs.kernel.filename}, found ${kvers.join(', ')}`);
  const kver = kvers[0];
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'lib/x86_64-linux-gnu', 'lib64', 'etc', 'proc', 'sys', 'dev', 'tmp', 'run', 'target', 'lib/fleetboot', 'var/log']) mkdirSync(join(root, d), { recursive: true });

  // real tools first, at the path their package uses; their libraries by ELF NEEDED
  const binaries: string[] = [];
  const libs = new Set<string>();
  const want: string[] = [];
  for (const t of TOOLS) {
    const rel = ['sbin', 'bin', 'usr/sbin', 'usr/bin'].map((d) => `${d}/${t}`).find((r) => existsSync(join(x, r)));
    const real = rel && resolveIn(x, rel);
    if (!rel || !real) throw new Error(`${t} not found in the extracted packages`);
    copyFileSync(join(x, real), join(root, rel));
    chmodSync(join(root, rel), 0o755);
    binaries.push(rel);
    want.push(join(x, real));
  }
  // e2fsprogs' mkfs.ext4 is mke2fs by another name
  symlinkSync('mke2fs', join(root, 'sbin/mkfs.ext4'));
  let interp: string | undefined;
  while (want.length) {
    const f = want.pop()!;
    const e = elfNeeded(f);
    interp ??= e.interp;
    for (const so of e.needed) {
      if (libs.has(so)) continue;
      const rel = LIB_DIRS.map((d) => `${d}/${so}`).find((r) => existsSync(join(x, r)));
      const real = rel && resolveIn(x, rel);
      if (!real) throw new Error(`shared library ${so} (needed by ${basename(f)}) is in none of the packages`);
      libs.add(so);
      copyFileSync(join(x, real), join(root, 'lib/x86_64-linux-gnu', so));
      want.push(join(x, real));
    }
  }
  if (interp) {
    // the dynamic loader at the path the binaries ask for (/lib64/ld-linux-x86-64.so.2)
    const real = resolveIn(x, interp.slice(1));
    if (!real) throw new Error(`program interpreter ${interp} is in none of the packages`);
    mkdirSync(join(root, dirname(interp)), { recursive: true });
    copyFileSync(join(x, real), join(root, interp));
    chmodSync(join(root, interp), 0o755);
    libs.add(interp);
  }

  // busybox-static: every applet as a symlink, where no real tool stands
  const bb = join(root, 'bin/busybox');
  copyFileSync(join(x, 'bin/busybox'), bb);
  chmodSync(bb, 0o755);
  // (by name: busybox's usr/bin/blkdiscard would shadow util-linux's sbin/blkdiscard in PATH)
  const real = new Set([...TOOLS, 'mkfs.ext4']);
  for (const a of execFileSync(bb, ['--list-full'], { encoding: 'utf8' }).split('\n').filter(Boolean)) {
    const dest = join(root, a);
    if (existsSync(dest) || a === 'bin/busybox' || real.has(basename(a))) continue;
    mkdirSync(dirname(dest), { recursive: true });
    symlinkSync('/bin/busybox', dest);
  }
  if (!existsSync(join(root, 'bin/sh'))) symlinkSync('/bin/busybox', join(root, 'bin/sh'));
  symlinkSync('/proc/mounts', join(root, 'etc/mtab'));

  // kernel modules: the wanted ones and their modules.dep closure, uncompressed (busybox
  // modprobe reads plain .ko), then depmod over the initramfs tree for modules.dep/alias
  execFileSync('depmod', ['-b', x, kver]);
  const dep = readModulesDep(x, kver);
  const builtinFile = join(x, 'lib/modules', kver, 'modules.builtin');
  const builtinNames = new Set(existsSync(builtinFile) ? readFileSync(builtinFile, 'utf8').split('\n').filter(Boolean).map(modName) : []);
  const builtin: string[] = [];
  const paths = new Set<string>();
  const missing: string[] = [];
  for (const m of WANTED_MODULES) {
    const d = dep.get(m);
    if (d) {
      paths.add(d.path);
      for (const p of d.deps) paths.add(p);
    } else if (builtinNames.has(m)) builtin.push(m);
    else missing.push(m);
  }
  if (missing.length) throw new Error(`kernel ${kver} has neither a module nor a built-in for: ${missing.join(', ')}`);
  const mroot = join(root, 'lib/modules', kver);
  for (const p of paths) {
    const src = join(x, 'lib/modules', kver, p);
    const dest = join(mroot, p.replace(/\.ko\.(xz|zst|gz)$/, '.ko'));
    mkdirSync(dirname(dest), { recursive: true });
    if (p.endsWith('.ko')) copyFileSync(src, dest);
    else writeFileSync(dest, execFileSync(p.endsWith('.xz') ? 'xz' : p.endsWith('.zst') ? 'zstd' : 'gzip', ['-dc', src], { maxBuffer: 64 << 20 }));
  }
  for (const f of ['modules.order', 'modules.builtin', 'modules.builtin.modinfo']) if (existsSync(join(x, 'lib/modules', kver, f))) copyFileSync(join(x, 'lib/modules', kver, f), join(mroot, f));
  execFileSync('depmod', ['-b', root, kver]);
  say(`kernel ${kver}: ${paths.size} modules (${builtin.length} of the wanted ones built in), ${binaries.length} tools, ${libs.size} libraries`);

  // the installer itself
  const env = envDir();
  copyFileSync(join(env, 'init'), join(root, 'init'));
  chmodSync(join(root, 'init'), 0o755);
  for (const f of ['install.sh', 'partition.sh', 'udhcpc.sh']) {
    copyFileSync(join(env, f), join(root, 'lib/fleetboot', f));
    chmodSync(join(root, 'lib/fleetboot', f), 0o755);
  }
  writeFileSync(join(root, 'etc/fleetboot-installer'), `kernel=${kver}\n`);
  return { root, kver, binaries, libraries: [...libs].sort(), builtin, included: paths.size };
}

/** newc cpio of the tree (owner root, sorted: reproducible) compressed with zstd */
function packInitrd(root: string, out: string) {
  execFileSync('sh', ['-c', 'cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet | zstd -q -10 -T0 -o "$2" -f', 'sh', root, out]);
}

function atomicPut(src: string, dest: string) {
  const tmp = join(dirname(dest), `.${basename(dest)}.${process.pid}.partial`);
  copyFileSync(src, tmp);
  renameSync(tmp, dest);
}

/**
 * Fetches the .debs through the cache and builds the installer into
 * <assetsDir>/fleetboot-installer unless a build with the same inputs is already there.
 */
export async function buildInstaller(cache: PackageCache, assetsDir: string, opts: { suite: string; repo?: string; force?: boolean; say?: (s: string) => void }): Promise<{ manifest: InstallerManifest; reused: boolean }> {
  const say = opts.say ?? (() => {});
  const t0 = Date.now();
  const debs = await fetchInstallerDebs(cache, { suite: opts.suite, repo: opts.repo, say });
  const key = inputKey(debs);
  const outDir = join(assetsDir, INSTALLER_DIR);
  const old = readInstallerManifest(assetsDir);
  if (!opts.force && old?.key === key && existsSync(join(outDir, 'vmlinuz')) && existsSync(join(outDir, 'initrd.img'))) {
    say(`installer environment ${key} is up to date`);
    return { manifest: old, reused: true };
  }
  const work = mkdtempSync(join(tmpdir(), 'fleetboot-installer-'));
  try {
    const t = buildTree(work, debs, say);
    const initrd = join(work, 'initrd.img');
    packInitrd(t.root, initrd);
    const vmlinuz = join(work, 'x', 'boot', `vmlinuz-${t.kver}`);
    if (!existsSync(vmlinuz)) throw new Error(`${debs.kernel.filename} has no boot/vmlinuz-${t.kver}`);
    mkdirSync(outDir, { recursive: true });
    const manifest: InstallerManifest = {
      key, builderVersion: BUILDER_VERSION, builtAt: new Date().toISOString(), buildSeconds: 0, suite: debs.suite, repo: debs.repo, kernelVersion: t.kver,
      packages: [debs.kernel, ...debs.tools].map((d) => ({ name: d.name, version: d.version, filename: d.filename, sha256: sha256File(d.local) })),
      binaries: t.binaries, libraries: t.libraries, modules: { wanted: WANTED_MODULES, builtin: t.builtin, included: t.included },
      files: { vmlinuz: { sha256: sha256File(vmlinuz), size: lstatSync(vmlinuz).size }, 'initrd.img': { sha256: sha256File(initrd), size: lstatSync(initrd).size } },
    };
    // kernel and initrd first, the manifest last: a reader that sees the new key sees its files
    atomicPut(vmlinuz, join(outDir, 'vmlinuz'));
    atomicPut(initrd, join(outDir, 'initrd.img'));
    manifest.buildSeconds = Math.round((Date.now() - t0) / 100) / 10;
    const mtmp = join(work, 'MANIFEST.json');
    writeFileSync(mtmp, JSON.stringify(manifest, null, 2) + '\n');
    atomicPut(mtmp, join(outDir, 'MANIFEST.json'));
    say(`installer environment ${key}: vmlinuz ${manifest.files.vmlinuz.size} B, initrd.img ${manifest.files['initrd.img'].size} B (${manifest.buildSeconds} s)`);
    return { manifest, reused: false };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
