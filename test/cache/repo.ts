// Builds a small real Debian repository for the cache tests: real .debs from `apt-get download`
// (kept under os.tmpdir() so later runs reuse them), indexed with apt-ftparchive (apt-utils).
// Nothing binary is committed; test/fixtures/cache/README.md says the same.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** hello and its closure, plus the suite's "required" base-files (which Pre-Depends on awk = mawk) */
export const FIXTURE_PACKAGES = ['hello', 'libc6', 'libgcc-s1', 'gcc-12-base', 'base-files', 'mawk'];

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

const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

export function buildRepo(root: string, suite = 'bookworm'): FixtureRepo {
  const src = debsDir();
  const pool = join(root, 'pool/main');
  mkdirSync(pool, { recursive: true });
  const debs: FixtureDeb[] = [];
  for (const pkg of FIXTURE_PACKAGES) {
    const f = readdirSync(src).find((x) => x.startsWith(`${pkg}_`) && x.endsWith('.deb'))!;
    const letter = pkg.startsWith('lib') ? pkg.slice(0, 4) : pkg[0];
    mkdirSync(join(pool, letter, pkg), { recursive: true });
    const rel = `pool/main/${letter}/${pkg}/${f}`;
    copyFileSync(join(src, f), join(root, rel));
    debs.push({ pkg, path: rel, size: statSync(join(root, rel)).size, sha256: sha(join(root, rel)) });
  }
  const bin = join(root, 'dists', suite, 'main/binary-amd64');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'Packages'), execFileSync('apt-ftparchive', ['packages', 'pool/main'], { cwd: root }));
  execFileSync('gzip', ['-9nkf', 'Packages'], { cwd: bin });
  execFileSync('xz', ['-kf', 'Packages'], { cwd: bin });
  const gzHash = sha(join(bin, 'Packages.gz'));
  mkdirSync(join(bin, 'by-hash/SHA256'), { recursive: true });
  copyFileSync(join(bin, 'Packages.gz'), join(bin, 'by-hash/SHA256', gzHash));
  const release = execFileSync(
    'apt-ftparchive',
    ['-o', `APT::FTPArchive::Release::Suite=${suite}`, '-o', `APT::FTPArchive::Release::Codename=${suite}`, '-o', 'APT::FTPArchive::Release::Architectures=amd64',
      '-o', 'APT::FTPArchive::Release::Components=main', '-o', 'APT::FTPArchive::Release::Origin=fleetboot-test', 'release', `dists/${suite}`],
    { cwd: root },
  );
  writeFileSync(join(root, 'dists', suite, 'Release'), release);
  return { root, suite, debs, byHashPackagesGz: `dists/${suite}/main/binary-amd64/by-hash/SHA256/${gzHash}` };
}

export function fixtureExists(f: string): boolean {
  return existsSync(f);
}
