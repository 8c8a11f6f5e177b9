// SQLite access for install runs, events, reinstall marks and discovered MACs. Narrow on
// purpose: services above it hold the rules; this file only reads and writes rows.
import type { DB } from './db.js';
import type { Statement as SqlStatement } from 'better-sqlite3';
import { Statements } from './statements.js';
// rows are typed at each call site (as with db.prepare before)
type Statement = SqlStatement<any[]>;
import type { InstallState } from '../boot/types.js';

export interface RunRow {
  id: number;
  host: string;
  role: string;
  token: string;
  state: InstallState;
  stage: string | null;
  message: string | null;
  marked_by: string | null;
  created_at: number;
  updated_at: number;
  last_event_at: number | null;
  booted_at: number | null;
  finished_at: number | null;
  token_expires_at: number;
}

export interface EventRow {
  id: number;
  run_id: number | null;
  host: string;
  at: number;
  kind: string;
  stage: string | null;
  message: string | null;
  source: string | null;
}

export interface DiscoveredRow {
  mac: string;
  first_seen: number;
  last_seen: number;
  seen_count: number;
  ip: string | null;
  arch: string | null;
  client: string | null;
  via: string | null;
}

export interface NewEvent {
  runId?: number | null;
  host: string;
  at: number;
  kind: string;
  stage?: string | null;
  message?: string | null;
  source?: string | null;
}

export class RunStore {
  constructor(private readonly db: DB) {
    this.stmts = new Statements(db);
  }

  createRun(r: { host: string; role: string; token: string; now: number; expiresAt: number; markedBy?: string }): RunRow {
    const info = this
      .prep(`INSERT INTO install_runs (host, role, token, state, marked_by, created_at, updated_at, token_expires_at)
                VALUES (?, ?, ?, 'marked', ?, ?, ?, ?)`)
      .run(r.host, r.role, r.token, r.markedBy ?? null, r.now, r.now, r.expiresAt);
    return this.run(Number(info.lastInsertRowid))!;
  }

  run(id: number): RunRow | undefined {
    return this.prep('SELECT * FROM install_runs WHERE id = ?').get(id) as RunRow | undefined;
  }

  /** The client address of a run's first boot (its first boot event), if it has booted. */
  firstBootSource(runId: number): string | undefined {
    const r = this.prep("SELECT source FROM events WHERE run_id = ? AND kind = 'boot' ORDER BY id LIMIT 1").get(runId) as { source: string | null } | undefined;
    return r?.source ?? undefined;
  }

  runByToken(token: string): RunRow | undefined {
    return this.prep('SELECT * FROM install_runs WHERE token = ?').get(token) as RunRow | undefined;
  }

  /** The host's newest run that is not finished (at most one exists: enforced by InstallService). */
  openRun(host: string): RunRow | undefined {
    return this
      .prep(`SELECT * FROM install_runs WHERE host = ? AND state NOT IN ('done','failed','cancelled') ORDER BY id DESC LIMIT 1`)
      .get(host) as RunRow | undefined;
  }

  latestRun(host: string): RunRow | undefined {
    return this.prep('SELECT * FROM install_runs WHERE host = ? ORDER BY id DESC LIMIT 1').get(host) as RunRow | undefined;
  }

  openRuns(): RunRow[] {
    return this.prep(`SELECT * FROM install_runs WHERE state NOT IN ('done','failed','cancelled') ORDER BY id`).all() as RunRow[];
  }

  runs(host: string, limit = 50): RunRow[] {
    return this.prep('SELECT * FROM install_runs WHERE host = ? ORDER BY id DESC LIMIT ?').all(host, limit) as RunRow[];
  }

  /** Latest run of every host, one query for the hosts table. */
  latestRuns(): Map<string, RunRow> {
    const rows = this
      .prep('SELECT r.* FROM install_runs r JOIN (SELECT host, MAX(id) id FROM install_runs GROUP BY host) m ON m.id = r.id')
      .all() as RunRow[];
    return new Map(rows.map((r) => [r.host, r]));
  }

  /**
   * Per host, the newest run's last state change: when it entered its state (time in state)
   * and the reason given (a failed run's "why"). Walks each run's events backwards by index.
   */
  latestStateEvents(): Map<string, { at: number; message: string | null }> {
    const rows = this
      .prep(`SELECT r.host, e.at, e.message FROM (SELECT host, MAX(id) id FROM install_runs GROUP BY host) r
                JOIN events e ON e.id = (SELECT id FROM events WHERE run_id = r.id AND kind = 'state' ORDER BY id DESC LIMIT 1)`)
      .all() as { host: string; at: number; message: string | null }[];
    return new Map(rows.map((r) => [r.host, { at: r.at, message: r.message }]));
  }

  /** Duration of the newest finished (done) run per host, ms. */
  lastDurations(): Map<string, number> {
    const rows = this
      .prep(`SELECT r.host, r.finished_at - COALESCE(r.booted_at, r.created_at) AS ms FROM install_runs r
                JOIN (SELECT host, MAX(id) id FROM install_runs WHERE state = 'done' GROUP BY host) m ON m.id = r.id`)
      .all() as { host: string; ms: number }[];
    return new Map(rows.map((r) => [r.host, r.ms]));
  }

  updateRun(id: number, f: Partial<Pick<RunRow, 'state' | 'stage' | 'message' | 'last_event_at' | 'booted_at' | 'finished_at' | 'token' | 'token_expires_at'>>, now: number): void {
    const keys = Object.keys(f) as (keyof typeof f)[];
    const sets = keys.map((k) => `${k} = @${k}`).concat('updated_at = @updated_at');
    this.prep(`UPDATE install_runs SET ${sets.join(', ')} WHERE id = @id`).run({ ...f, updated_at: now, id });
  }

  countByState(): Record<string, number> {
    const rows = this.prep('SELECT state, COUNT(*) n FROM install_runs GROUP BY state').all() as { state: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.state, r.n]));
  }

  addEvent(e: NewEvent): EventRow {
    const info = this
      .prep('INSERT INTO events (run_id, host, at, kind, stage, message, source) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(e.runId ?? null, e.host, e.at, e.kind, e.stage ?? null, e.message ?? null, e.source ?? null);
    return { id: Number(info.lastInsertRowid), run_id: e.runId ?? null, host: e.host, at: e.at, kind: e.kind, stage: e.stage ?? null, message: e.message ?? null, source: e.source ?? null };
  }

  /** events of these kinds stored for a run (the event budget's count after a restart) */
  countEvents(runId: number, kinds: readonly string[]): number {
    const row = this.prep(`SELECT COUNT(*) n FROM events WHERE run_id = ? AND kind IN (${kinds.map(() => '?').join(',')})`).get(runId, ...kinds) as { n: number };
    return row.n;
  }

  events(q: { host?: string; runId?: number; kinds?: string[]; afterId?: number; limit?: number }): EventRow[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.host) (where.push('host = ?'), args.push(q.host));
    if (q.runId !== undefined) (where.push('run_id = ?'), args.push(q.runId));
    if (q.kinds?.length) (where.push(`kind IN (${q.kinds.map(() => '?').join(',')})`), args.push(...q.kinds));
    if (q.afterId !== undefined) (where.push('id > ?'), args.push(q.afterId));
    const sql = `SELECT * FROM events ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id LIMIT ?`;
    return this.prep(sql).all(...args, q.limit ?? 1000) as EventRow[];
  }

  /** The host whose installer last called us from this address (progress, boot, answer). */
  hostBySource(ip: string, since: number): string | undefined {
    const row = this
      .prep(`SELECT host FROM events WHERE source = ? AND at >= ? AND kind IN ('progress','boot','http') ORDER BY id DESC LIMIT 1`)
      .get(ip, since) as { host: string } | undefined;
    return row?.host;
  }

  setMark(host: string, runId: number, now: number, by?: string): void {
    this
      .prep('INSERT INTO reinstall_marks (host, run_id, marked_at, marked_by) VALUES (?, ?, ?, ?) ON CONFLICT(host) DO UPDATE SET run_id = excluded.run_id, marked_at = excluded.marked_at, marked_by = excluded.marked_by')
      .run(host, runId, now, by ?? null);
  }

  clearMark(host: string): void {
    this.prep('DELETE FROM reinstall_marks WHERE host = ?').run(host);
  }

  marks(): Map<string, { run_id: number; marked_at: number; marked_by: string | null }> {
    const rows = this.prep('SELECT * FROM reinstall_marks').all() as { host: string; run_id: number; marked_at: number; marked_by: string | null }[];
    return new Map(rows.map((r) => [r.host, r]));
  }

  isMarked(host: string): boolean {
    return this.prep('SELECT 1 FROM reinstall_marks WHERE host = ?').get(host) !== undefined;
  }

  /** statements prepared once per SQL text (statements.ts) */
  private readonly stmts: Statements;
  private prep(sql: string): Statement {
    return this.stmts.get(sql);
  }

  recordDiscovered(d: { mac: string; now: number; ip?: string; arch?: string; client?: string; via: string }): void {
    this
      .prep(`INSERT INTO discovered (mac, first_seen, last_seen, seen_count, ip, arch, client, via) VALUES (@mac, @now, @now, 1, @ip, @arch, @client, @via)
                ON CONFLICT(mac) DO UPDATE SET last_seen = @now, seen_count = seen_count + 1,
                  ip = COALESCE(@ip, ip), arch = COALESCE(@arch, arch), client = COALESCE(@client, client), via = @via`)
      .run({ mac: d.mac, now: d.now, ip: d.ip ?? null, arch: d.arch ?? null, client: d.client ?? null, via: d.via });
  }

  discovered(): DiscoveredRow[] {
    return this.prep('SELECT * FROM discovered ORDER BY last_seen DESC').all() as DiscoveredRow[];
  }

  forgetDiscovered(mac: string): void {
    this.prep('DELETE FROM discovered WHERE mac = ?').run(mac);
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }
}
