// SQLite rows of rollouts (db/008_rollouts.sql). Only reads and writes; the engine holds the rules.
import type { DB } from '../store/db.js';
import type { HostState, RolloutHostRow, RolloutOptions, RolloutRow, RolloutState, StepRow } from './types.js';

export interface NewRollout {
  selector: string;
  options: RolloutOptions;
  createdBy: string;
  now: number;
  startAt: number;
  /** hosts in rollout order with their wave (0 = canary) */
  hosts: { host: string; wave: number }[];
}

export class RolloutStore {
  constructor(readonly db: DB) {}

  transaction<T>(fn: () => T): T {
    // IMMEDIATE: take the write lock before reading, so a CLI pause and an engine tick never
    // both act on the state they read
    return this.db.transaction(fn).immediate();
  }

  create(r: NewRollout): RolloutRow {
    const info = this.db
      .prepare(`INSERT INTO rollouts (state, selector, options, created_by, created_at, start_at, started_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(r.startAt > r.now ? 'scheduled' : 'running', r.selector, JSON.stringify(r.options), r.createdBy, r.now, r.startAt, r.startAt > r.now ? null : r.now, r.now);
    const id = Number(info.lastInsertRowid);
    const ins = this.db.prepare(`INSERT INTO rollout_hosts (rollout_id, host, position, wave, state) VALUES (?, ?, ?, ?, 'pending')`);
    r.hosts.forEach((h, i) => ins.run(id, h.host, i, h.wave));
    this.step(id, null, 0, 'rollout.created', r.now, `${r.hosts.length} host(s), ${r.selector}, by ${r.createdBy}`);
    return this.get(id)!;
  }

  get(id: number): RolloutRow | undefined {
    return this.db.prepare('SELECT * FROM rollouts WHERE id = ?').get(id) as RolloutRow | undefined;
  }

  list(limit = 100): RolloutRow[] {
    return this.db.prepare('SELECT * FROM rollouts ORDER BY id DESC LIMIT ?').all(limit) as RolloutRow[];
  }

  /** Rollouts the engine must look at: not final, or final with hosts still being followed. */
  live(): RolloutRow[] {
    return this.db
      .prepare(`SELECT * FROM rollouts r WHERE state IN ('scheduled','running','paused')
                OR EXISTS (SELECT 1 FROM rollout_hosts h WHERE h.rollout_id = r.id AND h.state IN ('power','booting','installing','up-wait','health','retry')) ORDER BY id`)
      .all() as RolloutRow[];
  }

  setState(id: number, state: RolloutState, now: number, reason?: string | null, final = false): void {
    this.db
      .prepare(`UPDATE rollouts SET state = ?, updated_at = ?, reason = COALESCE(?, reason), started_at = CASE WHEN ? = 'running' THEN COALESCE(started_at, ?) ELSE started_at END,
                finished_at = CASE WHEN ? THEN ? ELSE finished_at END WHERE id = ?`)
      .run(state, now, reason ?? null, state, now, final ? 1 : 0, now, id);
  }

  hosts(id: number): RolloutHostRow[] {
    return this.db.prepare('SELECT * FROM rollout_hosts WHERE rollout_id = ? ORDER BY position').all(id) as RolloutHostRow[];
  }

  host(id: number, host: string): RolloutHostRow | undefined {
    return this.db.prepare('SELECT * FROM rollout_hosts WHERE rollout_id = ? AND host = ?').get(id, host) as RolloutHostRow | undefined;
  }

  updateHost(id: number, host: string, f: Partial<Pick<RolloutHostRow, 'state' | 'attempt' | 'run_id' | 'phase_at' | 'started_at' | 'finished_at' | 'last_error'>>): void {
    const keys = Object.keys(f);
    if (!keys.length) return;
    this.db.prepare(`UPDATE rollout_hosts SET ${keys.map((k) => `${k} = @${k}`).join(', ')} WHERE rollout_id = @id AND host = @host`).run({ ...f, id, host });
  }

  /** Hosts of any non-final rollout: a host belongs to at most one such rollout. */
  busyHosts(): Map<string, number> {
    const rows = this.db
      .prepare(`SELECT h.host, h.rollout_id FROM rollout_hosts h JOIN rollouts r ON r.id = h.rollout_id
                WHERE r.state IN ('scheduled','running','paused') OR h.state IN ('power','booting','installing','up-wait','health','retry')`)
      .all() as { host: string; rollout_id: number }[];
    return new Map(rows.map((r) => [r.host, r.rollout_id]));
  }

  step(id: number, host: string | null, attempt: number, kind: string, at: number, detail?: string): void {
    this.db.prepare('INSERT INTO rollout_steps (rollout_id, host, attempt, kind, at, detail) VALUES (?, ?, ?, ?, ?, ?)').run(id, host, attempt, kind, at, detail ?? null);
  }

  steps(id: number, limit = 5000): StepRow[] {
    return this.db.prepare('SELECT * FROM rollout_steps WHERE rollout_id = ? ORDER BY id LIMIT ?').all(id, limit) as StepRow[];
  }

  countSteps(id: number, kind: string, host?: string): number {
    const row = host === undefined
      ? this.db.prepare('SELECT COUNT(*) n FROM rollout_steps WHERE rollout_id = ? AND kind = ?').get(id, kind)
      : this.db.prepare('SELECT COUNT(*) n FROM rollout_steps WHERE rollout_id = ? AND kind = ? AND host = ?').get(id, kind, host);
    return (row as { n: number }).n;
  }

  hasStep(id: number, host: string, attempt: number, kind: string): boolean {
    return this.db.prepare('SELECT 1 FROM rollout_steps WHERE rollout_id = ? AND host = ? AND attempt = ? AND kind = ?').get(id, host, attempt, kind) !== undefined;
  }

  counts(id: number): Record<HostState, number> {
    const rows = this.db.prepare('SELECT state, COUNT(*) n FROM rollout_hosts WHERE rollout_id = ? GROUP BY state').all(id) as { state: HostState; n: number }[];
    const out = { pending: 0, power: 0, booting: 0, installing: 0, 'up-wait': 0, health: 0, retry: 0, done: 0, failed: 0, cancelled: 0 } as Record<HostState, number>;
    for (const r of rows) out[r.state] = r.n;
    return out;
  }
}

export function optionsOf(r: RolloutRow): RolloutOptions {
  return JSON.parse(r.options) as RolloutOptions;
}
