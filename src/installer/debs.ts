// The .debs the installer environment is built from, fetched through fleetboot's package cache
// (the same single-flight path clients use, so the files are verified against the signed
// Release -> Packages chain and stay cached for the next build). Ordinary .debs only: no udebs
// (the mirror reachable here lacks most of them, docs/reinstall.md).
//
// What is taken: the kernel package linux-image-amd64 points at (its own Depends — kmod,
// initramfs-tools, linux-base — are for installing a kernel into a system, not for taking its
// files), and the tools with their Pre-Depends/Depends closure, whose shared libraries the
// builder picks from by ELF NEEDED.
import { execFileSync } from 'node:child_process';
import type { PackageCache } from '../cache/cache.js';
import { parseRelease } from '../cache/packages.js';
import { Index, indexPaths } from '../cache/warm.js';

/** busybox-static: every applet the installer scripts use; the others: the real tools
 *  (util-linux: blkdiscard, which zeroes the root partition by BLKZEROOUT, and blkid). */
export const INSTALLER_TOOLS = ['busybox-static', 'fdisk', 'e2fsprogs', 'dosfstools', 'zstd', 'util-linux'] as const;
export const KERNEL_META = 'linux-image-amd64';

export interface FetchedDeb {
  name: string;
  version: string;
  /** pool path on the mirror */
  filename: string;
  /** the cache's file */
  local: string;
  size: number;
}

export interface DebSet {
  repo: string;
  suite: string;
  arch: string;
  kernel: FetchedDeb;
  /** the tools and their dependency closure */
  tools: FetchedDeb[];
}

/** "pool/main/e/e2fsprogs/e2fsprogs_1.47.0-2_amd64.deb" -> "1.47.0-2" (epoch %3a-escaped or not). */
export function versionFromFilename(f: string): string {
  const base = f.slice(f.lastIndexOf('/') + 1).replace(/\.u?deb$/, '');
  const parts = base.split('_');
  return parts.length >= 3 ? decodeURIComponent(parts[1]) : '';
}

async function ensure(cache: PackageCache, repo: string, path: string, optional = false): Promise<boolean> {
  try {
    await cache.ensure(repo, path);
    return true;
  } catch (e) {
    if (optional) return false;
    throw new Error(`${path}: ${(e as Error).message}`);
  }
}

export async function fetchInstallerDebs(cache: PackageCache, opts: { repo?: string; suite: string; arch?: string; say?: (s: string) => void }): Promise<DebSet> {
  const arch = opts.arch ?? 'amd64';
  const say = opts.say ?? (() => {});
  const repo = opts.repo ?? cache.repoNames().find((r) => cache.repoFormat(r) === 'deb');
  if (!repo || cache.repoFormat(repo) !== 'deb') throw new Error('the package cache has no Debian-format repo (cache.repos)');
  const { suite } = opts;
  let releasePath = `dists/${suite}/InRelease`;
  if (!(await ensure(cache, repo, releasePath, true))) {
    releasePath = `dists/${suite}/Release`;
    await ensure(cache, repo, releasePath);
  }
  const release = await parseRelease(cache.localPath(repo, releasePath));
  const paths = indexPaths(suite, `main/binary-${arch}/Packages`, release);
  if (!paths) throw new Error(`${suite}/main/binary-${arch}: no Packages index in the Release file`);
  for (const p of paths.fetch) await ensure(cache, repo, p);
  const idx = new Index();
  await idx.read(cache.localPath(repo, paths.parse), arch);

  const meta = idx.all.get(KERNEL_META);
  if (!meta) throw new Error(`${KERNEL_META} is not in ${suite}/main/binary-${arch}`);
  // the metapackage's first dependency is the versioned kernel image (linux-image-6.1.0-N-amd64)
  const kname = meta.deps.flat().find((d) => /^linux-image-\d/.test(d) && idx.all.has(d));
  if (!kname) throw new Error(`${KERNEL_META} does not depend on a linux-image-<version> package in the index`);
  const chosen = new Set<string>();
  const unsatisfied = idx.close(chosen, [...INSTALLER_TOOLS], { recommends: false });
  if (unsatisfied.length) throw new Error(`unsatisfied dependencies: ${unsatisfied.join('; ')}`);
  for (const t of INSTALLER_TOOLS) if (!chosen.has(t)) throw new Error(`${t} is not in ${suite}/main/binary-${arch}`);

  const get = async (name: string): Promise<FetchedDeb> => {
    const p = idx.all.get(name)!;
    const r = await cache.ensure(repo, p.filename);
    say(`${r.fetched ? 'fetched' : 'cached '} ${p.filename}`);
    const local = cache.localPath(repo, p.filename);
    let version = versionFromFilename(p.filename);
    try {
      version = execFileSync('dpkg-deb', ['-f', local, 'Version'], { encoding: 'utf8' }).trim() || version;
    } catch {
      /* the file name's version is the same one */
    }
    return { name, version, filename: p.filename, local, size: r.size };
  };
  const kernel = await get(kname);
  const tools: FetchedDeb[] = [];
  for (const n of [...chosen].sort()) tools.push(await get(n));
  return { repo, suite, arch, kernel, tools };
}
