// Repeated log lines, bounded. Anyone on the provisioning network can send datagrams that each
// deserve a line (a DHCP DISCOVER from an unknown MAC, a malformed packet): one line per datagram
// turns a junk flood into gigabytes of log. A limiter passes the first `perWindow` lines of a kind
// (its key) per window, counts the rest, and when the window ends says once how many it
// suppressed. Keys are chosen by the caller so that a flood shares one key (e.g. "unknown client
// ignored") while lines that matter one by one (a known host's boot) keep their own; the number
// of keys is capped too, so random keys cannot grow the table.
import type { Logger } from './log.js';

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

export interface LogLimitOptions {
  /** lines passed per key per window (default 20) */
  perWindow?: number;
  /** window length, ms (default 10 s) */
  windowMs?: number;
  /** distinct keys tracked at once; new keys beyond it share one overflow key (default 1000) */
  maxKeys?: number;
  now?: () => number;
}

interface Slot {
  start: number;
  count: number;
  suppressed: number;
  level: Level;
  msg: string;
}

export const OVERFLOW_KEY = '(too many kinds)';

export class LogLimiter {
  private readonly slots = new Map<string, Slot>();
  private timer?: NodeJS.Timeout;
  private readonly perWindow: number;
  private readonly windowMs: number;
  private readonly maxKeys: number;
  private readonly now: () => number;
  /** lines suppressed so far (all keys): for metrics and tests */
  suppressedTotal = 0;

  constructor(private readonly log: Logger, opts: LogLimitOptions = {}) {
    this.perWindow = opts.perWindow ?? 20;
    this.windowMs = opts.windowMs ?? 10_000;
    this.maxKeys = opts.maxKeys ?? 1000;
    this.now = opts.now ?? Date.now;
  }

  /** Summaries of quiet keys are written by a timer: a flood that stops is still reported. */
  start(): void {
    this.timer ??= setInterval(() => this.flush(), this.windowMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.flush(true);
  }

  /** Logs unless this key has used up its window; returns whether the line was written. */
  write(level: Level, key: string, fields: Record<string, unknown>, msg: string): boolean {
    const now = this.now();
    let slot = this.slots.get(key);
    if (slot && now - slot.start >= this.windowMs) {
      this.summarise(key, slot);
      slot = undefined;
    }
    if (!slot) {
      if (this.slots.size >= this.maxKeys && key !== OVERFLOW_KEY) return this.write(level, OVERFLOW_KEY, fields, msg);
      slot = { start: now, count: 0, suppressed: 0, level, msg };
      this.slots.set(key, slot);
    }
    slot.count++;
    if (slot.count <= this.perWindow) {
      this.log[level](fields, msg);
      return true;
    }
    slot.suppressed++;
    this.suppressedTotal++;
    return false;
  }

  /** Ends every window that is over (all of them with `all`), writing a summary for each that suppressed lines. */
  flush(all = false): void {
    const now = this.now();
    for (const [key, slot] of this.slots) if (all || now - slot.start >= this.windowMs) this.summarise(key, slot);
  }

  private summarise(key: string, slot: Slot): void {
    this.slots.delete(key);
    if (!slot.suppressed) return;
    this.log[slot.level]({ suppressed: slot.suppressed, kind: key, windowSeconds: Math.round((this.now() - slot.start) / 1000) }, `suppressed ${slot.suppressed} similar log lines (${key}; first ${this.perWindow} shown) like: ${slot.msg}`);
  }
}
