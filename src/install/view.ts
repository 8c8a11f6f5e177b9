// Read models for the CLI, API and UI: the hosts table and a host's detail.
import type { ConfigHolder } from '../config/holder.js';
import type { RunStore, RunRow, EventRow } from '../store/runs.js';
import type { InstallState } from '../boot/types.js';

// Rough share of a Debian install done at each reported stage; shown as a progress bar.
const STAGE_PROGRESS: Record<string, number> = {
  pxe: 5,
  early_command: 10,
  partitioning: 20,
  'base-install': 35,
  packages: 60,
  late_command: 85,
  done: 90,
  up: 100,
};

export function progressOf(run: RunRow | undefined): number {
  if (!run) return 0;
  if (run.state === 'done') return 100;
  if (run.state === 'marked' || run.state === 'cancelled') return 0;
  if (run.state === 'rebooting') return 95;
  if (run.state === 'booting') return 5;
  return STAGE_PROGRESS[run.stage ?? ''] ?? 15;
}

export interface HostRow {
  name: string;
  macs: string[];
  roles: string[];
  labels: string[];
  address: string | null;
  marked: boolean;
  state: InstallState | 'idle';
  stage: string | null;
  message: string | null;
  progress: number;
  runId: number | null;
  lastDurationMs: number | null;
  updatedAt: number | null;
  /** when the newest run entered its state (time in state); null when idle */
  stateSince: number | null;
  /** failed / stalled / cancelled: why (the state change's reason), shown in the table */
  reason: string | null;
}

const EXPLAINED = new Set(['failed', 'stalled', 'cancelled']);
const FAILURE_STAGES = new Set(['failed', 'error', 'fail']);

/** The state change's reason, with the installer's own words when it reported the failure. */
function reasonOf(run: RunRow, stateMessage: string | null): string | null {
  if (run.message && FAILURE_STAGES.has(run.stage ?? '')) return stateMessage && stateMessage !== run.message ? `${stateMessage}: ${run.message}` : run.message;
  return stateMessage ?? run.message;
}

export interface HostFilter {
  name?: string; // substring
  role?: string;
  state?: string;
  label?: string;
}

export function hostRows(holder: ConfigHolder, store: RunStore, f: HostFilter = {}): HostRow[] {
  const latest = store.latestRuns();
  const marks = store.marks();
  const durations = store.lastDurations();
  const stateEvents = store.latestStateEvents();
  return holder.index
    .all()
    .map((rh): HostRow => {
      const run = latest.get(rh.host.name);
      return {
        name: rh.host.name,
        macs: rh.host.macs,
        roles: rh.host.roles,
        labels: rh.host.labels,
        address: rh.host.address ?? null,
        marked: marks.has(rh.host.name),
        state: run?.state ?? 'idle',
        stage: run?.stage ?? null,
        message: run?.message ?? null,
        progress: progressOf(run),
        runId: run?.id ?? null,
        lastDurationMs: durations.get(rh.host.name) ?? null,
        updatedAt: run?.updated_at ?? null,
        stateSince: run ? (stateEvents.get(rh.host.name)?.at ?? run.created_at) : null,
        reason: run && EXPLAINED.has(run.state) ? reasonOf(run, stateEvents.get(rh.host.name)?.message ?? null) : null,
      };
    })
    .filter((h) => (!f.name || h.name.includes(f.name)) && (!f.role || h.roles.includes(f.role)) && (!f.state || h.state === f.state) && (!f.label || h.labels.includes(f.label)));
}

export function publicRun(r: RunRow) {
  // never expose the token: the API is for admins, but tokens are installer keys
  const { token: _t, token_expires_at: _e, ...rest } = r;
  return rest;
}

export function hostDetail(holder: ConfigHolder, store: RunStore, name: string): { host: HostRow; runs: ReturnType<typeof publicRun>[]; events: EventRow[] } | null {
  const rh = holder.index.byName(name);
  if (!rh) return null;
  const row = hostRows(holder, store, {}).find((h) => h.name === name)!;
  const runs = store.runs(name).map(publicRun);
  const latest = runs[0];
  const events = latest ? store.events({ runId: latest.id, limit: 5000 }) : [];
  return { host: row, runs, events };
}

/** One line per event, times relative to the run start: `fleetboot events HOST` prints this. */
export function timeline(events: EventRow[]): string[] {
  if (!events.length) return [];
  const t0 = events[0].at;
  return events.map((e) => {
    const t = ((e.at - t0) / 1000).toFixed(1).padStart(8);
    const what = e.kind === 'log' ? `log   ${e.message ?? ''}` : `${e.kind.padEnd(8)} ${e.stage ?? ''}${e.message ? `  ${e.message}` : ''}`;
    return `${new Date(e.at).toISOString()} +${t}s  ${what}`;
  });
}
