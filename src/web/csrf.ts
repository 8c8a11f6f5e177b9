// CSRF: a synchronizer token per session. Forms carry it as the hidden field `_csrf`; scripts
// in the page send it as `X-CSRF-Token`. Requests authenticated by a bearer token need none
// (a browser never attaches one on its own). SameSite=Strict on the cookie is the second layer.
import type { Request } from 'express';
import { sameSecret } from './auth.js';
import type { Principal } from './sessions.js';

export const CSRF_HEADER = 'x-csrf-token';
export const CSRF_FIELD = '_csrf';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export function isSafeMethod(method: string): boolean {
  return SAFE.has(method.toUpperCase());
}

/** True when the request may proceed: safe method, bearer token, or a matching CSRF token. */
export function csrfOk(req: Request, p: Principal): boolean {
  if (isSafeMethod(req.method) || p.kind === 'token') return true;
  const body = req.body as Record<string, unknown> | undefined;
  const sent = req.get(CSRF_HEADER) ?? (typeof body?.[CSRF_FIELD] === 'string' ? (body[CSRF_FIELD] as string) : undefined);
  return typeof sent === 'string' && sent.length > 0 && sameSecret(sent, p.session.csrf);
}
