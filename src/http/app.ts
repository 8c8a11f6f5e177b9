// The HTTP edge: thin routes over the core services. Boot-facing routes (boot.ipxe, assets,
// token URLs, the package cache) are unauthenticated; the admin API and UI sit behind the
// admin layer (src/web), which is required: there is no way to build an app with an open API.
import express, { type Express, type RequestHandler, type Router } from 'express';
import type { Registry } from 'prom-client';
import { logPath, type Logger } from '../log.js';
import type { ConfigHolder } from '../config/holder.js';
import type { BootService } from '../boot/service.js';
import type { InstallService } from '../install/service.js';
import type { RunStore } from '../store/runs.js';
import type { TemplateRenderer } from '../install/render.js';
import { httpMeter } from './http-meter.js';
import { bootRouter } from './boot.js';
import { assetsHandler } from './assets.js';
import { installRouter } from './install.js';
import { planRouter } from './plan.js';
import { apiRouter, apiErrorHandler, type ApiDeps } from './api.js';
import { imageFilesHandler, imagesApi } from './images.js';
import { httpErrorHandler } from './error-handler.js';

export interface AppDeps {
  holder: ConfigHolder;
  store: RunStore;
  boot: BootService;
  installs: InstallService;
  renderer: () => TemplateRenderer;
  registry: Registry;
  log: Logger;
  /** package cache router, mounted at /mirror */
  mirror?: Router;
  cacheStats?: ApiDeps['cacheStats'];
  cacheApi?: ApiDeps['cacheApi'];
  power?: ApiDeps['power'];
  rollouts?: ApiDeps['rollouts'];
  /** the admin layer (src/web createWeb): guards /api/v1 and serves the UI */
  web: AdminLayer;
  health?: () => Record<string, unknown>;
  /** role image builds (src/image/service.ts): /images/<role>/<file> and /api/v1/images */
  images?: import('../image/service.js').ImageService;
}

export interface AdminLayer {
  /** UI + login pages, mounted last */
  router: Router;
  /** authenticates /api/v1 (session or API token) and sets the API context */
  apiGuard: RequestHandler;
  /** first middleware (HSTS on HTTPS responses) */
  edge: RequestHandler;
  /** in front of the admin side: HTTPS-only when web.https is on */
  adminOnly: RequestHandler;
  /** the one-time first-admin setup token while no admin exists (the start-up banner prints it) */
  setupToken?(): string | undefined;
  adminUrl?(): string;
}

export function createApp(d: AppDeps): Express {
  const app = express();
  const log = d.log.child({ subsystem: 'http' });
  const meter = httpMeter(d.registry);
  app.set('trust proxy', d.holder.config.http.trustProxy);
  app.disable('x-powered-by');
  app.set('etag', false);

  app.use((req, res, next) => {
    const t0 = performance.now();
    res.on('finish', () => {
      // label by route pattern, never by raw path (tokens, MACs and file names are unbounded)
      const route = req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : req.baseUrl || 'unmatched';
      meter.record(route, req.method, res.statusCode, (performance.now() - t0) / 1000);
      log.debug({ ip: req.ip, method: req.method, url: logPath(req.path), status: res.statusCode }, 'request');
    });
    next();
  });
  app.use(d.web.edge);

  app.get('/healthz', (_req, res) => {
    const body = { ok: true, hosts: d.holder.config.hosts.length, ...(d.health?.() ?? {}) };
    // not ok (e.g. the state database cannot take writes): 503, so load balancers and probes see it
    res.status(body.ok ? 200 : 503).json(body);
  });
  app.get('/metrics', async (_req, res) => {
    res.type(d.registry.contentType).send(await d.registry.metrics());
  });
  app.use(bootRouter(d.boot));
  const assets = assetsHandler(() => d.holder.config.paths.assets, log);
  app.get('/assets/*path', assets);
  app.head('/assets/*path', assets);
  const imageFiles = imageFilesHandler(() => d.holder.config.paths.images, log);
  app.get('/images/*path', imageFiles);
  app.head('/images/*path', imageFiles);
  app.use(installRouter({ installs: d.installs, holder: d.holder, renderer: d.renderer, log }));
  app.use(planRouter({ installs: d.installs, holder: d.holder, log }));
  if (d.mirror) app.use('/mirror', d.mirror);

  const api = apiRouter({ holder: d.holder, store: d.store, installs: d.installs, cacheStats: d.cacheStats, cacheApi: d.cacheApi, imagesApi: d.images && imagesApi(d.images), power: d.power, rollouts: d.rollouts });
  app.use('/api/v1', d.web.adminOnly, d.web.apiGuard, api);
  app.use('/api/v1', apiErrorHandler(log));
  app.use(d.web.adminOnly, d.web.router);
  app.use((_req, res) => {
    res.status(404).type('text/plain').send('not found\n');
  });
  app.use(httpErrorHandler(log));
  return app;
}
