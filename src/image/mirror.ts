// How a build reaches fleetboot's package cache over HTTP (debootstrap only speaks HTTP):
//  - inside the daemon, or when a daemon answers on this machine: its /mirror/<repo> URL;
//  - otherwise the cache is started in this process on a loopback port for the build's
//    duration (same directory and SQLite index as the daemon: commits are upserts and temp
//    files are per process, the same sharing `cache warm` relies on).
// Either way every .deb comes through the cache, so the next build is served from disk.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import type { LoadedConfig } from '../config/load.js';
import type { Logger } from '../log.js';

export interface BuildMirror {
  /** base URL of the Debian archive for debootstrap, e.g. http://127.0.0.1:8080/mirror/debian */
  url: string;
  /** the upstream archive behind the cache (part of the image id) */
  upstream: string;
  via: 'daemon' | 'in-process';
  close(): Promise<void>;
}

/** The cache repo images are built from; an error message when the config has none usable. */
export function imageRepo(loaded: LoadedConfig): { name: string; url: string } | string {
  const name = loaded.config.images.repo;
  const repo = loaded.config.cache.repos.find((r) => r.name === name);
  if (!repo) return `images.repo "${name}" is not one of cache.repos (${loaded.config.cache.repos.map((r) => r.name).join(', ')})`;
  if (repo.format !== 'deb') return `images.repo "${name}" is an ${repo.format} repository; images are built with debootstrap from a Debian archive`;
  return { name: repo.name, url: repo.url.replace(/\/+$/, '') };
}

/** The URL a daemon on this machine would answer on (loopback for a wildcard listener). */
export function localDaemonBase(loaded: LoadedConfig, port?: number): string {
  const c = loaded.config;
  const host = c.http.listen === '0.0.0.0' || c.http.listen === '::' ? '127.0.0.1' : c.http.listen;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port ?? c.http.port}`;
}

/** True when `base/mirror/<repo>/dists/<suite>/Release` answers 200 within 2 s. */
export async function daemonMirrorAnswers(base: string, repo: string, suite: string): Promise<boolean> {
  try {
    const r = await fetch(`${base}/mirror/${repo}/dists/${encodeURIComponent(suite)}/Release`, { method: 'HEAD', signal: AbortSignal.timeout(2000), redirect: 'manual' });
    return r.status === 200;
  } catch {
    return false;
  }
}

export async function openBuildMirror(loaded: LoadedConfig, suite: string, log: Logger, opts: { daemonBase?: string } = {}): Promise<BuildMirror> {
  const repo = imageRepo(loaded);
  if (typeof repo === 'string') throw new Error(repo);
  const base = opts.daemonBase ?? localDaemonBase(loaded);
  if (loaded.config.cache.enabled && loaded.config.http.enabled && (await daemonMirrorAnswers(base, repo.name, suite))) {
    return { url: `${base}/mirror/${repo.name}`, upstream: repo.url, via: 'daemon', close: async () => {} };
  }
  if (opts.daemonBase) throw new Error(`the daemon's package cache does not answer at ${base}/mirror/${repo.name} (is cache.enabled true?)`);
  const [{ openDatabase }, { PackageCache, createMirrorRouter }, { default: express }] = await Promise.all([
    import('../store/db.js'),
    import('../cache/index.js'),
    import('express'),
  ]);
  const db = openDatabase(loaded.config.paths.db);
  const cache = new PackageCache({ config: loaded.config.cache, db, log: log.child({ subsystem: 'cache' }), registry: new Registry(), baseDir: loaded.baseDir, reconcile: false });
  let server: Server | undefined;
  try {
    await cache.start();
    const app = express();
    app.disable('x-powered-by');
    app.use('/mirror', createMirrorRouter(cache));
    server = createServer(app);
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(0, '127.0.0.1', () => resolve());
    });
  } catch (e) {
    server?.close();
    await cache.stop().catch(() => {});
    db.close();
    throw e;
  }
  const port = (server.address() as AddressInfo).port;
  log.info({ port }, 'package cache started in-process for the build (no daemon answered)');
  return {
    url: `http://127.0.0.1:${port}/mirror/${repo.name}`,
    upstream: repo.url,
    via: 'in-process',
    close: async () => {
      server!.closeAllConnections();
      await new Promise<void>((r) => server!.close(() => r()));
      await cache.stop();
      db.close();
    },
  };
}
