// The held reload in SQLite: the daemon writes it, `fleetboot reload --confirm-shrink` (a
// separate process with the same database) confirms it, the daemon applies and deletes it.
import type { DB } from './db.js';
import type { HeldReload } from '../config/holder.js';

export interface HeldRow {
  fingerprint: string;
  message: string;
  hosts_before: number;
  hosts_after: number;
  removed: string[];
  held_at: number;
  confirmed_by: string | null;
  confirmed_at: number | null;
}

export class ReloadHolds {
  constructor(private readonly db: DB) {}

  /** Records what the daemon holds now (replacing an older hold: only the newest files count). */
  hold(h: HeldReload, now: number): void {
    const cur = this.current();
    if (cur?.fingerprint === h.fingerprint) return; // keeps a confirmation already given
    this.db
      .prepare(`INSERT INTO held_reload (id, fingerprint, message, hosts_before, hosts_after, removed, held_at) VALUES (1, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET fingerprint = excluded.fingerprint, message = excluded.message, hosts_before = excluded.hosts_before,
                  hosts_after = excluded.hosts_after, removed = excluded.removed, held_at = excluded.held_at, confirmed_by = NULL, confirmed_at = NULL`)
      .run(h.fingerprint, h.message, h.before, h.after, JSON.stringify(h.removed), now);
  }

  clear(): void {
    this.db.prepare('DELETE FROM held_reload').run();
  }

  current(): HeldRow | undefined {
    const row = this.db.prepare('SELECT * FROM held_reload WHERE id = 1').get() as (Omit<HeldRow, 'removed'> & { removed: string }) | undefined;
    return row && { ...row, removed: JSON.parse(row.removed) as string[] };
  }

  /** Confirms the hold when it is for these exact files; false when it is not (or none is held). */
  confirm(fingerprint: string, by: string, now: number): boolean {
    const info = this.db.prepare('UPDATE held_reload SET confirmed_by = ?, confirmed_at = ? WHERE id = 1 AND fingerprint = ?').run(by, now, fingerprint);
    return info.changes === 1;
  }
}
