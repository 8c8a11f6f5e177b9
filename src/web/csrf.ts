// CSRF: a synchronizer token per session. Forms carry it as the hidden field `_csrf`; scripts
// in the page send it as `X-CSRF-Token`. Requests authenticated by a bearer token need none
// (a browser never attaches one on its own). SameSite=Strict on the cookie is the second layer.
//
// Before a session exists (the login and setup forms) a double-submit cookie stands in: GET
// sets a random `fb_precsrf` cookie and embeds the same value in the form; the POST must carry
// both. A cross-site page can make the browser post a form but can neither read that value nor
// (SameSite=Strict) get the cookie sent along, so it cannot log a victim into its own account.
// JSON logins (scripts) are exempt: a cross-site page cannot send application/json without a
// CORS preflight, which fleetboot never answers with permission.
import { randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import { sameSecret } from './auth.js';
import { parseCookies, type Principal } from './sessions.js';

export const CSRF_HEADER = 'x-csrf-token';
export const CSRF_FIELD = '_csrf';
export const PRE_SESSION_COOKIE = 'fb_precsrf';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export function isSafeMethod(method: string): boolean {
  return SAFE.has(method.toUpperCase());
}

const fieldOf = (req: Request): string | undefined => {
  const body = req.body as Record<string, unknown> | undefined;
  return typeof body?.[CSRF_FIELD] === 'string' ? (body[CSRF_FIELD] as string) : undefined;
};

/** True when the request may proceed: safe method, bearer token, or a matching CSRF token. */
export function csrfOk(req: Request, p: Principal): boolean {
  if (isSafeMethod(req.method) || p.kind === 'token') return true;
  const sent = req.get(CSRF_HEADER) ?? fieldOf(req);
  return typeof sent === 'string' && sent.length > 0 && sameSecret(sent, p.session.csrf);
}

/** The pre-session token for a login/setup form: the cookie's value (set here if missing). */
export function preSessionToken(req: Request, res: Response): string {
  const have = parseCookies(req.get('cookie')).get(PRE_SESSION_COOKIE);
  // reused while valid so two open sign-in tabs do not invalidate each other
  const v = have && /^[A-Za-z0-9_-]{32}$/.test(have) ? have : randomBytes(24).toString('base64url');
  res.append('Set-Cookie', `${PRE_SESSION_COOKIE}=${v}; Path=/; HttpOnly; SameSite=Strict; Max-Age=3600${req.secure ? '; Secure' : ''}`);
  return v;
}

/** A login/setup form post carries the same pre-session token as field and cookie. */
export function preSessionOk(req: Request): boolean {
  const cookie = parseCookies(req.get('cookie')).get(PRE_SESSION_COOKIE);
  const sent = fieldOf(req);
  return !!cookie && !!sent && sameSecret(sent, cookie);
}
