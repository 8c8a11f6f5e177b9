// The admin side of fleetboot: login, sessions, API tokens, CSRF, the audit log, the web UI
// and its live updates, and optional HTTPS. The app mounts `apiGuard` in front of /api/v1 and
// `router` after everything else; `actor(req)` names the caller for InstallService.mark/cancel.
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import express, { type Request, type RequestHandler, type Router } from 'express';
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
import { SessionStore, identify, actorName, type Principal } from './sessions.js';
import { csrfOk } from './csrf.js';
import { SseHub } from './sse.js';
import { ensureTls, type TlsMaterial } from './tls.js';
import { uiRouter } from './routes.js';
import { loginRouter } from './login.js';

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
  /** injected for tests (session expiry, rate-limit windows); the daemon's clock otherwise */
  clock?: Clock;
  /** PRAGMA data_version poll interval (ms) */
  pollMs?: number;
}

export interface Web {
  router: Router;
  apiGuard: RequestHandler;
  actor: (req: Request) => string;
  tls?: () => Promise<TlsMaterial>;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** for tests and the CLI: the current one-time setup token, if no admin exists yet */
  setupToken(): string | undefined;
}

/** Shared by the UI and login routers. */
export interface WebContext extends WebDeps {
  auth: AuthStore;
  sessions: SessionStore;
  limiter: LoginLimiter;
  hub: SseHub;
  now: () => number;
  principal(req: Request): Principal | undefined;
  remember(req: Request, p: Principal): void;
  checkSetupToken(t: string): boolean;
  setupDone(): void;
  metrics: { logins: client.Counter<'result'> };
}

export function createWeb(deps: WebDeps): Web {
  const { config, log: rootLog } = deps;
  const log = rootLog.child({ subsystem: 'web' });
  const clock = deps.clock ?? systemClock;
  const now = () => clock.now();
  const auth = new AuthStore(deps.db, now);
  const sessions = new SessionStore(deps.db, now, () => config.sessionTtlSeconds * 1000);
  const limiter = new LoginLimiter(() => config.loginMaxAttempts, () => config.loginWindowSeconds * 1000, now);
  const hub = new SseHub({ db: deps.db, store: deps.store, holder: deps.holder, installs: deps.installs, log, pollMs: deps.pollMs });
  // the principal of each in-flight request; a WeakMap so nothing outlives the request
  const principals = new WeakMap<Request, Principal>();
  let setupToken: string | undefined;

  new client.Gauge({ name: 'fleetboot_web_sse_clients', help: 'Open live-update streams', registers: [deps.registry], collect() { this.set(hub.size); } });
  const logins = new client.Counter({ name: 'fleetboot_web_logins_total', help: 'Login attempts by result', labelNames: ['result'], registers: [deps.registry] });

  const ctx: WebContext = {
    ...deps,
    log,
    auth,
    sessions,
    limiter,
    hub,
    now,
    principal: (req) => principals.get(req),
    remember: (req, p) => principals.set(req, p),
    // stops working as soon as any admin exists (also one created by the CLI meanwhile)
    checkSetupToken: (t) => setupToken !== undefined && auth.userCount() === 0 && sameSecret(t, setupToken),
    setupDone: () => (setupToken = undefined),
    metrics: { logins },
  };

  const apiGuard: RequestHandler = (req, res, next) => {
    const p = identify(req, auth, sessions);
    if (p === 'bad-token' || !p) {
      res.status(401).set('WWW-Authenticate', 'Bearer realm="fleetboot"').json(errorBody('FB_UNAUTHENTICATED', p === 'bad-token' ? 'invalid API token' : undefined));
      return;
    }
    if (!csrfOk(req, p)) {
      res.status(403).json(errorBody('FB_CSRF'));
      return;
    }
    principals.set(req, p);
    const apiCtx: ApiContext = {
      audit: (action, target, detail) => auth.audit({ actor: actorName(p), action, target, detail, ip: req.ip }),
      auditLog: (q) => auth.auditLog(q),
    };
    res.locals[API_CONTEXT] = apiCtx;
    next();
  };

  const router = express.Router();
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

  const web: Web = {
    router,
    apiGuard,
    actor: (req) => actorName(principals.get(req)),
    setupToken: () => setupToken,
    async start() {
      if (auth.userCount() === 0) {
        setupToken = randomBytes(18).toString('base64url');
        // the one place a secret is logged, on purpose: it is single-use and dies with the
        // first admin; the field is `url` because `token` fields are redacted by the logger
        log.warn({ url: `${deps.holder.publicUrl}/setup?token=${setupToken}` }, 'no admin user exists yet: open this URL once to create the first one (or run `fleetboot user add NAME`)');
      }
      hub.start();
    },
    async stop() {
      hub.stop();
    },
  };
  if (config.https.enabled) {
    web.tls = async () => {
      const c = deps.holder.config;
      const names = [...config.https.hostnames, c.server.address, 'localhost', '127.0.0.1'];
      const m = ensureTls(resolve(deps.holder.current.baseDir, config.https.dir), names);
      if (m.created) log.info({ dir: config.https.dir }, 'generated the admin UI certificate; import ca.pem into browsers to trust it');
      return { key: m.key, cert: m.cert, ca: m.ca };
    };
  }
  return web;
}
