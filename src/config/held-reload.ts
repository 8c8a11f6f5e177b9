// Daemon side of the shrink guard: mirrors the holder's held reload into SQLite (where
// `fleetboot reload` sees and confirms it) and applies it once confirmed. While a reload is held
// it polls the row once a second — a confirmation comes from another process, and a poll of one
// row costs nothing next to a missed confirmation.
import { statSync } from 'node:fs';
import type { Logger } from '../log.js';
import type { ConfigHolder, HeldReload } from './holder.js';
import type { ReloadHolds } from '../store/reload-holds.js';
import type { Clock } from '../install/service.js';

export class HeldReloadRelay {
  private poll?: NodeJS.Timeout;
  private readonly onHeld = (h: HeldReload) => this.held(h);
  private readonly onDone = () => this.resolved();

  constructor(
    private readonly holder: ConfigHolder,
    private readonly holds: ReloadHolds,
    private readonly reload: (why: string, opts: { confirm?: string }) => boolean,
    private readonly log: Logger,
    private readonly clock: Clock,
    private readonly pollMs = 1000,
  ) {}

  start(): void {
    // a hold from a previous run is void: this process loaded its config afresh at start
    this.holds.clear();
    this.holder.on('reload-held', this.onHeld);
    this.holder.on('reloaded', this.onDone);
    this.holder.on('reload-failed', this.onDone);
  }

  stop(): void {
    this.holder.off('reload-held', this.onHeld);
    this.holder.off('reloaded', this.onDone);
    this.holder.off('reload-failed', this.onDone);
    clearInterval(this.poll);
    this.poll = undefined;
  }

  /** for /healthz */
  status(): { message: string; fingerprint: string; removed: number; before: number; after: number } | undefined {
    const h = this.holder.held;
    return h && { message: h.message, fingerprint: h.fingerprint, removed: h.removed.length, before: h.before, after: h.after };
  }

  private held(h: HeldReload): void {
    try {
      this.holds.hold(h, this.clock.now());
    } catch (e) {
      this.log.error({ err: e }, 'cannot record the held reload; confirm it by restoring the file or restarting');
    }
    if (!this.poll) {
      this.poll = setInterval(() => this.check(), this.pollMs);
      this.poll.unref();
    }
  }

  private check(): void {
    const h = this.holder.held;
    if (!h) return this.resolved();
    let row;
    try {
      row = this.holds.current();
    } catch (e) {
      this.log.warn({ err: e }, 'cannot read the held reload');
      return;
    }
    if (!row?.confirmed_by || row.fingerprint !== h.fingerprint) return;
    this.log.warn({ by: row.confirmed_by, fingerprint: h.fingerprint }, `shrink confirmed by ${row.confirmed_by}`);
    // the files are read again: applied only if they still are the version confirmed
    this.reload(`shrink confirmed by ${row.confirmed_by}`, { confirm: row.fingerprint });
  }

  private resolved(): void {
    clearInterval(this.poll);
    this.poll = undefined;
    try {
      this.holds.clear();
    } catch (e) {
      this.log.warn({ err: e }, 'cannot clear the held reload row');
    }
  }
}

/**
 * True while one of `files` changed less than `settleMs` ago: a writer (an editor, a generator,
 * `cat > f`) may still be at it, and a file read in the middle of a write is a truncated one.
 */
export function unsettled(files: string[], settleMs: number, now = Date.now()): boolean {
  for (const f of files) {
    try {
      const st = statSync(f);
      if (now - Math.max(st.mtimeMs, st.ctimeMs) < settleMs) return true;
    } catch {
      /* a missing file is for the loader to report */
    }
  }
  return false;
}
