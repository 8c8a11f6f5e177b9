// The optional parts next to the HTTP core, each from its own config section. Two phases:
// `prepareWeb` builds what the HTTP app mounts (admin UI, package cache); `startServers`
// starts the UDP servers once HTTP listens, because their answers carry the HTTP base URL.
import type { Router } from 'express';
import type { AdminLayer } from './http/app.js';
import type { Logger } from './log.js';
import type { ConfigHolder } from './config/holder.js';
import type { Registry } from './metrics.js';
import type { DB } from './store/db.js';
import type { RunStore } from './store/runs.js';
import type { InstallService, Clock } from './install/service.js';
import type { BootService } from './boot/service.js';

export interface Subsystem {
  name: string;
  stop(): Promise<void>;
}

export interface SubsystemContext {
  log: Logger;
  holder: ConfigHolder;
  registry: Registry;
  db: DB;
  store: RunStore;
  installs: InstallService;
  boot: BootService;
  clock: Clock;
  power?: import('./power/service.js').PowerService;
}

export interface PreparedWeb {
  started: Subsystem[];
  mirror?: Router;
  cacheStats?: () => unknown;
  cacheApi?: import('./http/cache-api.js').CacheApi;
  images: import('./image/service.js').ImageService;
  web: AdminLayer;
  tls?: () => Promise<{ key: string; cert: string; ca: string }>;
  afterListen: (l: { httpsPort?: number }) => Promise<void>;
}

export async function prepareWeb(ctx: SubsystemContext): Promise<PreparedWeb> {
  const cfg = ctx.holder.config;
  const { ImageService } = await import('./image/service.js');
  const out: Omit<PreparedWeb, 'web' | 'afterListen'> = { started: [], images: new ImageService({ holder: ctx.holder, log: ctx.log }) };
  out.started.push({ name: 'images', stop: () => out.images.stop() });
  if (cfg.cache.enabled) {
    const { PackageCache, createMirrorRouter } = await import('./cache/index.js');
    const cache = new PackageCache({ config: cfg.cache, db: ctx.db, log: ctx.log, registry: ctx.registry, clock: ctx.clock, baseDir: ctx.holder.current.baseDir });
    await cache.start();
    out.mirror = createMirrorRouter(cache);
    out.cacheStats = () => cache.stats();
    out.cacheApi = (await import('./http/cache-api.js')).cacheApi({ cache, source: ctx.holder });
    out.started.push({ name: 'cache', stop: () => cache.stop() });
  }
  // the admin layer always loads: it guards /api/v1 (API tokens) even with web.enabled false,
  // which only drops the browser UI and login pages
  const { createWeb } = await import('./web/index.js');
  const web = createWeb({ config: cfg.web, holder: ctx.holder, store: ctx.store, installs: ctx.installs, db: ctx.db, log: ctx.log, registry: ctx.registry, cacheStats: out.cacheStats, clock: ctx.clock, images: out.images, power: ctx.power });
  if (cfg.web.https.enabled) out.tls = web.tls;
  out.started.push({ name: 'web', stop: () => web.stop() });
  // started after HTTP(S) listens (daemon): the setup link it logs must carry the real port
  return { ...out, web, afterListen: (l) => web.start(l) };
}

export async function startServers(ctx: SubsystemContext): Promise<Subsystem[]> {
  const cfg = ctx.holder.config;
  const started: Subsystem[] = [];
  try {
    if (cfg.tftp.enabled) {
      const { TftpServer } = await import('./tftp/server.js');
      const tftp = new TftpServer({ config: cfg.tftp, root: cfg.paths.assets, log: ctx.log, registry: ctx.registry, generated: (path, client) => ctx.boot.tftpFile(path, client), transferAddress: cfg.server.address });
      await tftp.start();
      started.push({ name: 'tftp', stop: () => tftp.stop() });
    }
    if (cfg.syslog.enabled) {
      const { SyslogReceiver } = await import('./syslog/receiver.js');
      const slog = ctx.log.child({ subsystem: 'syslog' });
      let unmatchedWarned = 0;
      const syslog = new SyslogReceiver({
        address: cfg.syslog.listen,
        port: cfg.syslog.port,
        log: ctx.log,
        registry: ctx.registry,
        now: () => ctx.clock.now(),
        // d-i's log_host sends every installer log line here; attach it to the install run
        // of the host that address belongs to
        onLine: (ip, line) => {
          const host = ctx.installs.hostForIp(ip);
          if (!host) {
            if (ctx.clock.now() - unmatchedWarned > 60_000) {
              unmatchedWarned = ctx.clock.now();
              slog.warn({ ip }, 'syslog from an address no install run is using; dropped');
            }
            return;
          }
          ctx.installs.logLine(host, `${line.tag ? `${line.tag}: ` : ''}${line.message}`, ip, line.at);
        },
      });
      await syslog.start();
      started.push({ name: 'syslog', stop: () => syslog.stop() });
    }
    if (cfg.dhcp.enabled) {
      const { DhcpServer } = await import('./dhcp/server.js');
      const { SqliteLeaseStore } = await import('./dhcp/leases.js');
      const holder = ctx.holder;
      const dhcp = new DhcpServer({
        config: cfg.dhcp,
        log: ctx.log,
        registry: ctx.registry,
        leases: new SqliteLeaseStore(ctx.db),
        // inventory lookups go through the holder, so a reload changes reservations at once
        hosts: {
          byMac: (mac) => {
            const rh = holder.index.byMac(mac);
            return rh && { name: rh.host.name, address: rh.host.address };
          },
          reserved: (ip) => holder.index.all().some((h) => h.host.address === ip),
        },
        boot: {
          get httpBase() {
            return holder.publicUrl;
          },
          tftpServer: cfg.server.address,
        },
        onDiscovered: (c) => ctx.store.recordDiscovered({ mac: c.mac, now: ctx.clock.now(), ip: c.ip, arch: c.arch, client: [c.vendorClass, c.userClass].filter(Boolean).join(' / ') || undefined, via: 'dhcp' }),
      });
      await dhcp.start();
      started.push({ name: 'dhcp', stop: () => dhcp.stop() });
    }
  } catch (e) {
    // a half-started daemon would be worse than none: undo what did start
    for (const s of started.reverse()) await s.stop().catch(() => {});
    throw e;
  }
  return started;
}
