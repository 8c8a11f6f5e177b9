// `fleetboot cache warm --role R [--dry-run] [--json]`: fills the package cache with what the
// role's installs will fetch. Runs in this process against the same cache directory and
// SQLite index as the daemon (WAL; downloads land through temp files and atomic renames, so
// a running daemon and a warm-up can share the directory safely).
import { Registry } from 'prom-client';
import type { Logger } from '../log.js';
import { openDatabase } from '../store/db.js';
import { PackageCache } from '../cache/cache.js';
import { cacheConfigSchema } from '../cache/config.js';
import { warmCache } from '../cache/warm.js';

const USAGE = 'usage: fleetboot cache warm --role R [--dry-run] [--json] [--arch A] [--components main,contrib]';

interface RoleLike {
  packages?: string[];
  suite?: string;
}
interface ConfigLike {
  cache?: unknown;
  paths: { db: string };
  roles: Record<string, RoleLike>;
}

function mb(n: number): string {
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export async function cacheCommand(argv: string[], ctx: { config: unknown; log: Logger }): Promise<number> {
  // accept the loaded config ({ config, baseDir }) as well as the bare config object
  const loaded = ctx.config as { config?: ConfigLike; baseDir?: string } & Partial<ConfigLike>;
  const config = (loaded.config ?? loaded) as ConfigLike;
  const flags = new Map<string, string | true>();
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const [k, v] = a.slice(2).split('=', 2);
      if (v !== undefined) flags.set(k, v);
      else if (['role', 'arch', 'components'].includes(k) && i + 1 < argv.length) flags.set(k, argv[++i]);
      else flags.set(k, true);
    } else rest.push(a);
  }
  if (rest[0] !== 'warm' || typeof flags.get('role') !== 'string') {
    console.error(USAGE);
    return 2;
  }
  const roleName = flags.get('role') as string;
  const role = config.roles?.[roleName];
  if (!role) {
    console.error(`unknown role: ${roleName}`);
    return 2;
  }
  const cacheConfig = cacheConfigSchema.parse(config.cache ?? {});
  const db = openDatabase(config.paths.db);
  const log = ctx.log.child({ subsystem: 'cache' });
  const cache = new PackageCache({ config: cacheConfig, db, log, registry: new Registry(), baseDir: loaded.baseDir });
  await cache.start();
  try {
    const json = flags.has('json');
    const r = await warmCache(cache, {
      suite: role.suite ?? 'bookworm',
      packages: role.packages ?? [],
      arch: typeof flags.get('arch') === 'string' ? (flags.get('arch') as string) : undefined,
      components: typeof flags.get('components') === 'string' ? (flags.get('components') as string).split(',') : undefined,
      dryRun: flags.has('dry-run'),
      onProgress: json ? undefined : (l) => log.debug(l),
    });
    if (json) console.log(JSON.stringify(r, null, 2));
    else {
      console.log(`role ${roleName}: ${r.suite}/${r.arch} from ${r.repo}: ${r.packages} packages (role packages + Depends closure + required/important)`);
      console.log(`already cached: ${r.cached.count} files, ${mb(r.cached.bytes)}`);
      console.log(`${r.dryRun ? 'would fetch' : 'to fetch'}: ${r.toFetch.count} files, ${mb(r.toFetch.bytes)}`);
      if (!r.dryRun) console.log(`fetched: ${r.fetched.count} files, ${mb(r.fetched.bytes)}`);
      if (r.unresolved.length) console.log(`unresolved: ${r.unresolved.join(', ')}`);
      for (const f of r.failed) console.log(`FAILED ${f.path}: ${f.error}`);
    }
    return r.failed.length > 0 ? 1 : 0;
  } catch (e) {
    console.error(`cache warm failed: ${(e as Error).message}`);
    return 1;
  } finally {
    await cache.stop();
    db.close();
  }
}
