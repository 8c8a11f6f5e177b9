// `fleetboot cache warm --role R [--dry-run] [--json]`: fills the package cache with what the
// installs of the role's hosts will fetch (src/cache/warm.ts). Runs in this process against
// the same cache directory and SQLite index as the daemon: temp files are per process and
// commits are upserts, so a running daemon and a warm-up share the directory safely.
// Exit status: 0 all done (or, with --dry-run, everything resolved); 1 something unresolved,
// unsupported or failed (listed); 2 usage or unknown role.
import { Registry } from 'prom-client';
import type { Logger } from '../log.js';
import type { LoadedConfig } from '../config/load.js';
import { ConfigHolder } from '../config/holder.js';
import { openDatabase } from '../store/db.js';
import { PackageCache } from '../cache/cache.js';
import { warmRole, type WarmReport } from '../cache/warm.js';

const size = (n: number) => (n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`);

/** The human-readable report (the API returns the same data as JSON). */
export function formatWarm(r: WarmReport): string[] {
  const out: string[] = [];
  for (const x of r.results) {
    out.push(`role ${r.role}: hosts ${x.hosts.join(', ')} (install role ${x.installRole}): ${x.suite}/${x.arch} from /mirror/${x.repo}`);
    if (x.unsupported) {
      out.push(`  NOT WARMED: ${x.unsupported}`);
      continue;
    }
    out.push(`  ${x.packages} packages (role packages + answer file + base set + dependencies), ${x.udebs} installer udebs${x.kernelAbi ? ` (kernel ${x.kernelAbi})` : ''}`);
    for (const n of x.notes) out.push(`  note: ${n}`);
    out.push(`  already cached: ${x.cached.count} files, ${size(x.cached.bytes)}`);
    out.push(`  ${x.dryRun ? 'would fetch' : 'to fetch'}: ${x.toFetch.count} files, ${size(x.toFetch.bytes)}`);
    if (x.dryRun) for (const f of x.toFetch.files) out.push(`    ${f.path}  ${size(f.size)}`);
    if (x.dryRun && x.toFetch.count) out.push(`  total: ${x.toFetch.count} files, ${size(x.toFetch.bytes)} (${x.toFetch.bytes} bytes)`);
    if (!x.dryRun) out.push(`  fetched: ${x.fetched.count} files, ${size(x.fetched.bytes)}`);
    if (x.unresolved.length) out.push(`  UNRESOLVED (no such package in ${x.suite}): ${x.unresolved.join(', ')}`);
    for (const u of x.unsatisfied) out.push(`  UNSATISFIED dependency: ${u}`);
    if (x.failed.length) out.push(`  FAILED: ${x.failed.length} files`);
    for (const f of x.failed) out.push(`    ${f.path}: ${f.error}`);
  }
  return out;
}

export interface WarmArgs {
  role: string;
  arch?: string;
  components?: string;
  dryRun: boolean;
  json: boolean;
}

/** Arguments come parsed and checked from src/cli/cmd-cache.ts (strict parseArgs). */
export async function cacheCommand(args: WarmArgs, ctx: { config: LoadedConfig; log: Logger }): Promise<number> {
  const loaded = ctx.config;
  const config = loaded.config;
  const roleName = args.role;
  if (!config.roles[roleName]) {
    console.error(`unknown role: ${roleName}`);
    return 2;
  }
  const db = openDatabase(config.paths.db);
  const log = ctx.log.child({ subsystem: 'cache' });
  // the daemon (if any) reconciles the directory; a short-lived warm-up does not walk it
  const cache = new PackageCache({ config: config.cache, db, log, registry: new Registry(), baseDir: loaded.baseDir, reconcile: false });
  await cache.start();
  try {
    const json = args.json;
    const r = await warmRole(cache, new ConfigHolder(loaded), roleName, {
      arch: args.arch,
      components: args.components?.split(','),
      dryRun: args.dryRun,
      onProgress: json ? undefined : (l) => log.debug(l),
    });
    if (json) console.log(JSON.stringify(r, null, 2));
    else for (const l of formatWarm(r)) console.log(l);
    return r.ok ? 0 : 1;
  } catch (e) {
    console.error(`cache warm failed: ${(e as Error).message}`);
    return 1;
  } finally {
    await cache.stop();
    db.close();
  }
}
