// Users, passwords, API tokens and the audit log: the SQLite side of "who may do what".
// Passwords are scrypt-hashed with a per-user salt; API tokens and session ids are random and
// stored as SHA-256 only (they are high-entropy, so a slow hash buys nothing), so a copied
// database file does not let anyone in.
import { randomBytes, scrypt, timingSafeEqual, createHash, type ScryptOptions } from 'node:crypto';
import type { DB } from '../store/db.js';
import { NAME_RE } from '../config/inventory.js';

// N=2^15 costs ~32 MiB and tens of ms per login: slow enough for offline guessing, and the
// login rate limit keeps online guessing from turning it into a CPU drain.
const SCRYPT = { N: 1 << 15, r: 8, p: 1, keylen: 32 };
const MAXMEM = 64 * 1024 * 1024;

export const MIN_PASSWORD = 10;
export const API_TOKEN_PREFIX = 'fb_';

// Always the callback form (libuv thread pool): this process also answers DHCP and TFTP, and a
// synchronous scrypt would stall them for every login attempt.
function kdf(pw: string, salt: Buffer, keylen: number, o: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(pw, salt, keylen, o, (err, key) => (err ? reject(err) : resolve(key))));
}

export async function hashPassword(pw: string): Promise<string> {
  const salt = randomBytes(16);
  const h = await kdf(pw, salt, SCRYPT.keylen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, maxmem: MAXMEM });
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64url'), h.toString('base64url')].join('$');
}

export async function verifyPassword(pw: string, stored: string): Promise<boolean> {
  const [alg, n, r, p, salt, hash] = stored.split('$');
  if (alg !== 'scrypt' || !hash) return false;
  const want = Buffer.from(hash, 'base64url');
  // parameters come from the row so hashes made with older settings keep working
  const got = await kdf(pw, Buffer.from(salt, 'base64url'), want.length, { N: Number(n), r: Number(r), p: Number(p), maxmem: MAXMEM });
  return timingSafeEqual(got, want);
}

export const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** Constant-time string comparison (CSRF tokens, setup token). */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(sha256(a));
  const y = Buffer.from(sha256(b));
  return timingSafeEqual(x, y);
}

export interface UserRow {
  id: number;
  name: string;
  pw_hash: string;
  created_at: number;
  created_by: string | null;
}

export interface TokenRow {
  id: number;
  user_id: number;
  name: string;
  hint: string;
  created_at: number;
  last_used_at: number | null;
}

/** A token with its owner's name, for the admin-wide list. */
export interface TokenListRow extends TokenRow {
  user: string;
}

const TOKEN_COLS = 't.id, t.user_id, t.name, t.hint, t.created_at, t.last_used_at';

export interface AuditRow {
  id: number;
  at: number;
  actor: string;
  action: string;
  target: string | null;
  detail: string | null;
  ip: string | null;
}

export interface AuditQuery {
  limit?: number;
  before?: number;
  actor?: string;
  action?: string;
  target?: string;
}

export function validateUserName(name: string): string | null {
  return NAME_RE.test(name) ? null : 'user names are lower-case letters, digits and dashes (a DNS label)';
}

export function validatePassword(pw: string): string | null {
  return pw.length >= MIN_PASSWORD ? null : `passwords need at least ${MIN_PASSWORD} characters`;
}

export class AuthStore {
  constructor(private readonly db: DB, private readonly now: () => number = Date.now) {}

  userCount(): number {
    return (this.db.prepare('SELECT COUNT(*) n FROM users').get() as { n: number }).n;
  }

  user(name: string): UserRow | undefined {
    return this.db.prepare('SELECT * FROM users WHERE name = ?').get(name) as UserRow | undefined;
  }

  userById(id: number): UserRow | undefined {
    return this.db.prepare('SELECT * FROM users WHERE id = ?').get(id) as UserRow | undefined;
  }

  users(): Omit<UserRow, 'pw_hash'>[] {
    return this.db.prepare('SELECT id, name, created_at, created_by FROM users ORDER BY name').all() as Omit<UserRow, 'pw_hash'>[];
  }

  /**
   * Creates a user, or sets the password of an existing one (`user add` doubles as reset).
   * A reset ends that user's sessions but keeps its API tokens: tokens are separate, named
   * credentials that scripts depend on, revoked one by one or all at once (`user revoke`);
   * callers say how many remain so an operator who suspects a leak revokes them too.
   */
  async setUser(name: string, password: string, by: string): Promise<{ created: boolean; tokensKept: number }> {
    const bad = validateUserName(name) ?? validatePassword(password);
    if (bad) throw new Error(bad);
    const hash = await hashPassword(password);
    const existing = this.user(name);
    if (existing) {
      this.db.transaction(() => {
        this.db.prepare('UPDATE users SET pw_hash = ? WHERE id = ?').run(hash, existing.id);
        this.db.prepare('DELETE FROM sessions WHERE user_id = ?').run(existing.id);
      })();
      return { created: false, tokensKept: this.tokens(existing.id).length };
    }
    this.db.prepare('INSERT INTO users (name, pw_hash, created_at, created_by) VALUES (?, ?, ?, ?)').run(name, hash, this.now(), by);
    return { created: true, tokensKept: 0 };
  }

  /** Removes a user with every session and API token (explicitly, not only by FK cascade). */
  deleteUser(name: string): { sessions: number; tokens: number } | null {
    const u = this.user(name);
    if (!u) return null;
    return this.db.transaction(() => {
      const sessions = this.db.prepare('DELETE FROM sessions WHERE user_id = ?').run(u.id).changes;
      const tokens = this.db.prepare('DELETE FROM api_tokens WHERE user_id = ?').run(u.id).changes;
      this.db.prepare('DELETE FROM users WHERE id = ?').run(u.id);
      return { sessions, tokens };
    })();
  }

  /** Checks a login; runs scrypt even for unknown names so timing does not reveal users. */
  async checkLogin(name: string, password: string): Promise<UserRow | null> {
    const u = this.user(name);
    const ok = await verifyPassword(password, u?.pw_hash ?? (await dummyHash()));
    // re-read: the user may have been deleted while the hash ran
    return u && ok ? (this.userById(u.id) ?? null) : null;
  }

  createToken(userId: number, name: string): { token: string; row: TokenRow } {
    const token = API_TOKEN_PREFIX + randomBytes(24).toString('base64url');
    const info = this.db
      .prepare('INSERT INTO api_tokens (user_id, name, token_hash, hint, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(userId, name, sha256(token), token.slice(0, 7), this.now());
    return { token, row: this.db.prepare('SELECT id, user_id, name, hint, created_at, last_used_at FROM api_tokens WHERE id = ?').get(Number(info.lastInsertRowid)) as TokenRow };
  }

  /** The user behind a bearer token (and marks it used). */
  tokenUser(token: string): { user: UserRow; token: TokenRow } | null {
    if (!token.startsWith(API_TOKEN_PREFIX)) return null;
    const t = this.db.prepare('SELECT id, user_id, name, hint, created_at, last_used_at FROM api_tokens WHERE token_hash = ?').get(sha256(token)) as TokenRow | undefined;
    if (!t) return null;
    const user = this.userById(t.user_id);
    if (!user) return null;
    this.db.prepare('UPDATE api_tokens SET last_used_at = ? WHERE id = ?').run(this.now(), t.id);
    return { user, token: t };
  }

  tokens(userId: number): TokenRow[] {
    return this.db.prepare('SELECT id, user_id, name, hint, created_at, last_used_at FROM api_tokens WHERE user_id = ? ORDER BY id').all(userId) as TokenRow[];
  }

  /** Every user's tokens: all admins may see and revoke them (there is one admin role). */
  allTokens(): TokenListRow[] {
    return this.db.prepare(`SELECT ${TOKEN_COLS}, u.name AS user FROM api_tokens t JOIN users u ON u.id = t.user_id ORDER BY u.name, t.id`).all() as TokenListRow[];
  }

  /** Revokes one token of any user; returns what was revoked (for the audit row). */
  revokeToken(id: number): TokenListRow | null {
    const row = this.db.prepare(`SELECT ${TOKEN_COLS}, u.name AS user FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ?`).get(id) as TokenListRow | undefined;
    if (!row) return null;
    this.db.prepare('DELETE FROM api_tokens WHERE id = ?').run(id);
    return row;
  }

  revokeAllTokens(userId: number): number {
    return this.db.prepare('DELETE FROM api_tokens WHERE user_id = ?').run(userId).changes;
  }

  /** Still there and its user too (for long-lived streams opened with a token). */
  tokenAlive(id: number): boolean {
    return !!this.db.prepare('SELECT 1 FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ?').get(id);
  }

  audit(e: { actor: string; action: string; target?: string | null; detail?: string | null; ip?: string | null }): void {
    this.db
      .prepare('INSERT INTO audit_log (at, actor, action, target, detail, ip) VALUES (?, ?, ?, ?, ?, ?)')
      .run(this.now(), e.actor, e.action, e.target ?? null, e.detail ?? null, e.ip ?? null);
  }

  /** Newest first; `before` is an id for paging. */
  auditLog(q: AuditQuery = {}): AuditRow[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.before) (where.push('id < ?'), args.push(q.before));
    if (q.actor) (where.push('actor = ?'), args.push(q.actor));
    if (q.action) (where.push('action LIKE ?'), args.push(`${q.action}%`));
    if (q.target) (where.push('target = ?'), args.push(q.target));
    const limit = Math.min(Math.max(q.limit ?? 100, 1), 1000);
    return this.db.prepare(`SELECT * FROM audit_log ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ?`).all(...args, limit) as AuditRow[];
  }
}

let dummy: Promise<string> | undefined;
const dummyHash = () => (dummy ??= hashPassword(randomBytes(12).toString('hex')));

/**
 * Failed logins per client address within a sliding window. In memory on purpose: it only
 * has to slow down guessing against this process, and a restart is not a bypass worth a table.
 */
export class LoginLimiter {
  private readonly fails = new Map<string, number[]>();
  constructor(private readonly max: () => number, private readonly windowMs: () => number, private readonly now: () => number) {}

  private recent(ip: string): number[] {
    const cutoff = this.now() - this.windowMs();
    const list = (this.fails.get(ip) ?? []).filter((t) => t > cutoff);
    if (list.length) this.fails.set(ip, list);
    else this.fails.delete(ip);
    return list;
  }

  /** Seconds until the next attempt is allowed; 0 when not limited. */
  blockedFor(ip: string): number {
    const list = this.recent(ip);
    if (list.length < this.max()) return 0;
    return Math.max(1, Math.ceil((list[0] + this.windowMs() - this.now()) / 1000));
  }

  /**
   * Counts an attempt BEFORE the caller runs the slow password check. Checking the limit and
   * recording the attempt happen in one synchronous step, so parallel requests cannot all pass
   * the check before any of them is recorded (issue 13: 200 parallel logins, the right
   * password sent 151st got in). The attempt counts as a failure from now on; the caller
   * settles it: `succeed(ip)` when the password was right, `release()` when the check never
   * ran (server busy), nothing when it was wrong.
   */
  reserve(ip: string): { wait: number; release(): void } {
    const wait = this.blockedFor(ip);
    if (wait) return { wait, release: () => {} };
    const at = this.now();
    this.fail(ip, at);
    return {
      wait: 0,
      release: () => {
        const list = this.fails.get(ip);
        const i = list?.indexOf(at) ?? -1;
        if (list && i >= 0) list.splice(i, 1);
      },
    };
  }

  fail(ip: string, at = this.now()): void {
    // a spray from many addresses must not grow the map without bound: drop stale entries
    if (this.fails.size > 10_000) for (const k of [...this.fails.keys()]) this.recent(k);
    this.fails.set(ip, [...this.recent(ip), at]);
  }

  succeed(ip: string): void {
    this.fails.delete(ip);
  }
}
