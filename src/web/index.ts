// The admin side of fleetboot: login, sessions, API tokens, CSRF, the audit log, the web UI
// and its live updates, and optional HTTPS. The app mounts `apiGuard` in front of /api/v1 and
// `router` after everything else. It always exists: with web.enabled false the browser UI and
// login pages are gone, but /api/v1 still needs credentials (API tokens then).
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import express, { type RequestHandler, type Router } from 'express';
import client from 'prom-client';
import type { Logger } from '../log.js';
import type { ConfigHolder } from '../config/holder.js';
import type { RunStore } from '../store/runs.js';
import type { InstallService, Clock } from '../install/service.js';
import { systemClock } from '../install/service.js';
import type { DB } from '../store/db.js';
import type { Registry } from '../metrics.js';
import { errorBody } from '../errors.js';
import { API_CONTEXT, type ApiContext } from '../http/api.js';
import type { WebConfig } from './config.js';
import { AuthStore, LoginLimiter, sameSecret } from './auth.js';
import { SessionStore, identify, actorName } from './sessions.js';
import { csrfOk } from './csrf.js';
import { SseHub } from './sse.js';
import { ensureTls, type TlsMaterial } from './tls.js';
import { uiRouter } from './routes.js';
import { rolloutUiRouter } from './rollouts.js';
import { imagesUiRouter } from './images.js';
import { loginRouter } from './login.js';
import { Flash } from './flash.js';
import { auditAs } from './reinstall.js';

export type { WebConfig } from './config.js';

export interface WebDeps {
  config: WebConfig;
  holder: ConfigHolder;
  store: RunStore;
  installs: InstallService;
  db: DB;
  log: Logger;
  registry: Registry;
  cacheStats?: () => unknown;
  /** power buttons and state on the host pages (web/power-routes.ts) */
  power?: import('../power/service.js').PowerService;
  /** role images (the Images page) */
  images?: import('../image/service.js').ImageService;
  /** injected for tests (session expiry, rate-limit windows); the daemon's clock otherwise */
  clock?: Clock;
  /** PRAGMA data_version poll interval (ms) */
  pollMs?: number;
  /** SSE keep-alive interval (ms); streams are re-validated on each */
  heartbeatMs?: number;
}

export interface Web {
  /** the UI and login pages (or, with web.enabled false, only a note at /) */
  router: Router;
  /** in front of /api/v1: a session (UI on) or an API token, CSRF for cookie writes */
  apiGuard: RequestHandler;
  /** first in the app: HSTS on HTTPS responses */
  edge: RequestHandler;
  /** in front of the admin side (API + UI): with web.https on, plain HTTP is refused/redirected */
  adminOnly: RequestHandler;
  tls?: () => Promise<TlsMaterial>;
  /** after the listeners are up (the setup link and redirects carry the real HTTPS port) */
  start(l?: { httpsPort?: number }): Promise<void>;
  stop(): Promise<void>;
  /** for tests and the CLI: the current one-time setup token, if no admin exists yet */
  setupToken(): string | undefined;
  /** where people open the admin UI: https://... when web.https is on */
  adminUrl(): string;
}

/** Shared by the UI and login routers. */
export interface WebContext extends WebDeps {
  auth: AuthStore;
  sessions: SessionStore;
  limiter: LoginLimiter;
  hub: SseHub;
  flash: Flash;
  now: () => number;
  checkSetupToken(t: string): 'ok' | 'expired' | 'invalid';
  setupDone(): void;
  metrics: { logins: client.Counter<'result'> };
}

// boot-facing paths never move to HTTPS: firmware, iPXE and d-i cannot verify our CA
const BOOT_PATHS = /^\/(boot\.ipxe|healthz|metrics)$|^\/(assets|i|mirror|images)\//;

export function createWeb(deps: WebDeps): Web {
  const { config, log: rootLog } = deps;
  const log = rootLog.child({ subsystem: 'web' });
  const clock = deps.clock ?? systemClock;
  const now = () => clock.now();
  const auth = new AuthStore(deps.db, now);
  const sessions = new SessionStore(deps.db, now, () => config.sessionTtlSeconds * 1000);
  const limiter = new LoginLimiter(() => config.loginMaxAttempts, () => config.loginWindowSeconds * 1000, now);
  const hub = new SseHub({ db: deps.db, store: deps.store, holder: deps.holder, installs: deps.installs, log, pollMs: deps.pollMs, heartbeatMs: deps.heartbeatMs });
  const flash = new Flash(now);
  const ui = config.enabled;
  let setup: { token: string; expiresAt: number } | undefined;
  let httpsPort: number | undefined;

  new client.Gauge({ name: 'fleetboot_web_sse_clients', help: 'Open live-update streams', registers: [deps.registry], collect() { this.set(hub.size); } });
  const logins = new client.Counter({ name: 'fleetboot_web_logins_total', help: 'Login attempts by result', labelNames: ['result'], registers: [deps.registry] });

  const ctx: WebContext = {
    ...deps,
    log,
    auth,
    sessions,
    limiter,
    hub,
    flash,
    now,
    // stops working as soon as any admin exists (also one created by the CLI meanwhile)
    checkSetupToken: (t) => {
      if (!setup || auth.userCount() > 0 || !sameSecret(t, setup.token)) return 'invalid';
      return now() < setup.expiresAt ? 'ok' : 'expired';
    },
    setupDone: () => (setup = undefined),
    metrics: { logins },
  };

  // the names the generated certificate covers; redirects only ever point at one of them
  const certNames = () => [...new Set([...config.https.hostnames, deps.holder.config.server.address, 'localhost', '127.0.0.1'])];
  const httpsBase = (host: string) => `https://${host.includes(':') ? `[${host}]` : host}:${httpsPort ?? config.https.port}`;
  const adminUrl = () => (config.https.enabled ? httpsBase(certNames()[0]) : deps.holder.publicUrl);

  const apiGuard: RequestHandler = (req, res, next) => {
    const p = identify(req, auth, sessions, { sessions: ui });
    if (p === 'bad-token' || !p) {
      const msg = p === 'bad-token' ? 'invalid API token' : ui ? undefined : 'authentication required: send "Authorization: Bearer <token>" (create one with `fleetboot user token NAME`)';
      res.status(401).set('WWW-Authenticate', 'Bearer realm="fleetboot"').json(errorBody('FB_UNAUTHENTICATED', msg));
      return;
    }
    if (!csrfOk(req, p)) {
      res.status(403).json(errorBody('FB_CSRF'));
      return;
    }
    const actor = actorName(p);
    const apiCtx: ApiContext = {
      actor,
      audit: auditAs(auth, actor, req.ip),
      auditLog: (q) => auth.auditLog(q),
    };
    res.locals[API_CONTEXT] = apiCtx;
    next();
  };

  const hsts = config.https.hstsSeconds > 0 ? `max-age=${config.https.hstsSeconds}` : undefined;
  const edge: RequestHandler = (req, res, next) => {
    if (hsts && req.secure) res.set('Strict-Transport-Security', hsts);
    next();
  };

  const adminOnly: RequestHandler = (req, res, next) => {
    if (!config.https.enabled || req.secure || BOOT_PATHS.test(req.path)) return next();
    const name = certNames().includes(req.hostname) ? req.hostname : certNames()[0];
    const target = `${httpsBase(name)}${req.originalUrl}`;
    // the API is refused rather than redirected: a script that got here has already sent its
    // token in clear text, and following a redirect would keep doing so unnoticed
    if (req.originalUrl.startsWith('/api/')) {
      res.status(403).json(errorBody('FB_HTTPS_REQUIRED', `use ${target}`, { url: target }));
      return;
    }
    res.redirect(308, target);
  };

  const router = express.Router();
  if (ui) {
    router.use((_req, res, next) => {
      // the UI needs nothing from elsewhere: a strict policy turns any injected markup inert
      res.set({
        'Content-Security-Policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        'X-Content-Type-Options': 'nosniff',
        'X-Frame-Options': 'DENY',
        'Referrer-Policy': 'same-origin',
      });
      next();
    });
    router.use(loginRouter(ctx));
    router.use(uiRouter(ctx));
    router.use(rolloutUiRouter(ctx));
    if (deps.images) router.use(imagesUiRouter(ctx, deps.images));
  } else {
    router.get('/', (_req, res) => {
      res.type('text/plain').send('fleetboot: the admin UI is off (web.enabled: false); the JSON API at /api/v1 takes API tokens (fleetboot user token NAME)\n');
    });
  }

  const web: Web = {
    router,
    apiGuard,
    edge,
    adminOnly,
    adminUrl,
    setupToken: () => setup?.token,
    async start(l = {}) {
      httpsPort = l.httpsPort;
      if (ui && auth.userCount() === 0) {
        setup = { token: randomBytes(18).toString('base64url'), expiresAt: now() + config.setupTokenTtlSeconds * 1000 };
        // the one place a secret is logged, on purpose: it is single-use, short-lived and dies
        // with the first admin; the field is `url` because `token` fields are redacted
        log.warn(
          { url: `${adminUrl()}/setup?token=${setup.token}`, expiresAt: new Date(setup.expiresAt).toISOString() },
          `no admin user exists yet: open this URL within ${Math.round(config.setupTokenTtlSeconds / 60)} min to create the first one (or run \`fleetboot user add NAME\`)`,
        );
      }
      // UI off: no setup page, so point at the way in that does exist
      if (!ui && auth.userCount() === 0) log.info('the admin UI is off and no admin exists: /api/v1 needs an API token (fleetboot user add NAME, then fleetboot user token NAME)');
      if (ui) hub.start();
    },
    async stop() {
      if (ui) hub.stop();
    },
  };
  if (config.https.enabled) {
    web.tls = async () => {
      const m = ensureTls(resolve(deps.holder.current.baseDir, config.https.dir), certNames(), new Date(now()));
      if (m.created) log.info({ dir: config.https.dir, notAfter: m.notAfter, why: m.renewed ?? 'none on disk' }, 'generated the admin UI certificate (import ca.pem into browsers once to trust it)');
      return { key: m.key, cert: m.cert, ca: m.ca };
    };
  }
  return web;
}
