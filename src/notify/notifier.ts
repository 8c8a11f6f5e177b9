// Delivers the notification outbox (notify_outbox, db/008_rollouts.sql). The engine only
// inserts rows, in the transaction that changes a rollout's state, so a page is neither lost
// nor doubled by a crash at the wrong moment and a slow receiver never holds the engine up.
// Each row is POSTed with a timeout; failures back off exponentially (capped) up to maxAttempts,
// then the row is marked given up. The next attempt time is stored, so backoff survives restarts.
import type { DB } from '../store/db.js';
import type { Logger } from '../log.js';
import type { Clock } from '../install/service.js';
import type { NotifyConfig, Webhook } from './config.js';
import { render, type NotifyFacts } from './format.js';
import type { RolloutEvent } from '../rollout/engine.js';
import { fetchError } from '../rollout/health.js';

export interface OutboxRow {
  id: number;
  rollout_id: number | null;
  event: string;
  target: number;
  url_hint: string;
  payload: string;
  created_at: number;
  attempts: number;
  next_at: number;
  sent_at: number | null;
  gave_up_at: number | null;
  last_error: string | null;
}

export interface NotifierDeps {
  db: DB;
  config: () => NotifyConfig;
  log: Logger;
  clock: Clock;
  env?: NodeJS.ProcessEnv;
  /** poll interval of the sender (ms) */
  pollMs?: number;
}

const MAX_BACKOFF_MS = 600_000;
const MAX_BATCH = 20;

/** The URL as it may be shown: no secret, no userinfo, no query. */
export function urlHint(url: string): string {
  try {
    const u = new URL(url.replace(/\{secret\}/g, 'SECRET'));
    return `${u.protocol}//${u.host}${u.pathname.replace(/SECRET/g, '{secret}')}`;
  } catch {
    return '(bad url)';
  }
}

export class Notifier {
  private timer?: NodeJS.Timeout;
  private busy = false;
  private readonly log: Logger;

  constructor(private readonly d: NotifierDeps) {
    this.log = d.log.child({ subsystem: 'notify' });
  }

  /** One outbox row per configured webhook that wants this event; call inside the caller's transaction. */
  enqueue(rolloutId: number, event: RolloutEvent, facts: NotifyFacts): number {
    const now = this.d.clock.now();
    const ins = this.d.db.prepare('INSERT INTO notify_outbox (rollout_id, event, target, url_hint, payload, created_at, next_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
    let n = 0;
    this.d.config().webhooks.forEach((w, i) => {
      if (w.events && !w.events.includes(event)) return;
      ins.run(rolloutId, event, i, urlHint(w.url), JSON.stringify(facts), now, now);
      n++;
    });
    if (n === 0) this.log.info({ rollout: rolloutId, event }, 'rollout event; no webhook configured for it');
    return n;
  }

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.d.pollMs ?? 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  rows(rolloutId?: number): OutboxRow[] {
    return (rolloutId === undefined
      ? this.d.db.prepare('SELECT * FROM notify_outbox ORDER BY id').all()
      : this.d.db.prepare('SELECT * FROM notify_outbox WHERE rollout_id = ? ORDER BY id').all(rolloutId)) as OutboxRow[];
  }

  /** Sends what is due now; resolves when those sends have finished. Never throws. */
  async flush(): Promise<number> {
    if (this.busy) return 0;
    this.busy = true;
    try {
      const now = this.d.clock.now();
      const due = this.d.db
        .prepare('SELECT * FROM notify_outbox WHERE sent_at IS NULL AND gave_up_at IS NULL AND next_at <= ? ORDER BY id LIMIT ?')
        .all(now, MAX_BATCH) as OutboxRow[];
      await Promise.all(due.map((row) => this.deliver(row)));
      return due.length;
    } catch (e) {
      this.log.error({ err: e }, 'notify flush failed');
      return 0;
    } finally {
      this.busy = false;
    }
  }

  private async deliver(row: OutboxRow): Promise<void> {
    const cfg = this.d.config();
    const hook: Webhook | undefined = cfg.webhooks[row.target];
    let error: string | undefined;
    if (!hook || hook.url.length === 0) error = 'webhook no longer configured';
    else {
      const env = this.d.env ?? process.env;
      const secret = hook.secretEnv ? env[hook.secretEnv] : undefined;
      if (hook.secretEnv && !secret) error = `${hook.secretEnv} is not set`;
      else {
        const inUrl = hook.url.includes('{secret}');
        const url = inUrl ? hook.url.replace(/\{secret\}/g, encodeURIComponent(secret!)) : hook.url;
        const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'fleetboot-notify/1' };
        if (secret && !inUrl) headers.authorization = `Bearer ${secret}`;
        try {
          const body = JSON.stringify(render(hook.format, JSON.parse(row.payload) as NotifyFacts));
          const res = await fetch(url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(cfg.timeoutSeconds * 1000) });
          await res.body?.cancel().catch(() => {});
          if (res.status < 200 || res.status >= 300) error = `HTTP ${res.status}`;
        } catch (e) {
          error = fetchError(e, cfg.timeoutSeconds * 1000);
        }
      }
    }
    const now = this.d.clock.now();
    const attempts = row.attempts + 1;
    if (!error) {
      this.d.db.prepare('UPDATE notify_outbox SET attempts = ?, sent_at = ?, last_error = NULL WHERE id = ?').run(attempts, now, row.id);
      this.log.info({ rollout: row.rollout_id, event: row.event, url: row.url_hint, attempts }, 'webhook delivered');
      return;
    }
    if (attempts >= cfg.maxAttempts) {
      this.d.db.prepare('UPDATE notify_outbox SET attempts = ?, gave_up_at = ?, last_error = ? WHERE id = ?').run(attempts, now, error, row.id);
      this.log.error({ rollout: row.rollout_id, event: row.event, url: row.url_hint, attempts, error }, 'webhook given up');
      return;
    }
    const delay = Math.min(MAX_BACKOFF_MS, cfg.backoffSeconds * 1000 * 2 ** (attempts - 1));
    this.d.db.prepare('UPDATE notify_outbox SET attempts = ?, next_at = ?, last_error = ? WHERE id = ?').run(attempts, now + delay, error, row.id);
    this.log.warn({ rollout: row.rollout_id, event: row.event, url: row.url_hint, attempts, error, retryInMs: delay }, 'webhook failed; will retry');
  }
}
