// Install runs: marking hosts for reinstall, the token that ties an installer's requests to one
// run, progress callbacks, stall detection. The rules are in machine.ts; this applies them to
// SQLite rows and announces every change (the web UI streams them).
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import { tokenHint } from '../log.js';
import type { RunStore, RunRow, EventRow } from '../store/runs.js';
import type { ConfigHolder } from '../config/holder.js';
import type { HostBootState } from '../boot/types.js';
import { transition, TERMINAL, type RunEvent } from './machine.js';
import { bootFilesMissing } from '../boot/missing.js';
import { EventBudget, BUDGETED_KINDS, type Admission } from './event-budget.js';
import { LogLimiter } from '../log-limit.js';

export interface Clock {
  now(): number;
}
export const systemClock: Clock = { now: () => Date.now() };

export type TokenLookup =
  | { ok: true; run: RunRow }
  | { ok: false; reason: 'unknown' | 'expired' | 'finished' | 'address' };

/** progress(): a valid token whose event the run's budget refused (answer 429) */
export type ProgressResult = TokenLookup | { ok: false; reason: 'cap' | 'rate'; message: string; retryAfterSeconds?: number };

export interface ChangeEvent {
  host: string;
  run?: RunRow;
  event?: EventRow;
}

/** forced: boot files that were missing when the mark was forced; missing: why it was refused */
export type MarkResult = { host: string; ok: true; runId: number; already: boolean; forced?: string[] } | { host: string; ok: false; error: string; missing?: string[] };

export interface MarkOptions {
  /** mark even when the role's boot files are missing (the caller audits it) */
  force?: boolean;
}

export class InstallService extends EventEmitter {
  constructor(
    private readonly store: RunStore,
    private readonly holder: ConfigHolder,
    private readonly log: Logger,
    private readonly clock: Clock = systemClock,
    private readonly newToken: () => string = () => randomBytes(24).toString('base64url'),
  ) {
    super();
    this.budget = new EventBudget((id) => this.store.countEvents(id, BUDGETED_KINDS), clock);
    this.logBudget = new EventBudget((id) => this.store.countEvents(id, ['log']), clock, { noun: 'syslog lines', max: 'install.maxLogLinesPerRun', rate: 'install.logLinesPerSecond' });
    // one line per run and minute about refused events, however many are refused
    this.refusals = new LogLimiter(log, { perWindow: 1, windowMs: 60_000, now: () => clock.now() });
  }

  private readonly budget: EventBudget;
  private readonly logBudget: EventBudget;
  private readonly refusals: LogLimiter;

  /** Whether the run may store one more client event (install.maxEventsPerRun / eventsPerSecond / eventBurst). */
  private admit(run: RunRow, kind: string, source?: string): Admission {
    const i = this.holder.config.install;
    const a = this.budget.admit(run.id, { maxPerRun: i.maxEventsPerRun, perSecond: i.eventsPerSecond, burst: i.eventBurst });
    if (!a.ok) this.refusals.write('warn', `run ${run.id} ${a.reason}`, { host: run.host, runId: run.id, kind, ip: source, reason: a.reason }, `install run event refused: ${a.message}`);
    return a;
  }

  private timing() {
    const i = this.holder.config.install;
    return { stallMs: i.stallSeconds * 1000, upDeadlineMs: i.upDeadlineSeconds * 1000 };
  }

  hostState(host: string): HostBootState {
    const run = this.store.openRun(host);
    return { reinstallMarked: this.store.isMarked(host), run: run && { id: run.id, token: run.token, state: run.state } };
  }

  mark(hosts: string[], by = 'cli', opts: MarkOptions = {}): MarkResult[] {
    const now = this.clock.now();
    const ttl = this.holder.config.install.tokenTtlSeconds * 1000;
    // one look at the disk per role, not per host
    const missingOf = new Map<string, string[]>();
    return hosts.map((name): MarkResult => {
      const rh = this.holder.index.byName(name);
      if (!rh) return { host: name, ok: false, error: `unknown host "${name}"` };
      if (!missingOf.has(rh.roleName)) missingOf.set(rh.roleName, bootFilesMissing(this.holder.config, rh.roleName));
      const missing = missingOf.get(rh.roleName)!;
      if (missing.length && !opts.force) return { host: name, ok: false, error: `role "${rh.roleName}" cannot boot, missing: ${missing.join(', ')}`, missing };
      const result = this.store.transaction(() => {
        const open = this.store.openRun(name);
        if (open && open.state !== 'rebooting') {
          this.store.setMark(name, open.id, now, by);
          return { run: open, already: true };
        }
        // a run waiting for its first-boot callback is superseded by the new mark
        if (open) this.applyLocked(open, { type: 'cancel' }, now, `superseded by a new reinstall mark (${by})`);
        const run = this.store.createRun({ host: name, role: rh.roleName, token: this.newToken(), now, expiresAt: now + ttl, markedBy: by });
        this.store.setMark(name, run.id, now, by);
        const ev = this.store.addEvent({ runId: run.id, host: name, at: now, kind: 'state', stage: 'marked', message: `marked for reinstall by ${by}`, source: by });
        return { run, already: false, ev };
      });
      if (!result.already) {
        this.log.info({ host: name, runId: result.run.id, by }, 'host marked for reinstall');
        this.emit('change', { host: name, run: result.run, event: (result as { ev?: EventRow }).ev } satisfies ChangeEvent);
      }
      return { host: name, ok: true, runId: result.run.id, already: result.already, ...(missing.length ? { forced: missing } : {}) };
    });
  }

  cancel(hosts: string[], by = 'cli'): MarkResult[] {
    const now = this.clock.now();
    return hosts.map((name): MarkResult => {
      if (!this.holder.index.byName(name)) return { host: name, ok: false, error: `unknown host "${name}"` };
      const open = this.store.openRun(name);
      if (!open) {
        this.store.clearMark(name);
        return { host: name, ok: false, error: 'no open install run' };
      }
      this.apply(open, { type: 'cancel' }, `cancelled by ${by}`, by);
      return { host: name, ok: true, runId: open.id, already: false };
    });
  }

  /**
   * The HTTP/TFTP boot path is serving the installer to this host; returns the run as it is
   * now, whose token the kernel command line must carry. Call it before rendering.
   * Tokens: a token dies tokenTtlSeconds after it was issued (at the mark, or at the last boot).
   * A boot within that time extends it to cover the install that starts now; a boot after it
   * gets a NEW token, so the expired URL stays dead even though the run goes on.
   */
  bootServed(host: string, runId: number, source?: string): RunRow | undefined {
    const run = this.store.run(runId);
    if (!run || TERMINAL.has(run.state)) return run;
    const now = this.clock.now();
    const fields: Parameters<RunStore['updateRun']>[1] = { booted_at: now, token_expires_at: now + this.holder.config.install.tokenTtlSeconds * 1000 };
    if (now >= run.token_expires_at) {
      fields.token = this.newToken();
      this.log.info({ host, runId: run.id, oldToken: tokenHint(run.token), newToken: tokenHint(fields.token) }, 'token expired before this boot; issued a new one');
    }
    this.store.updateRun(run.id, fields, now);
    // the installer is served either way; only its event row is subject to the budget
    const keep = this.admit(run, 'boot', source).ok;
    this.apply(this.store.run(run.id)!, { type: 'boot' }, 'installer kernel served', source, undefined, keep);
    return this.store.run(run.id)!;
  }

  /**
   * `source`: the caller's address. With install.bindTokenToAddress, a run that has booted only
   * accepts its token from the address of its first boot: the token is in the boot script any
   * client can fetch with the host's MAC, so without it anyone who knows a marked host's MAC
   * can mark its run failed or done (docs/web.md). Before the first boot nothing is bound.
   */
  lookupToken(token: string, source?: string): TokenLookup {
    const run = this.store.runByToken(token);
    if (!run) return { ok: false, reason: 'unknown' };
    if (TERMINAL.has(run.state)) return { ok: false, reason: 'finished' };
    if (this.clock.now() >= run.token_expires_at) return { ok: false, reason: 'expired' };
    if (this.holder.config.install.bindTokenToAddress && source !== undefined) {
      const bound = this.store.firstBootSource(run.id);
      if (bound !== undefined && plainIp(bound) !== plainIp(source)) return { ok: false, reason: 'address' };
    }
    return { ok: true, run };
  }

  progress(token: string, stage: string, message: string | undefined, source?: string): ProgressResult {
    const found = this.lookupToken(token, source);
    if (!found.ok) {
      this.log.warn({ tokenHint: tokenHint(token), reason: found.reason, ip: source, stage }, 'progress callback with an invalid token');
      return found;
    }
    const admitted = this.admit(found.run, 'progress', source);
    if (!admitted.ok) {
      // refused, unless it changes the run's state: a flood on a leaked token must not keep
      // the real installer's done/failed out (transitions are few: the token dies at the end)
      const t = transition(this.facts(found.run), { type: 'progress', stage }, this.clock.now(), this.timing());
      if (!t) return admitted;
    }
    this.apply(found.run, { type: 'progress', stage }, message, source, stage, admitted.ok);
    const run = this.store.run(found.run.id)!;
    if (TERMINAL.has(run.state)) this.budget.forget(run.id);
    return { ok: true, run };
  }

  /**
   * Installer log lines (syslog) attached to the host's open run (or its last one). Syslog is
   * UDP: anyone can send lines in an installer's name, so they have a budget of their own
   * (install.maxLogLinesPerRun, logLinesPerSecond, logBurst), apart from the client events'
   * (a chatty d-i must not use up the budget its progress callbacks need). A host with no run
   * at all has nothing to attach a line to: dropped. Returns whether the line was stored.
   */
  logLine(host: string, message: string, source?: string, at = this.clock.now()): boolean {
    const open = this.store.openRun(host);
    const run = open ?? this.store.latestRun(host);
    if (!run) {
      this.refusals.write('warn', `log ${host} norun`, { host, ip: source }, 'syslog line for a host with no install run; dropped');
      return false;
    }
    const i = this.holder.config.install;
    const a = this.logBudget.admit(run.id, { maxPerRun: i.maxLogLinesPerRun, perSecond: i.logLinesPerSecond, burst: i.logBurst });
    if (!a.ok) {
      this.refusals.write('warn', `log ${run.id} ${a.reason}`, { host, runId: run.id, ip: source, reason: a.reason }, `syslog line dropped: ${a.message}`);
      return false;
    }
    const ev = this.store.addEvent({ runId: run.id, host, at, kind: 'log', message, source });
    if (open) this.touch(open);
    this.emit('change', { host, event: ev } satisfies ChangeEvent);
    return true;
  }

  /**
   * Which host a syslog datagram from `ip` belongs to: the host whose installer last talked to
   * us from that address (within a day), else the inventory host with that static address.
   */
  hostForIp(ip: string): string | undefined {
    const addr = ip.replace(/^::ffff:/, '');
    return this.store.hostBySource(addr, this.clock.now() - 86_400_000) ?? this.store.hostBySource(`::ffff:${addr}`, this.clock.now() - 86_400_000) ?? this.holder.index.all().find((h) => h.host.address === addr)?.host.name;
  }

  /** Records a boot-path event (DHCP/TFTP/HTTP) on the host's open run, for the timeline. */
  note(host: string, kind: 'dhcp' | 'tftp' | 'http' | 'boot', message: string, source?: string): void {
    const open = this.store.openRun(host);
    if (!open) return;
    if (!this.admit(open, kind, source).ok) return;
    const ev = this.store.addEvent({ runId: open.id, host, at: this.clock.now(), kind, message, source });
    this.touch(open);
    this.emit('change', { host, event: ev } satisfies ChangeEvent);
  }

  /**
   * "Stalled" means no event for stallSeconds: installer log lines and file fetches show the
   * installer is alive as much as progress callbacks do, so every event resets the timer.
   */
  private touch(run: RunRow): void {
    const now = this.clock.now();
    this.store.updateRun(run.id, { last_event_at: now }, now);
  }

  /** Stall/deadline detection; the daemon calls this every few seconds. */
  tick(): number {
    let changed = 0;
    const now = this.clock.now();
    for (const run of this.store.openRuns()) {
      const t = transition(this.facts(run), { type: 'tick' }, now, this.timing());
      if (t) {
        this.apply(run, { type: 'tick' }, t.reason);
        changed++;
      }
    }
    return changed;
  }

  private facts(run: RunRow) {
    const role = this.holder.config.roles[run.role];
    // an image always reports "up" from its first boot (fleetboot-firstboot.service): wait for it
    return { state: run.state, lastEventAt: run.last_event_at ?? run.booted_at ?? run.created_at, requireUp: (role?.requireUp || role?.installer === 'image') ?? false };
  }

  /** `keepEvent` false: the event's own row is not stored (over budget); its state change is. */
  private apply(run: RunRow, ev: RunEvent, message?: string, source?: string, stage?: string, keepEvent = true): void {
    const now = this.clock.now();
    this.store.transaction(() => this.applyLocked(run, ev, now, message, source, stage, keepEvent));
  }

  private applyLocked(run: RunRow, ev: RunEvent, now: number, message?: string, source?: string, stage?: string, keepEvent = true): void {
    const t = transition(this.facts(run), ev, now, this.timing());
    const fields: Parameters<RunStore['updateRun']>[1] = {};
    let event: EventRow | undefined;
    if (ev.type === 'progress') {
      fields.last_event_at = now;
      fields.stage = stage ?? null;
      fields.message = message ?? null;
      if (keepEvent) event = this.store.addEvent({ runId: run.id, host: run.host, at: now, kind: 'progress', stage, message, source });
    } else if (ev.type === 'boot') {
      fields.last_event_at = now;
      if (keepEvent) event = this.store.addEvent({ runId: run.id, host: run.host, at: now, kind: 'boot', stage: 'pxe', message, source });
    }
    if (t) {
      fields.state = t.state;
      if (TERMINAL.has(t.state)) fields.finished_at = now;
      if (t.clearMark) this.store.clearMark(run.host);
      const se = this.store.addEvent({ runId: run.id, host: run.host, at: now, kind: 'state', stage: t.state, message: message && ev.type !== 'progress' ? message : t.reason, source });
      event = event ?? se;
      this.log.info({ host: run.host, runId: run.id, from: run.state, to: t.state, reason: t.reason }, 'install run state change');
    }
    if (Object.keys(fields).length) this.store.updateRun(run.id, fields, now);
    const updated = this.store.run(run.id)!;
    this.emit('change', { host: run.host, run: updated, event } satisfies ChangeEvent);
  }
}

/** an IPv4 client seen through a dual-stack socket arrives as ::ffff:a.b.c.d */
const plainIp = (ip: string) => ip.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
