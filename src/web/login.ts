// Login, logout and first-admin setup. Login failures are limited per client address
// (webConfig.loginMaxAttempts per loginWindowSeconds, then 429 even for the right password,
// so guessing cannot continue behind a lucky hit); an attempt is counted before its hash runs,
// and hashes run through a bounded gate (hash-gate.ts). A failed attempt's user name is
// recorded only when it names a user: otherwise it may be a password typed into the wrong
// field. JSON clients get JSON error bodies. The HTML forms carry a pre-session CSRF token
// (csrf.ts): no login CSRF.
import express, { type Request, type Response, type Router } from 'express';
import { errorBody } from '../errors.js';
import type { WebContext } from './index.js';
import { render, requireUser } from './render.js';
import { setSessionCookie, clearSessionCookie, parseCookies, SESSION_COOKIE } from './sessions.js';
import { validatePassword, validateUserName } from './auth.js';
import { preSessionOk, preSessionToken } from './csrf.js';
import { HashBusyError } from './hash-gate.js';

const wantsJson = (req: Request) => req.is('application/json') === 'application/json';

/** Only same-site relative paths: never bounce a fresh session to another origin. */
export function safeNext(v: unknown): string {
  return typeof v === 'string' && /^\/(?![/\\])/.test(v) ? v : '/';
}

const STALE_FORM = 'This form expired or did not come from this site. Please try again.';

export function loginRouter(ctx: WebContext): Router {
  const r = express.Router();
  const forms = [express.urlencoded({ extended: false, limit: '16kb' }), express.json({ limit: '16kb' })];
  // login/setup pages: the pre-session token goes where layout.njk and the forms expect `csrf`
  const page = (req: Request, res: Response, view: 'login.njk' | 'setup.njk', vars: Record<string, unknown>, status = 200) =>
    render(req, res, view, { title: view === 'login.njk' ? 'Sign in' : 'Set up', ...vars, csrf: preSessionToken(req, res) }, status);
  const ttlMin = () => Math.round(ctx.config.setupTokenTtlSeconds / 60);
  // a burst of refused attempts is one warn line per address per 10 s, not one per attempt
  const limitedLogged = new Map<string, number>();
  const busyLogged = new Map<string, number>();
  const quiet = (seen: Map<string, number>, key: string): boolean => {
    const at = ctx.now();
    if (at - (seen.get(key) ?? -Infinity) < 10_000) return true;
    if (seen.size >= 10_000) seen.clear(); // a spray from many addresses stays bounded
    seen.set(key, at);
    return false;
  };

  r.get('/login', (req, res) => {
    if (ctx.auth.userCount() === 0) return page(req, res, 'setup.njk', { noUsers: true, token: '', ttlMin: ttlMin() });
    page(req, res, 'login.njk', { next: safeNext(req.query.next) });
  });

  r.post('/login', ...forms, async (req: Request, res: Response) => {
    const ip = req.ip ?? 'unknown';
    const body = (req.body ?? {}) as Record<string, unknown>;
    const name = typeof body.username === 'string' ? body.username.trim() : '';
    const next = safeNext(body.next);
    if (!wantsJson(req) && !preSessionOk(req)) {
      ctx.log.warn({ ip }, 'login form without a valid pre-session CSRF token');
      return page(req, res, 'login.njk', { next, username: name, error: STALE_FORM }, 403);
    }
    // the attempt counts before the slow hash (see LoginLimiter.reserve)
    const slot = ctx.limiter.reserve(ip);
    const who = () => (ctx.auth.user(name) ? name : ctx.unknownUser(name));
    if (slot.wait) {
      ctx.metrics.logins.inc({ result: 'limited' });
      if (quiet(limitedLogged, ip)) ctx.log.debug({ ip, user: who() }, 'login rate limited');
      else ctx.log.warn({ ip, user: who() }, 'login rate limited (further refusals for this address logged at debug for 10 s)');
      res.set('Retry-After', String(slot.wait));
      if (wantsJson(req)) return void res.status(429).json(errorBody('FB_RATE_LIMITED'));
      return page(req, res, 'login.njk', { next, username: name, error: `Too many failed sign-ins from your address. Try again in ${slot.wait} s.` }, 429);
    }
    let user: Awaited<ReturnType<typeof ctx.auth.checkLogin>> = null;
    try {
      if (typeof body.password === 'string' && name) user = await ctx.hashGate.run(() => ctx.auth.checkLogin(name, body.password as string));
    } catch (e) {
      if (!(e instanceof HashBusyError)) throw e;
      // never checked, so not a guess: the attempt is taken back
      slot.release();
      ctx.metrics.logins.inc({ result: 'busy' });
      if (quiet(busyLogged, '')) ctx.log.debug({ ip }, 'login refused: too many password checks in progress');
      else ctx.log.warn({ ip }, 'login refused: too many password checks in progress (further ones logged at debug for 10 s)');
      res.set('Retry-After', '2');
      if (wantsJson(req)) return void res.status(503).json(errorBody('FB_BUSY'));
      return page(req, res, 'login.njk', { next, username: name, error: 'The server is busy. Try again in a few seconds.' }, 503);
    }
    if (!user) {
      ctx.metrics.logins.inc({ result: 'failed' });
      const known = !!name && !!ctx.auth.user(name);
      ctx.auth.audit({ actor: known ? name : ctx.unknownUser(name), action: 'login.failed', target: known ? name : null, ip });
      if (wantsJson(req)) return void res.status(401).json(errorBody('FB_UNAUTHENTICATED', 'wrong user name or password'));
      return page(req, res, 'login.njk', { next, username: name, error: 'Wrong user name or password.' }, 401);
    }
    ctx.limiter.succeed(ip);
    ctx.metrics.logins.inc({ result: 'ok' });
    const s = ctx.sessions.create(user.id, ip);
    setSessionCookie(req, res, s.cookie, ctx.config.sessionTtlSeconds);
    ctx.auth.audit({ actor: user.name, action: 'login', target: user.name, ip });
    ctx.log.info({ user: user.name, ip }, 'admin signed in');
    // scripts that log in with JSON get the CSRF token they must send on writes
    if (wantsJson(req)) return void res.json({ user: user.name, csrfToken: s.row.csrf, expiresAt: s.row.expires_at });
    res.redirect(303, next);
  });

  r.post('/logout', forms[0], requireUser(ctx), (req, res) => {
    const cookie = parseCookies(req.get('cookie')).get(SESSION_COOKIE);
    if (cookie) ctx.sessions.destroy(cookie);
    clearSessionCookie(req, res);
    ctx.auth.audit({ actor: res.locals.principal.user.name, action: 'logout', target: null, ip: req.ip });
    res.redirect(303, '/login');
  });

  // first admin: only while no user exists, and only with the token printed at startup
  r.get('/setup', (req, res) => {
    if (ctx.auth.userCount() > 0) return void res.redirect(303, '/login');
    const token = typeof req.query.token === 'string' ? req.query.token : '';
    page(req, res, 'setup.njk', { token, noUsers: true, ttlMin: ttlMin() });
  });

  r.post('/setup', ...forms, async (req, res) => {
    const body = (req.body ?? {}) as Record<string, string>;
    const ip = req.ip ?? 'unknown';
    if (!wantsJson(req) && !preSessionOk(req)) return page(req, res, 'setup.njk', { token: '', ttlMin: ttlMin(), error: STALE_FORM }, 403);
    // the setup token is a password too: wrong guesses count against the same limit
    const wait = ctx.limiter.blockedFor(ip);
    if (wait) return page(req, res, 'setup.njk', { token: '', ttlMin: ttlMin(), error: `Too many attempts. Try again in ${wait} s.` }, 429);
    const state = ctx.checkSetupToken(String(body.token ?? ''));
    if (state !== 'ok') {
      ctx.limiter.fail(ip);
      if (ctx.auth.userCount() > 0) return void res.redirect(303, '/login');
      if (state === 'expired') ctx.log.warn({ ip }, 'expired setup token used; restart the daemon for a new one or run `fleetboot user add`');
      const error =
        state === 'expired'
          ? `That setup token has expired (they last ${ttlMin()} min). Restart fleetboot to print a new one, or run \`fleetboot user add NAME\` on the server.`
          : 'That setup token is not valid. Use the URL from the daemon log (printed once at startup).';
      return page(req, res, 'setup.njk', { token: '', ttlMin: ttlMin(), error }, 403);
    }
    const name = String(body.username ?? '').trim();
    const bad = validateUserName(name) ?? validatePassword(String(body.password ?? '')) ?? (body.password !== body.password2 ? 'the two passwords differ' : null);
    if (bad) return page(req, res, 'setup.njk', { token: body.token, ttlMin: ttlMin(), username: name, error: bad }, 400);
    ctx.setupDone(); // spent before the slow hash: a second concurrent post cannot reuse it
    await ctx.auth.setUser(name, body.password, 'setup');
    ctx.auth.audit({ actor: name, action: 'user.add', target: name, detail: 'first admin, via the setup token', ip });
    ctx.log.info({ user: name }, 'first admin created via the setup URL; the setup token is spent');
    const user = ctx.auth.user(name)!;
    const s = ctx.sessions.create(user.id, ip);
    setSessionCookie(req, res, s.cookie, ctx.config.sessionTtlSeconds);
    res.redirect(303, '/');
  });
  return r;
}
