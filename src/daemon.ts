// Wires the subsystems together. Constructor assigns; start() does the I/O in order (state,
// HTTP, TFTP, DHCP, syslog) and stop() undoes it in reverse. Reload (SIGHUP or a changed file)
// swaps the config atomically or keeps the old one; settings only a restart can apply are
// named in a warning and in /healthz (restartPending).
import { createServer, type Server } from 'node:http';
import { watch, type FSWatcher } from 'node:fs';
import { dirname, join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Logger } from './log.js';
import { ConfigHolder } from './config/holder.js';
import type { LoadedConfig, LoadOptions } from './config/load.js';
import { openDatabase, type DB } from './store/db.js';
import { RunStore } from './store/runs.js';
import { InstallService, systemClock, type Clock } from './install/service.js';
import { TemplateRenderer } from './install/render.js';
import { BootService } from './boot/service.js';
import { createApp } from './http/app.js';
import { leanRoutes } from './http/lean.js';
import { createRegistry, installMetrics, type Registry } from './metrics.js';
import { bootDecisionMetrics, installDurationMetrics } from './install/metrics.js';
import { prepareWeb, startServers, type Subsystem, type SubsystemContext } from './subsystems.js';
import { createServer as createHttpsServer } from 'node:https';
import { restartNeeded } from './config/restart.js';
import type { Config } from './config/schema.js';
import { LiveLevel } from './log-level.js';
import { RolloutService } from './rollout/service.js';
import { rolloutsApi } from './http/rollouts-api.js';
import { createPowerService } from './power/wire.js';
import type { PowerService } from './power/service.js';
import { applyLimits, serverOptions } from './http/limits.js';
import { fanOutAccepts } from './http/accept-fanout.js';
import { HeldReloadRelay, unsettled } from './config/held-reload.js';
import { ReloadHolds } from './store/reload-holds.js';
import { storeHealth } from './store/db-health.js';

export interface DaemonOptions {
  loaded: LoadedConfig;
  loadOptions: LoadOptions;
  log: Logger;
  clock?: Clock;
  /** watch config files for changes (default true) */
  watch?: boolean;
  /** stall-check interval (ms) */
  tickMs?: number;
  /** rollout engine tick interval (ms, default 2000) */
  rolloutTickMs?: number;
}

export class Daemon {
  holder!: ConfigHolder;
  db!: DB;
  store!: RunStore;
  installs!: InstallService;
  boot!: BootService;
  power!: PowerService;
  rollouts!: RolloutService;
  registry!: Registry;
  private http?: Server;
  private https?: import('node:https').Server;
  /** more descriptors accepting for `http` (src/http/accept-fanout.ts) */
  private httpExtra: import('node:net').Server[] = [];
  private subsystems: Subsystem[] = [];
  /** config directories watched (editors save by rename: a file watch would die with the old inode) */
  private watchers = new Map<string, FSWatcher>();
  private watchedFiles = new Set<string>();
  private started?: Readonly<Config>;
  private levels?: LiveLevel;
  /** restart-only settings whose running value differs from the loaded config */
  restartPending: string[] = [];
  private ticker?: NodeJS.Timeout;
  private reloadTimer?: NodeJS.Timeout;
  private onHup = () => this.reload('SIGHUP');
  private renderer!: TemplateRenderer;
  private admin?: import('./http/app.js').AdminLayer;
  private heldRelay?: HeldReloadRelay;

  constructor(private readonly opts: DaemonOptions) {}

  get httpPort(): number {
    return (this.http?.address() as AddressInfo | null)?.port ?? 0;
  }

  /** the admin HTTPS listener's port (web.https.enabled), else 0 */
  get httpsPort(): number {
    return (this.https?.address() as AddressInfo | null)?.port ?? 0;
  }

  /** while no admin exists: the one-time URL that creates the first one */
  get setupUrl(): string | undefined {
    const t = this.admin?.setupToken?.();
    return t && this.admin?.adminUrl ? `${this.admin.adminUrl()}/setup?token=${t}` : undefined;
  }

  async start(): Promise<void> {
    const { log } = this.opts;
    const clock = this.opts.clock ?? systemClock;
    this.levels = new LiveLevel(log);
    this.levels.attach();
    this.holder = new ConfigHolder(this.opts.loaded, this.opts.loadOptions, log.child({ subsystem: 'config' }));
    const cfg = this.holder.config;
    this.started = cfg;
    this.db = openDatabase(cfg.paths.db);
    this.store = new RunStore(this.db);
    this.registry = createRegistry();
    installMetrics(this.registry, () => this.store);
    this.renderer = new TemplateRenderer(cfg.paths.templates);
    this.holder.on('reloaded', (next: LoadedConfig) => {
      if (next.config.paths.templates !== this.renderer.templatesDir) this.renderer = new TemplateRenderer(next.config.paths.templates);
    });
    this.heldRelay = new HeldReloadRelay(this.holder, new ReloadHolds(this.db), (why, o) => this.reload(why, o), log.child({ subsystem: 'config' }), clock);
    this.heldRelay.start();
    this.installs = new InstallService(this.store, this.holder, log.child({ subsystem: 'install' }), clock);
    this.boot = new BootService(this.holder, this.store, this.installs, () => this.renderer, log.child({ subsystem: 'boot' }), clock);
    this.boot.onDecision = bootDecisionMetrics(this.registry);
    installDurationMetrics(this.registry, this.installs, () => this.store);

    this.power = createPowerService(this.holder, log, process.env, this.registry);
    // rollouts (docs/rollouts.md): the engine ticks in here; CLI/API/UI write the same tables
    this.rollouts = new RolloutService({ db: this.db, runs: this.store, installs: this.installs, holder: this.holder, power: { act: (h, a) => this.power.call(h, a) }, log, clock, tickMs: this.opts.rolloutTickMs });
    const ctx: SubsystemContext = { log, holder: this.holder, registry: this.registry, db: this.db, store: this.store, installs: this.installs, boot: this.boot, clock, power: this.power };
    const sub = await prepareWeb(ctx);
    this.subsystems = sub.started;
    this.admin = sub.web;
    const app = createApp({
      holder: this.holder,
      store: this.store,
      boot: this.boot,
      installs: this.installs,
      renderer: () => this.renderer,
      registry: this.registry,
      log,
      mirror: sub.mirror,
      cacheStats: sub.cacheStats,
      cacheApi: sub.cacheApi,
      images: sub.images,
      power: this.power,
      rollouts: rolloutsApi({ holder: this.holder, runs: this.store, installs: this.installs, store: this.rollouts.store, clock }),
      web: sub.web,
      health: () => {
        const store = storeHealth(this.db)?.state();
        return { ok: store?.ok !== false, store, ...(store?.ok === false ? { error: storeHealth(this.db)!.describe() } : {}), subsystems: this.subsystems.map((s) => s.name), restartPending: this.restartPending, pendingShrink: this.heldRelay?.status() ?? null };
      },
    });
    if (cfg.http.enabled) {
      // the hot boot routes (/assets, /boot.ipxe) are answered before express (src/http/lean.ts)
      this.http = createServer(serverOptions(cfg.http), leanRoutes(app, { holder: this.holder, boot: this.boot, registry: this.registry, log }));
      applyLimits(this.http, cfg.http, log.child({ subsystem: 'http' }));
      this.http.keepAliveTimeout = 65_000;
      await new Promise<void>((resolve, reject) => {
        this.http!.once('error', reject);
        this.http!.listen(cfg.http.port, cfg.http.listen, () => resolve());
      });
      this.holder.boundHttpPort = this.httpPort;
      this.httpExtra = await fanOutAccepts(this.http, cfg.http.acceptDescriptors - 1, log.child({ subsystem: 'http' }));
    }
    if (sub.tls) {
      // the admin UI over HTTPS with the generated CA-signed certificate; boot traffic stays on
      // plain HTTP (firmware and installers cannot verify our CA)
      const tls = await sub.tls();
      this.https = createHttpsServer({ key: tls.key, cert: tls.cert, ...serverOptions(cfg.http) }, app);
      applyLimits(this.https, cfg.http, log.child({ subsystem: 'http' }), { tls: true });
      await new Promise<void>((resolve, reject) => {
        this.https!.once('error', reject);
        this.https!.listen(cfg.web.https.port, cfg.http.listen, () => resolve());
      });
      log.info({ port: (this.https.address() as AddressInfo).port }, 'HTTPS (admin UI) listening');
      log.info({ url: `http://${cfg.http.listen === '0.0.0.0' ? cfg.server.address : cfg.http.listen}:${this.httpPort}/` }, 'HTTP listening');
    }
    await sub.afterListen({ httpsPort: this.https ? this.httpsPort : undefined });
    this.subsystems.push(...(await startServers(ctx)));
    this.ticker = setInterval(() => {
      try {
        this.installs.tick();
      } catch (e) {
        log.error({ err: e }, 'install tick failed');
      }
    }, this.opts.tickMs ?? 5000);
    this.ticker.unref();
    this.rollouts.start();
    process.on('SIGHUP', this.onHup);
    this.watchFiles(this.holder.current.files);
  }

  /** Watches the directories holding `files`; any change to one of them schedules a reload. */
  private watchFiles(files: string[]) {
    if (this.opts.watch === false) return;
    this.watchedFiles = new Set(files);
    const dirs = new Set(files.map((f) => dirname(f)));
    for (const [dir, w] of this.watchers) if (!dirs.has(dir)) (w.close(), this.watchers.delete(dir));
    for (const dir of dirs) {
      if (this.watchers.has(dir)) continue;
      try {
        const w = watch(dir, (_ev, name) => {
          const file = name ? join(dir, name.toString()) : undefined;
          if (!file || this.watchedFiles.has(file)) this.scheduleReload(`file changed: ${file ?? dir}`);
        });
        w.on('error', (e) => this.opts.log.warn({ err: e, dir }, 'config directory watch failed; reload with SIGHUP'));
        this.watchers.set(dir, w);
      } catch (e) {
        this.opts.log.warn({ err: e, dir }, 'cannot watch config directory; reload with SIGHUP');
      }
    }
  }

  private scheduleReload(why: string, firstAt = Date.now()) {
    clearTimeout(this.reloadTimer);
    // editors write in several steps (truncate, write, rename): read once they are done, and
    // only once every file has been left alone for reload.settleMs (a slow writer, a file
    // being copied); after 30 s of constant change read anyway rather than never
    this.reloadTimer = setTimeout(() => {
      const settle = this.holder.config.reload.settleMs;
      if (Date.now() - firstAt < 30_000 && unsettled([...this.watchedFiles], settle)) return this.scheduleReload(why, firstAt);
      this.reload(why);
    }, 300);
    this.reloadTimer.unref();
  }

  reload(why: string, opts: { confirm?: string } = {}): boolean {
    const { log } = this.opts;
    log.info({ why }, 'reloading config');
    const prev = this.holder.config;
    const r = this.holder.reload(opts);
    // watch what the attempt read too: a fix may go into a file only the new config names
    this.watchFiles([...new Set([...this.holder.current.files, ...r.files])]);
    if (!r.ok) return false;
    const next = this.holder.config;
    if (next.log.level !== prev.log.level) {
      this.levels?.set(next.log.level);
      log.info({ level: next.log.level }, 'log level changed');
    }
    this.restartPending = restartNeeded(this.started!, next);
    if (this.restartPending.length) log.warn({ restartPending: this.restartPending }, `config reloaded; these changes need a restart: ${this.restartPending.join(', ')}`);
    return true;
  }

  async stop(): Promise<void> {
    process.off('SIGHUP', this.onHup);
    clearInterval(this.ticker);
    await this.rollouts?.stop();
    this.power?.stop();
    clearTimeout(this.reloadTimer);
    this.heldRelay?.stop();
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    this.levels?.detach();
    for (const s of this.subsystems.reverse()) {
      try {
        await s.stop();
      } catch (e) {
        this.opts.log.error({ err: e, subsystem: s.name }, 'stop failed');
      }
    }
    for (const extra of this.httpExtra.splice(0)) extra.close(); // their descriptors; the socket stays with `http`
    for (const srv of [this.http, this.https]) {
      if (!srv) continue;
      srv.closeAllConnections();
      await new Promise<void>((r) => srv.close(() => r()));
    }
    this.db?.close();
  }
}
