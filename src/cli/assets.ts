// `fleetboot assets fetch`: fills boot-assets/ from Debian packages, recording each file's
// package, version and sha256 in boot-assets/MANIFEST.json. Packages are fetched with
// `apt-get download` (no root needed, nothing installed); if that fails (no apt lists, no
// network) and the package is installed locally, the installed files are copied instead.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { LoadedConfig } from '../config/load.js';

interface AssetSource {
  pkg: string;
  files: { from: string; to: string }[];
}

const DI = 'usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64';
export const ASSET_SOURCES: AssetSource[] = [
  {
    pkg: 'ipxe',
    files: [
      { from: 'usr/lib/ipxe/undionly.kpxe', to: 'undionly.kpxe' },
      { from: 'usr/lib/ipxe/ipxe.efi', to: 'ipxe.efi' },
      { from: 'usr/lib/ipxe/snponly.efi', to: 'snponly.efi' },
    ],
  },
  {
    pkg: 'debian-installer-12-netboot-amd64',
    files: [
      { from: `${DI}/linux`, to: 'debian-12/linux' },
      { from: `${DI}/initrd.gz`, to: 'debian-12/initrd.gz' },
    ],
  },
];

export interface ManifestEntry {
  file: string;
  package: string;
  version: string;
  sha256: string;
  size: number;
  source: 'apt-get download' | 'installed package';
}

const sha256 = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

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

export async function fetchAssets(assetsDir: string, log: (s: string) => void = console.log): Promise<ManifestEntry[]> {
  mkdirSync(assetsDir, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'fleetboot-assets-'));
  const out: ManifestEntry[] = [];
  try {
    for (const src of ASSET_SOURCES) {
      const got = fromDownload(src, work) ?? fromInstalled(src);
      if (!got) throw new Error(`cannot get package ${src.pkg}: apt-get download failed and it is not installed (run apt-get update?)`);
      const how = got.root === '/' ? 'installed package' : 'apt-get download';
      for (const f of src.files) {
        const dest = join(assetsDir, f.to);
        mkdirSync(dirname(dest), { recursive: true });
        // copy to a temp name then rename-by-copy: a running daemon never serves a half file
        const tmp = `${dest}.partial`;
        copyFileSync(join(got.root, f.from), tmp);
        copyFileSync(tmp, dest);
        rmSync(tmp);
        const entry: ManifestEntry = { file: f.to, package: src.pkg, version: got.version, sha256: sha256(dest), size: readFileSync(dest).length, source: how };
        out.push(entry);
        log(`${f.to}  ${src.pkg} ${got.version}  sha256 ${entry.sha256.slice(0, 16)}…  (${how})`);
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  writeFileSync(join(assetsDir, 'MANIFEST.json'), JSON.stringify({ fetchedAt: new Date().toISOString(), files: out }, null, 2) + '\n');
  return out;
}

export async function assetsCommand(rest: string[], loaded: LoadedConfig): Promise<number> {
  if (rest[0] !== 'fetch') {
    console.error('usage: fleetboot assets fetch');
    return 2;
  }
  await fetchAssets(loaded.config.paths.assets);
  console.log(`boot assets written to ${loaded.config.paths.assets} (MANIFEST.json records versions and sha256)`);
  return 0;
}
