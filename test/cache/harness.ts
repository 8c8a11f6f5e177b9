// Test harness for the package cache: a PackageCache behind its express router on an
// ephemeral loopback port, with its own SQLite file, cache dir and prom-client registry.
import express from 'express';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { openDatabase, type DB } from '../../src/store/db.js';
import { silentLogger } from '../../src/log.js';
import { PackageCache, type Clock } from '../../src/cache/cache.js';
import { createMirrorRouter } from '../../src/cache/router.js';
import { cacheConfigSchema, type CacheConfigInput } from '../../src/cache/config.js';

export interface CacheHarness {
  cache: PackageCache;
  db: DB;
  registry: Registry;
  dir: string;
  /** http://127.0.0.1:PORT/mirror */
  base: string;
  close(): Promise<void>;
}

export async function startCache(cfg: CacheConfigInput & { repos: NonNullable<CacheConfigInput['repos']> }, clock?: Clock, dir?: string, dbFile?: string, opts: { reconcile?: boolean } = {}): Promise<CacheHarness> {
  const root = dir ?? mkdtempSync(join(tmpdir(), 'fb-cache-'));
  const config = cacheConfigSchema.parse({ enabled: true, dir: join(root, 'cache'), ...cfg });
  const db = openDatabase(dbFile ?? join(root, 'fb.sqlite'));
  const registry = new Registry();
  const cache = new PackageCache({ config, db, log: silentLogger(), registry, clock, reconcile: opts.reconcile });
  await cache.start();
  const app = express();
  app.use('/mirror', createMirrorRouter(cache));
  const server: Server = await new Promise((r) => {
    const s = app.listen(0, '127.0.0.1', () => r(s));
  });
  const port = (server.address() as AddressInfo).port;
  let closed = false;
  return {
    cache, db, registry, dir: root,
    base: `http://127.0.0.1:${port}/mirror`,
    async close() {
      if (closed) return;
      closed = true;
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await cache.stop();
      db.close();
      if (!dir) rmSync(root, { recursive: true, force: true });
    },
  };
}
