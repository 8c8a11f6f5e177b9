// Login sessions: a random cookie value (only its SHA-256 is stored), a per-session CSRF
// token, a fixed expiry (webConfig.sessionTtlSeconds from login; no sliding renewal, so a
// stolen cookie has a bounded life). Also resolves who a request is: session or API token.
import { randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import type { DB } from '../store/db.js';
import { sha256, type AuthStore, type UserRow } from './auth.js';

export const SESSION_COOKIE = 'fb_session';

export interface SessionRow {
  id_hash: string;
  user_id: number;
  csrf: string;
  created_at: number;
  expires_at: number;
  ip: string | null;
}

/** Who is making a request. */
export type Principal =
  | { kind: 'session'; user: UserRow; session: SessionRow }
  | { kind: 'token'; user: UserRow; tokenName: string; tokenId: number };

export class SessionStore {
  constructor(private readonly db: DB, private readonly now: () => number, private readonly ttlMs: () => number) {}

  create(userId: number, ip?: string): { cookie: string; row: SessionRow } {
    const cookie = randomBytes(32).toString('base64url');
    const now = this.now();
    const row: SessionRow = { id_hash: sha256(cookie), user_id: userId, csrf: randomBytes(24).toString('base64url'), created_at: now, expires_at: now + this.ttlMs(), ip: ip ?? null };
    this.db.prepare('INSERT INTO sessions (id_hash, user_id, csrf, created_at, expires_at, ip) VALUES (@id_hash, @user_id, @csrf, @created_at, @expires_at, @ip)').run(row);
    // expired rows are useless; sweeping on login keeps the table small without a timer
    this.db.prepare('DELETE FROM sessions WHERE expires_at <= ?').run(now);
    return { cookie, row };
  }

  lookup(cookie: string): SessionRow | undefined {
    const row = this.db.prepare('SELECT * FROM sessions WHERE id_hash = ?').get(sha256(cookie)) as SessionRow | undefined;
    if (!row) return undefined;
    if (row.expires_at <= this.now()) {
      this.db.prepare('DELETE FROM sessions WHERE id_hash = ?').run(row.id_hash);
      return undefined;
    }
    return row;
  }

  /** Still there and unexpired (for long-lived streams that hold no cookie value). */
  lookupById(idHash: string): boolean {
    const row = this.db.prepare('SELECT expires_at FROM sessions WHERE id_hash = ?').get(idHash) as { expires_at: number } | undefined;
    return !!row && row.expires_at > this.now();
  }

  destroy(cookie: string): void {
    this.db.prepare('DELETE FROM sessions WHERE id_hash = ?').run(sha256(cookie));
  }
}

export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i < 1) continue;
    const k = part.slice(0, i).trim();
    try {
      out.set(k, decodeURIComponent(part.slice(i + 1).trim()));
    } catch {
      /* a malformed cookie is ignored, not an error page */
    }
  }
  return out;
}

export function setSessionCookie(req: Request, res: Response, value: string, maxAgeS: number): void {
  const attrs = [`${SESSION_COOKIE}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Strict', `Max-Age=${maxAgeS}`];
  // req.secure is true on the HTTPS listener (or behind a trusted TLS proxy)
  if (req.secure) attrs.push('Secure');
  res.append('Set-Cookie', attrs.join('; '));
}

export function clearSessionCookie(req: Request, res: Response): void {
  res.append('Set-Cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${req.secure ? '; Secure' : ''}`);
}

/**
 * Resolves the caller: `Authorization: Bearer fb_...` first, then the session cookie (only when
 * the UI is on: with web.enabled false nobody can log in, so no cookie may count either).
 */
export function identify(req: Request, auth: AuthStore, sessions: SessionStore, o: { sessions?: boolean } = {}): Principal | null | 'bad-token' {
  const h = req.get('authorization');
  if (h) {
    const m = /^Bearer\s+(\S+)$/i.exec(h);
    const found = m ? auth.tokenUser(m[1]) : null;
    // a wrong token is an error even if a cookie is present: scripts must notice
    if (!found) return 'bad-token';
    return { kind: 'token', user: found.user, tokenName: found.token.name, tokenId: found.token.id };
  }
  if (o.sessions === false) return null;
  const cookie = parseCookies(req.get('cookie')).get(SESSION_COOKIE);
  if (!cookie) return null;
  const session = sessions.lookup(cookie);
  if (!session) return null;
  const user = auth.userById(session.user_id);
  return user ? { kind: 'session', user, session } : null;
}

/** The `by` string recorded on install runs and in the audit log. */
export function actorName(p: Principal | null | undefined): string {
  if (!p) return 'anonymous';
  return p.kind === 'session' ? p.user.name : `${p.user.name} (token ${p.tokenName})`;
}
