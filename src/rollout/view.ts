// Read model of a rollout for the CLI, the API and the UI: waves, hosts per state, elapsed time,
// an estimate of the time left, and the failures with their reasons.
import { RolloutStore, optionsOf } from './store.js';
import { FINAL_HOST, type HostState, type RolloutHostRow, type RolloutOptions, type RolloutRow, type StepRow } from './types.js';

export interface RolloutSummary {
  id: number;
  state: RolloutRow['state'];
  selector: string;
  options: RolloutOptions;
  createdBy: string;
  createdAt: number;
  startAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  reason: string | null;
  hosts: number;
  counts: Record<HostState, number>;
  failures: number;
  elapsedMs: number | null;
  /** null until one host finished (nothing to estimate from) or when the rollout is final */
  etaMs: number | null;
  currentWave: number | null;
}

export interface RolloutDetail extends RolloutSummary {
  waves: { wave: number; canary: boolean; hosts: RolloutHostRow[]; counts: Partial<Record<HostState, number>> }[];
  failed: { host: string; attempt: number; reason: string | null }[];
  steps: StepRow[];
}

export function summary(store: RolloutStore, r: RolloutRow, now: number): RolloutSummary {
  const o = optionsOf(r);
  const hosts = store.hosts(r.id);
  const counts = store.counts(r.id);
  const open = hosts.filter((h) => !FINAL_HOST.has(h.state));
  const final = ['stopped-budget', 'stopped-canary', 'aborted', 'completed'].includes(r.state);
  return {
    id: r.id,
    state: r.state,
    selector: r.selector,
    options: o,
    createdBy: r.created_by,
    createdAt: r.created_at,
    startAt: r.start_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    reason: r.reason,
    hosts: hosts.length,
    counts,
    failures: counts.failed,
    elapsedMs: r.started_at === null ? null : (r.finished_at ?? now) - r.started_at,
    etaMs: final ? null : estimate(hosts, o, now),
    currentWave: open.length ? Math.min(...open.map((h) => h.wave)) : null,
  };
}

/**
 * Time left: the mean time of the hosts done so far (mark to done) times the rounds of
 * --parallel still to run, wave by wave (a wave waits for the one before it), minus what the
 * hosts under way have already spent. A rough figure for people, not a promise.
 */
export function estimate(hosts: RolloutHostRow[], o: RolloutOptions, now: number): number | null {
  const done = hosts.filter((h) => h.state === 'done' && h.started_at !== null && h.finished_at !== null);
  if (!done.length) return null;
  const per = done.reduce((s, h) => s + (h.finished_at! - h.started_at!), 0) / done.length;
  const byWave = new Map<number, RolloutHostRow[]>();
  for (const h of hosts) if (!FINAL_HOST.has(h.state)) byWave.set(h.wave, [...(byWave.get(h.wave) ?? []), h]);
  let total = 0;
  for (const [, list] of [...byWave].sort((a, b) => a[0] - b[0])) {
    const started = list.filter((h) => h.state !== 'pending');
    const pending = list.length - started.length;
    const running = started.length ? Math.max(0, per - Math.max(...started.map((h) => now - (h.started_at ?? now)))) : 0;
    total += Math.max(running, 0) + Math.ceil(pending / o.parallel) * per;
  }
  return Math.round(total);
}

export function detail(store: RolloutStore, r: RolloutRow, now: number): RolloutDetail {
  const s = summary(store, r, now);
  const hosts = store.hosts(r.id);
  const waves = new Map<number, RolloutHostRow[]>();
  for (const h of hosts) waves.set(h.wave, [...(waves.get(h.wave) ?? []), h]);
  return {
    ...s,
    waves: [...waves].sort((a, b) => a[0] - b[0]).map(([wave, list]) => {
      const counts: Partial<Record<HostState, number>> = {};
      for (const h of list) counts[h.state] = (counts[h.state] ?? 0) + 1;
      return { wave, canary: wave === 0, hosts: list, counts };
    }),
    failed: hosts.filter((h) => h.state === 'failed' || (h.state === 'cancelled' && h.last_error)).map((h) => ({ host: h.host, attempt: h.attempt, reason: h.last_error })),
    steps: store.steps(r.id),
  };
}
