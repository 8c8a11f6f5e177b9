// Creating and steering rollouts: the CLI, the API and the UI all come through here, with the
// same validation and one audit row per action.
import type { ConfigHolder } from '../config/holder.js';
import type { RunStore } from '../store/runs.js';
import type { InstallService } from '../install/service.js';
import type { AuditSink } from '../web/reinstall.js';
import { selectHosts } from '../web/reinstall.js';
import { FleetbootError } from '../errors.js';
import { RolloutStore } from './store.js';
import { DEFAULT_OPTIONS, FINAL_ROLLOUT, parseDuration, type RolloutOptions, type RolloutRow } from './types.js';

export const MAX_HOSTS = 10_000;

/** What a caller may ask for (CLI flags, API body): strings or numbers, validated here. */
export interface RolloutRequest {
  hosts?: unknown;
  role?: unknown;
  label?: unknown;
  canary?: unknown;
  wave?: unknown;
  parallel?: unknown;
  maxFailures?: unknown;
  retries?: unknown;
  deadlineBoot?: unknown;
  deadlineInstall?: unknown;
  deadlineUp?: unknown;
  health?: unknown;
  at?: unknown;
}

function int(name: string, v: unknown, min: number, max: number, dflt: number): number {
  if (v === undefined || v === null || v === '') return dflt;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,6}$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw new FleetbootError('FB_BAD_REQUEST', `${name} must be an integer from ${min} to ${max}`);
  return n;
}

function dur(name: string, v: unknown, dflt: number): number {
  if (v === undefined || v === null || v === '') return dflt;
  const ms = typeof v === 'number' && Number.isInteger(v) && v > 0 ? v * 1000 : typeof v === 'string' ? parseDuration(v) : undefined;
  if (ms === undefined || ms > 7 * 86_400_000) throw new FleetbootError('FB_BAD_REQUEST', `${name} must be a duration like 90s, 10m, 1h30m (at most 7 days)`);
  return ms;
}

/** --at: ISO 8601 with a zone, "HH:MM" (today, or tomorrow if past; UTC), or "+30m". */
export function parseAt(v: unknown, now: number): number {
  if (v === undefined || v === null || v === '') return now;
  if (typeof v !== 'string' || v.length > 40) throw new FleetbootError('FB_BAD_REQUEST', 'at must be a time: ISO 8601 (2026-12-07T22:00:00Z), HH:MM (UTC) or +DURATION');
  if (v.startsWith('+')) {
    const ms = parseDuration(v.slice(1));
    if (ms === undefined) throw new FleetbootError('FB_BAD_REQUEST', `at: bad duration "${v}"`);
    return now + ms;
  }
  const hm = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(v);
  if (hm) {
    const d = new Date(now);
    let t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), Number(hm[1]), Number(hm[2]));
    if (t < now) t += 86_400_000;
    return t;
  }
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(v)) throw new FleetbootError('FB_BAD_REQUEST', 'at must be ISO 8601 with a zone (Z or +01:00), HH:MM (UTC) or +DURATION');
  const t = Date.parse(v);
  if (!Number.isFinite(t)) throw new FleetbootError('FB_BAD_REQUEST', `at: not a time: ${v}`);
  if (t > now + 30 * 86_400_000) throw new FleetbootError('FB_BAD_REQUEST', 'at is more than 30 days ahead');
  return Math.max(t, now);
}

export interface Plan {
  names: string[];
  selector: string;
  options: RolloutOptions;
  startAt: number;
  waves: string[][]; // [0] = canary
}

export function planRollout(holder: ConfigHolder, runs: RunStore, store: RolloutStore, req: RolloutRequest, now: number): Plan {
  const sel = selectHosts(holder, runs, { hosts: req.hosts, role: req.role, label: req.label });
  for (const n of sel.names) if (!holder.index.byName(n)) throw new FleetbootError('FB_UNKNOWN_HOST', `unknown host "${n}"`);
  if (sel.names.length > MAX_HOSTS) throw new FleetbootError('FB_BAD_REQUEST', `at most ${MAX_HOSTS} hosts per rollout`);
  // inventory order: the plan is the same whatever order the caller named the hosts in
  const order = new Map(holder.index.all().map((h, i) => [h.host.name, i]));
  const names = [...sel.names].sort((a, b) => order.get(a)! - order.get(b)!);
  const wave = int('wave', req.wave, 1, MAX_HOSTS, DEFAULT_OPTIONS.wave);
  const options: RolloutOptions = {
    canary: int('canary', req.canary, 0, MAX_HOSTS, DEFAULT_OPTIONS.canary),
    wave,
    parallel: int('parallel', req.parallel, 1, MAX_HOSTS, wave),
    maxFailures: int('max-failures', req.maxFailures, 0, MAX_HOSTS, DEFAULT_OPTIONS.maxFailures),
    retries: int('retries', req.retries, 0, 10, DEFAULT_OPTIONS.retries),
    deadlineBootMs: dur('deadline-boot', req.deadlineBoot, DEFAULT_OPTIONS.deadlineBootMs),
    deadlineInstallMs: dur('deadline-install', req.deadlineInstall, DEFAULT_OPTIONS.deadlineInstallMs),
    deadlineUpMs: dur('deadline-up', req.deadlineUp, DEFAULT_OPTIONS.deadlineUpMs),
  };
  if (req.health !== undefined && req.health !== null && req.health !== '') {
    if (typeof req.health !== 'string' || req.health.length > 2000 || /[\0\r\n]/.test(req.health)) throw new FleetbootError('FB_BAD_REQUEST', 'health must be one line: a command or an http(s) URL (at most 2000 characters)');
    if (/^https?:/i.test(req.health)) {
      try {
        new URL(req.health.replace(/\{(host|address)\}/g, 'x'));
      } catch {
        throw new FleetbootError('FB_BAD_REQUEST', `health: not a URL: ${req.health}`);
      }
    }
    options.health = req.health;
  }
  const busy = store.busyHosts();
  const taken = names.filter((n) => busy.has(n));
  if (taken.length) throw new FleetbootError('FB_CONFLICT', `already in an unfinished rollout: ${taken.map((n) => `${n} (rollout ${busy.get(n)})`).join(', ')}`, { hosts: taken });
  const canary = Math.min(options.canary, names.length);
  const waves: string[][] = [names.slice(0, canary)];
  for (let i = canary; i < names.length; i += wave) waves.push(names.slice(i, i + wave));
  return { names, selector: sel.how ?? `hosts ${names.join(',')}`.slice(0, 500), options, startAt: parseAt(req.at, now), waves };
}

export function createRollout(store: RolloutStore, plan: Plan, by: string, now: number, audit: AuditSink): RolloutRow {
  return store.transaction(() => {
    // re-checked inside the write lock: two starts at once cannot both take a host
    const busy = store.busyHosts();
    const taken = plan.names.filter((n) => busy.has(n));
    if (taken.length) throw new FleetbootError('FB_CONFLICT', `already in an unfinished rollout: ${taken.join(', ')}`, { hosts: taken });
    const hosts = plan.waves.flatMap((w, i) => w.map((host) => ({ host, wave: i })));
    const r = store.create({ selector: plan.selector, options: plan.options, createdBy: by, now, startAt: plan.startAt, hosts });
    audit('rollout.start', `rollout ${r.id}`, `${plan.names.length} host(s), ${plan.selector}; ${describeOptions(plan.options)}${plan.startAt > now ? `; at ${new Date(plan.startAt).toISOString()}` : ''}`);
    return r;
  });
}

export function describeOptions(o: RolloutOptions): string {
  const d = (ms: number) => `${Math.round(ms / 1000)}s`;
  return `canary ${o.canary}, wave ${o.wave}, parallel ${o.parallel}, max-failures ${o.maxFailures}, retries ${o.retries}, deadlines boot ${d(o.deadlineBootMs)} install ${d(o.deadlineInstallMs)} up ${d(o.deadlineUpMs)}${o.health ? `, health ${o.health}` : ''}`;
}

export type Control = 'pause' | 'resume' | 'abort';

/**
 * Pause: nothing new starts (hosts already installing go on and are followed). Resume: from
 * paused. Abort: final; hosts whose installer has not started get their mark cancelled (the
 * engine does it on its next tick, or here when `installs` is given: the CLI without a daemon).
 */
export function controlRollout(store: RolloutStore, id: number, action: Control, by: string, now: number, audit: AuditSink, installs?: InstallService, runs?: RunStore): RolloutRow {
  return store.transaction(() => {
    const r = store.get(id);
    if (!r) throw new FleetbootError('FB_NOT_FOUND', `no rollout ${id}`);
    if (FINAL_ROLLOUT.has(r.state)) throw new FleetbootError('FB_CONFLICT', `rollout ${id} is ${r.state}; it cannot ${action}`);
    if (action === 'pause' && r.state === 'paused') throw new FleetbootError('FB_CONFLICT', `rollout ${id} is already paused`);
    if (action === 'resume' && r.state !== 'paused') throw new FleetbootError('FB_CONFLICT', `rollout ${id} is ${r.state}, not paused`);
    const to = action === 'pause' ? 'paused' : action === 'resume' ? (now >= r.start_at ? 'running' : 'scheduled') : 'aborted';
    store.setState(id, to, now, `${action} by ${by}`, action === 'abort');
    store.step(id, null, 0, `rollout.${action}`, now, `by ${by}`);
    if (action === 'abort' && installs && runs) {
      for (const h of store.hosts(id)) {
        if (h.state === 'retry') {
          store.updateHost(id, h.host, { state: 'cancelled', finished_at: now });
          continue;
        }
        if (h.state !== 'power' && h.state !== 'booting') continue;
        const run = h.run_id ? runs.run(h.run_id) : undefined;
        if (run && run.state === 'marked' && run.booted_at === null) {
          installs.cancel([h.host], `rollout:${id}`);
          store.updateHost(id, h.host, { state: 'cancelled', finished_at: now, last_error: 'rollout aborted before the installer started' });
          store.step(id, h.host, h.attempt, 'cancelled', now, 'rollout aborted');
        }
      }
    }
    audit(`rollout.${action}`, `rollout ${id}`, `${r.state} -> ${to}`);
    return store.get(id)!;
  });
}
