// `fleetboot assets fetch` builds the installer environment too when the inventory has an
// image role (or with --installer; --no-installer skips it). Runs in this process against
// the daemon's cache directory and SQLite index, like `fleetboot cache warm`.
import { Registry } from 'prom-client';
import type { LoadedConfig } from '../config/load.js';
import { createLogger } from '../log.js';
import { openDatabase } from '../store/db.js';
import { PackageCache } from '../cache/cache.js';
import { buildInstaller } from './build.js';

export function wantsInstaller(loaded: LoadedConfig, flags: string[]): boolean {
  if (flags.includes('--no-installer')) return false;
  return flags.includes('--installer') || Object.values(loaded.config.roles).some((r) => r.installer === 'image');
}

export async function fetchInstallerAsset(loaded: LoadedConfig, flags: string[]): Promise<void> {
  const config = loaded.config;
  const suite = Object.values(config.roles).find((r) => r.installer === 'image')?.suite ?? 'bookworm';
  const db = openDatabase(config.paths.db);
  const log = createLogger({ level: 'warn', destination: 2 }).child({ subsystem: 'cache' });
  const cache = new PackageCache({ config: config.cache, db, log, registry: new Registry(), baseDir: loaded.baseDir, reconcile: false });
  await cache.start();
  try {
    const r = await buildInstaller(cache, config.paths.assets, { suite, force: flags.includes('--rebuild-installer'), say: (s) => console.log(`installer: ${s}`) });
    console.log(`installer environment ${r.manifest.key} (kernel ${r.manifest.kernelVersion}) ${r.reused ? 'reused' : 'built'} in ${config.paths.assets}/fleetboot-installer`);
  } finally {
    await cache.stop();
    db.close();
  }
}
