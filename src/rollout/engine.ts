// The rollout engine: runs inside the daemon on a ticker with an injected clock. Every decision
// is made from the rows in SQLite (db/008_rollouts.sql) in one IMMEDIATE transaction per
// rollout, so a restarted daemon continues from exactly the recorded state:
//
//   host:  pending --mark (same tx as the step row)--> power --pxe ok--> booting --installer
//          served--> installing --installer done--> up-wait --"up"--> health --check ok--> done
//          any phase: deadline missed / run failed / power or health failed
//            --> retry (attempts left; a new mark starts the next attempt) or failed
//
// Side effects: the reinstall mark is written in the same transaction as the host's step row
// (UNIQUE per attempt), so it happens exactly once per attempt whatever crashes when. Power is
// an outside call: its step row is written before the call and its outcome after it; a crash in
// between means the call is made again after the restart unless the run shows the host already
// booted (at-least-once; a second "pxe once + cycle" only restarts a boot that is marked anyway).
// Health checks are read-only and simply repeat. Webhooks go to an outbox in the same transaction
// as the state change that causes them and are sent by the notifier, never from here.
import type { Logger } from '../log.js';
import type { Clock } from '../install/service.js';
import type { InstallService } from '../install/service.js';
import type { RunStore, RunRow } from '../store/runs.js';
import type { ConfigHolder } from '../config/holder.js';
import { RolloutStore, optionsOf } from './store.js';
import { ACTIVE_HOST, FINAL_ROLLOUT, formatMs, type PowerActor, type PowerResult, type RolloutHostRow, type RolloutOptions, type RolloutRow } from './types.js';
import type { HealthResult } from './health.js';

export type RolloutEvent = 'rollout.canary_failed' | 'rollout.stopped_budget' | 'rollout.completed';

export interface EngineDeps {
  store: RolloutStore;
  runs: RunStore;
  installs: InstallService;
  holder: ConfigHolder;
  power: PowerActor;
  health: (spec: string, host: { name: string; address?: string }) => Promise<HealthResult>;
  /** writes the notification to the outbox; called inside the engine's transaction */
  notify: (rolloutId: number, event: RolloutEvent) => void;
  /** one audit row (actor "rollout:N"); called inside the engine's transaction */
  audit: (actor: string, action: string, target: string | null, detail?: string) => void;
  log: Logger;
  clock: Clock;
}

type Launch = { kind: 'power' | 'health'; r: RolloutRow; h: RolloutHostRow };

const RUN_FAILED = new Set(['failed', 'cancelled']);

export class RolloutEngine {
  /** outside calls under way, by rollout/host/attempt: never two for the same host at once */
  private readonly inflight = new Set<string>();
  private readonly pending = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly d: EngineDeps) {}

  /** Stops launching calls; outstanding ones finish but their results are dropped after stop. */
  stop(): void {
    this.stopped = true;
  }

  /** Resolves when no power or health call is outstanding (tests). */
  async settle(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }

  get busy(): number {
    return this.inflight.size;
  }

  /** One pass over every live rollout. Synchronous DB work; outside calls are started after. */
  tick(): void {
    if (this.stopped) return;
    for (const r of this.d.store.live()) {
      const launches: Launch[] = [];
      try {
        this.d.store.transaction(() => this.step(r.id, launches));
      } catch (e) {
        this.d.log.error({ err: e, rollout: r.id }, 'rollout tick failed; its transaction was rolled back');
        continue;
      }
      for (const l of launches) this.launch(l);
    }
  }

  private key(h: RolloutHostRow) {
    return `${h.rollout_id}/${h.host}/${h.attempt}`;
  }

  private step(id: number, launches: Launch[]): void {
    const { store } = this.d;
    const now = this.d.clock.now();
    let r = store.get(id)!;
    const o = optionsOf(r);
    if (r.state === 'scheduled' && now >= r.start_at) {
      store.setState(id, 'running', now, null);
      store.step(id, null, 0, 'rollout.started', now);
      r = store.get(id)!;
    }
    // 1. observe every host that has an attempt under way
    for (const h of store.hosts(id)) if (ACTIVE_HOST.has(h.state) && h.state !== 'retry') this.observe(r, o, h, now, launches);
    if (r.state !== 'running') {
      if (FINAL_ROLLOUT.has(r.state)) this.dropRetries(r, now);
      return;
    }
    // 2. the budget, checked before anything new starts
    const hosts = store.hosts(id);
    const failed = hosts.filter((h) => h.state === 'failed');
    const canaryFailed = failed.filter((h) => h.wave === 0);
    if (canaryFailed.length) return this.finish(r, 'stopped-canary', `canary ${canaryFailed.map((h) => h.host).join(', ')} failed: ${canaryFailed[0].last_error ?? '?'}`, 'rollout.canary_failed', now);
    if (failed.length > o.maxFailures) return this.finish(r, 'stopped-budget', `${failed.length} host(s) failed, budget is ${o.maxFailures}`, 'rollout.stopped_budget', now);
    if (hosts.every((h) => h.state === 'done' || h.state === 'failed' || h.state === 'cancelled')) {
      return this.finish(r, 'completed', `${hosts.filter((h) => h.state === 'done').length} done, ${failed.length} failed`, 'rollout.completed', now);
    }
    // 3. retries (they keep their slot), then new hosts of the current wave into free slots
    for (const h of hosts) if (h.state === 'retry') this.startAttempt(r, h, now, launches);
    let active = store.hosts(id).filter((h) => ACTIVE_HOST.has(h.state)).length;
    const open = hosts.filter((h) => h.state !== 'done' && h.state !== 'failed' && h.state !== 'cancelled');
    const wave = Math.min(...open.map((h) => h.wave));
    for (const h of hosts) {
      if (active >= o.parallel) break;
      if (h.wave !== wave || h.state !== 'pending') continue;
      if (h.wave > 0 && this.d.store.countSteps(id, `wave.${h.wave}`) === 0) store.step(id, null, 0, `wave.${h.wave}`, now, `wave ${h.wave} starts`);
      this.startAttempt(r, h, now, launches);
      active++;
    }
  }

  private finish(r: RolloutRow, state: 'stopped-canary' | 'stopped-budget' | 'completed', reason: string, event: RolloutEvent, now: number): void {
    this.d.store.setState(r.id, state, now, reason, true);
    this.d.store.step(r.id, null, 0, `rollout.${state}`, now, reason);
    this.d.audit(`rollout:${r.id}`, `rollout.${state}`, `rollout ${r.id}`, reason);
    this.d.notify(r.id, event);
    this.dropRetries({ ...r, state }, now);
    this.d.log[state === 'completed' ? 'info' : 'warn']({ rollout: r.id, state, reason }, 'rollout finished');
  }

  /** A final rollout takes no further attempts: hosts waiting for one end as cancelled. */
  private dropRetries(r: RolloutRow, now: number): void {
    for (const h of this.d.store.hosts(r.id)) {
      if (h.state !== 'retry') continue;
      this.d.store.updateHost(r.id, h.host, { state: 'cancelled', finished_at: now, last_error: `${h.last_error ?? ''} (no retry: rollout ${r.state})`.trim() });
      this.d.store.step(r.id, h.host, h.attempt, 'cancelled', now, `rollout ${r.state}`);
    }
  }

  /** Marks the host (a new install run) for its next attempt; power follows after the commit. */
  private startAttempt(r: RolloutRow, h: RolloutHostRow, now: number, launches: Launch[]): void {
    const { store, installs, runs } = this.d;
    const by = `rollout:${r.id}`;
    const attempt = h.attempt + 1;
    // a fresh run per attempt: an open one (the previous attempt's, or one an operator marked)
    // is cancelled first, or mark() would hand it back instead of starting over
    if (runs.openRun(h.host)) installs.cancel([h.host], by);
    const res = installs.mark([h.host], by)[0];
    if (!res.ok) {
      store.updateHost(r.id, h.host, { state: 'failed', attempt, finished_at: now, last_error: `cannot mark: ${res.error}` });
      store.step(r.id, h.host, attempt, 'failed', now, res.error);
      return;
    }
    store.step(r.id, h.host, attempt, 'mark', now, `run ${res.runId}`);
    store.updateHost(r.id, h.host, { state: 'power', attempt, run_id: res.runId, phase_at: now, started_at: h.started_at ?? now });
    this.d.audit(by, 'reinstall.mark', h.host, `marked (run ${res.runId}); rollout ${r.id} attempt ${attempt}`);
    launches.push({ kind: 'power', r, h: store.host(r.id, h.host)! });
  }

  private observe(r: RolloutRow, o: RolloutOptions, h: RolloutHostRow, now: number, launches: Launch[]): void {
    const run = h.run_id ? this.d.runs.run(h.run_id) : undefined;
    const since = now - (h.phase_at ?? now);
    if (r.state === 'aborted' && (h.state === 'power' || h.state === 'booting') && !(run && booted(run))) {
      // the installer has not started: cancel the run so the next boot is the local disk
      if (run && !['done', 'failed', 'cancelled'].includes(run.state)) this.d.installs.cancel([h.host], `rollout:${r.id}`);
      this.d.store.updateHost(r.id, h.host, { state: 'cancelled', finished_at: now, last_error: 'rollout aborted before the installer started' });
      this.d.store.step(r.id, h.host, h.attempt, 'cancelled', now, 'rollout aborted');
      return;
    }
    if (!run) return this.attemptFailed(r, o, h, now, 'its install run is gone');
    if (RUN_FAILED.has(run.state)) return this.attemptFailed(r, o, h, now, `install run ${run.id} ${run.state}: ${run.message ?? 'no message'}`);
    switch (h.state) {
      case 'power': {
        if (booted(run)) return this.move(r, o, h, 'booting', now, launches, 'host booted before its power step was confirmed');
        if (this.inflight.has(this.key(h))) return;
        // no call under way: first pass after the mark, or the daemon restarted between the
        // power step and its outcome (then the call is made again)
        launches.push({ kind: 'power', r, h });
        return;
      }
      case 'booting':
        if (booted(run)) return this.move(r, o, h, 'installing', run.booted_at ?? now, launches, `installer booted (run ${run.id})`);
        if (since > o.deadlineBootMs) return this.attemptFailed(r, o, h, now, `boot deadline: no network boot within ${formatMs(o.deadlineBootMs)} of the power cycle`);
        return;
      case 'installing':
        if (run.state === 'rebooting') return this.move(r, o, h, 'up-wait', now, launches, 'installer finished');
        if (run.state === 'done') return this.move(r, o, h, 'health', now, launches, 'installed system is up');
        if (since > o.deadlineInstallMs) return this.attemptFailed(r, o, h, now, `install deadline: not finished within ${formatMs(o.deadlineInstallMs)} of the boot (run ${run.state}${run.stage ? `, stage ${run.stage}` : ''})`);
        return;
      case 'up-wait':
        if (run.state === 'done') return this.move(r, o, h, 'health', now, launches, 'installed system is up');
        if (since > o.deadlineUpMs) return this.attemptFailed(r, o, h, now, `up deadline: the installed system did not report "up" within ${formatMs(o.deadlineUpMs)}`);
        return;
      case 'health':
        if (!o.health) return this.move(r, o, h, 'done', now, launches, 'no health check configured');
        if (this.inflight.has(this.key(h))) return;
        if (since > o.deadlineUpMs) return this.attemptFailed(r, o, h, now, `health check did not pass within ${formatMs(o.deadlineUpMs)}: ${h.last_error ?? 'no answer'}`);
        launches.push({ kind: 'health', r, h });
        return;
      default:
        return;
    }
  }

  /** Next phase; the phases a host passed while nobody looked (restart) are walked at once. */
  private move(r: RolloutRow, o: RolloutOptions, h: RolloutHostRow, to: RolloutHostRow['state'], at: number, launches: Launch[], why: string): void {
    const now = this.d.clock.now();
    const done = to === 'done';
    this.d.store.updateHost(r.id, h.host, { state: to, phase_at: Math.min(at, now), ...(done ? { finished_at: now, last_error: null } : {}) });
    this.d.store.step(r.id, h.host, h.attempt, to, now, why);
    if (!done) this.observe(r, o, this.d.store.host(r.id, h.host)!, now, launches);
  }

  private attemptFailed(r: RolloutRow, o: RolloutOptions, h: RolloutHostRow, now: number, reason: string): void {
    const { store, installs, runs } = this.d;
    const open = runs.openRun(h.host);
    if (open && open.id === h.run_id) installs.cancel([h.host], `rollout:${r.id}`);
    const retry = h.attempt <= o.retries && !FINAL_ROLLOUT.has(r.state);
    store.updateHost(r.id, h.host, retry ? { state: 'retry', last_error: reason, phase_at: now } : { state: 'failed', last_error: reason, finished_at: now });
    store.step(r.id, h.host, h.attempt, retry ? 'retry' : 'failed', now, reason);
    this.d.log.warn({ rollout: r.id, host: h.host, attempt: h.attempt, retry, reason }, retry ? 'rollout host attempt failed; will retry' : 'rollout host failed');
  }

  private launch(l: Launch): void {
    if (this.stopped) return;
    const k = this.key(l.h);
    if (this.inflight.has(k)) return;
    this.inflight.add(k);
    const p = (l.kind === 'power' ? this.power(l) : this.check(l))
      .catch((e) => this.d.log.error({ err: e, rollout: l.r.id, host: l.h.host }, `rollout ${l.kind} step failed`))
      .finally(() => {
        this.inflight.delete(k);
        this.pending.delete(p);
      });
    this.pending.add(p);
  }

  private async power(l: Launch): Promise<void> {
    const { store } = this.d;
    const { r, h } = l;
    // the step row goes in before the call: after a crash it shows the call may have happened
    store.transaction(() => {
      const again = store.hasStep(r.id, h.host, h.attempt, 'power');
      store.step(r.id, h.host, h.attempt, again ? 'power-again' : 'power', this.d.clock.now(), 'pxe once + power cycle');
    });
    let res: PowerResult;
    try {
      res = await this.d.power.act(h.host, 'pxe');
    } catch (e) {
      res = { ok: false, error: (e as Error).message };
    }
    if (this.stopped) return;
    store.transaction(() => {
      const now = this.d.clock.now();
      const cur = store.host(r.id, h.host);
      // only if the host is still where this call left it (an abort or a newer attempt wins)
      if (!cur || cur.state !== 'power' || cur.attempt !== h.attempt) return;
      store.step(r.id, h.host, h.attempt, res.ok ? 'powered' : 'power-failed', now, res.ok ? (res.instruction ? `manual: ${res.instruction}` : res.detail) : res.error);
      if (res.ok) store.updateHost(r.id, h.host, { state: 'booting', phase_at: now });
      else this.attemptFailed(store.get(r.id)!, optionsOf(r), cur, now, `power: ${res.error ?? 'failed'}`);
    });
  }

  private async check(l: Launch): Promise<void> {
    const { store } = this.d;
    const { r, h } = l;
    const o = optionsOf(r);
    const rh = this.d.holder.index.byName(h.host);
    const res = await this.d.health(o.health!, { name: h.host, address: rh?.host.address });
    if (this.stopped) return;
    store.transaction(() => {
      const now = this.d.clock.now();
      const cur = store.host(r.id, h.host);
      if (!cur || cur.state !== 'health' || cur.attempt !== h.attempt) return;
      if (res.ok) {
        store.updateHost(r.id, h.host, { state: 'done', finished_at: now, last_error: null });
        store.step(r.id, h.host, h.attempt, 'done', now, 'health check passed');
      } else {
        store.updateHost(r.id, h.host, { last_error: `health: ${res.error}` });
      }
    });
  }
}

/** The installer was served to the host (its run left "marked"). */
function booted(run: RunRow): boolean {
  return run.booted_at !== null || run.state !== 'marked';
}
