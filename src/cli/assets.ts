// `fleetboot assets fetch`: fills boot-assets/ from Debian packages, recording each file's
// package, version and sha256 in boot-assets/MANIFEST.json. Packages are fetched with
// `apt-get download` (no root needed, nothing installed); if that fails (no apt lists, no
// network) and the package is installed locally, the installed files are copied instead.
// A running daemon may be serving the directory meanwhile: every file is staged under a hidden
// name next to its destination (same filesystem; the Jail never serves dot-names) and renamed
// into place, so a reader sees the old file or the new one, never a partial one. MANIFEST.json
// is rewritten (by rename as well) after each package, so it always describes what is there.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, copyFileSync, existsSync, fsyncSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { LoadedConfig } from '../config/load.js';
import { ASSET_SOURCES, type AssetSource } from '../config/asset-sources.js';
import { fetchInstallerAsset, wantsInstaller } from '../installer/assets-step.js';

export { ASSET_SOURCES } from '../config/asset-sources.js';

export type AssetOrigin = 'apt-get download' | 'installed package';

export interface ManifestEntry {
  file: string;
  package: string;
  version: string;
  sha256: string;
  size: number;
  source: AssetOrigin;
  fetchedAt: string;
}

function fromDownload(src: AssetSource, work: string): { root: string; version: string } | null {
  try {
    execFileSync('apt-get', ['download', src.pkg], { cwd: work, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch {
    return null;
  }
  const deb = readdirSync(work).find((f) => f.startsWith(`${src.pkg}_`) && f.endsWith('.deb'));
  if (!deb) return null;
  const root = join(work, `${src.pkg}-x`);
  execFileSync('dpkg-deb', ['-x', join(work, deb), root]);
  const version = execFileSync('dpkg-deb', ['-f', join(work, deb), 'Version']).toString().trim();
  return { root, version };
}

function fromInstalled(src: AssetSource): { root: string; version: string } | null {
  try {
    const version = execFileSync('dpkg-query', ['-W', '-f=${Version}', src.pkg], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    if (!version || !src.files.every((f) => existsSync(`/${f.from}`))) return null;
    return { root: '/', version };
  } catch {
    return null;
  }
}

/** A hidden name in the destination's own directory: rename(2) within one filesystem is atomic. */
const stagingName = (dest: string) => join(dirname(dest), `.${basename(dest)}.${process.pid}-${randomBytes(4).toString('hex')}.partial`);

function durable(file: string) {
  const fd = openSync(file, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Puts one package's files into `assetsDir` (each staged, then all renamed into place) and
 * records them in MANIFEST.json, replacing older entries for the same files.
 */
export function installFiles(assetsDir: string, pkg: { name: string; version: string; source: AssetOrigin }, files: { src: string; to: string }[]): ManifestEntry[] {
  const staged: { tmp: string; dest: string; entry: ManifestEntry }[] = [];
  const fetchedAt = new Date().toISOString();
  try {
    for (const f of files) {
      const dest = join(assetsDir, f.to);
      mkdirSync(dirname(dest), { recursive: true });
      const tmp = stagingName(dest);
      copyFileSync(f.src, tmp);
      durable(tmp);
      // hash what will be served: the staged bytes
      const bytes = readFileSync(tmp);
      const entry: ManifestEntry = { file: f.to, package: pkg.name, version: pkg.version, sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length, source: pkg.source, fetchedAt };
      staged.push({ tmp, dest, entry });
    }
    for (const s of staged) renameSync(s.tmp, s.dest);
  } catch (e) {
    for (const s of staged) rmSync(s.tmp, { force: true });
    throw e;
  }
  const entries = staged.map((s) => s.entry);
  writeManifest(assetsDir, entries);
  return entries;
}

export function readManifest(assetsDir: string): ManifestEntry[] {
  try {
    return (JSON.parse(readFileSync(join(assetsDir, 'MANIFEST.json'), 'utf8')) as { files?: ManifestEntry[] }).files ?? [];
  } catch {
    return [];
  }
}

function writeManifest(assetsDir: string, entries: ManifestEntry[]) {
  const replaced = new Set(entries.map((e) => e.file));
  const files = readManifest(assetsDir).filter((e) => !replaced.has(e.file)).concat(entries);
  const dest = join(assetsDir, 'MANIFEST.json');
  const tmp = stagingName(dest);
  writeFileSync(tmp, JSON.stringify({ updatedAt: new Date().toISOString(), files }, null, 2) + '\n');
  durable(tmp);
  renameSync(tmp, dest);
}

export async function fetchAssets(assetsDir: string, log: (s: string) => void = console.log): Promise<ManifestEntry[]> {
  mkdirSync(assetsDir, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'fleetboot-assets-'));
  const out: ManifestEntry[] = [];
  try {
    for (const src of ASSET_SOURCES) {
      const got = fromDownload(src, work) ?? fromInstalled(src);
      if (!got) throw new Error(`cannot get package ${src.pkg}: apt-get download failed and it is not installed (run apt-get update?)`);
      const source: AssetOrigin = got.root === '/' ? 'installed package' : 'apt-get download';
      const entries = installFiles(assetsDir, { name: src.pkg, version: got.version, source }, src.files.map((f) => ({ src: join(got.root, f.from), to: f.to })));
      for (const e of entries) log(`${e.file}  ${src.pkg} ${got.version}  sha256 ${e.sha256.slice(0, 16)}…  (${source})`);
      out.push(...entries);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return out;
}

export async function assetsCommand(rest: string[], loaded: LoadedConfig): Promise<number> {
  const flags = rest.slice(1);
  if (rest[0] !== 'fetch' || flags.some((f) => !['--installer', '--no-installer', '--rebuild-installer'].includes(f))) {
    console.error('usage: fleetboot assets fetch [--installer | --no-installer] [--rebuild-installer]');
    return 2;
  }
  await fetchAssets(loaded.config.paths.assets);
  console.log(`boot assets written to ${loaded.config.paths.assets} (MANIFEST.json records versions and sha256)`);
  // fleetboot's image installer (docs/installer.md): built when an image role needs it
  if (wantsInstaller(loaded, flags)) await fetchInstallerAsset(loaded, flags);
  return 0;
}
