// Runs the real apt-get against a mirror URL with an isolated apt root (-o Dir=...): its own
// sources.list, lists, archives and an empty dpkg status, so the host's apt state is untouched.
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export async function aptDownload(dir: string, mirror: string, suite: string, pkgs: string[]): Promise<string[]> {
  for (const d of ['etc/apt/apt.conf.d', 'etc/apt/preferences.d', 'etc/apt/sources.list.d', 'var/lib/apt/lists/partial', 'var/cache/apt/archives/partial', 'var/lib/dpkg', 'log']) {
    mkdirSync(join(dir, d), { recursive: true });
  }
  writeFileSync(join(dir, 'var/lib/dpkg/status'), '');
  // unsigned test repository: trusted=yes (the real-mirror test uses debootstrap instead)
  writeFileSync(join(dir, 'etc/apt/sources.list'), `deb [trusted=yes] ${mirror} ${suite} main\n`);
  const opts = [
    '-o', `Dir=${dir}`, '-o', 'Dir::Bin::Methods=/usr/lib/apt/methods', '-o', 'Dir::Bin::dpkg=/usr/bin/dpkg', '-o', `Dir::Log=${join(dir, 'log')}`,
    '-o', 'APT::Architecture=amd64', '-o', 'APT::Architectures=amd64', '-o', 'APT::Install-Recommends=false', '-o', 'Debug::NoLocking=1',
    '-o', 'APT::Sandbox::User=root', '-o', 'Acquire::Retries=0',
  ];
  await run('apt-get', [...opts, 'update'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  await run('apt-get', [...opts, 'install', '-y', '--download-only', ...pkgs], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return readdirSync(join(dir, 'var/cache/apt/archives')).filter((f) => f.endsWith('.deb')).sort();
}
