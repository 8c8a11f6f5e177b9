// Rollout vocabulary shared by the engine, the store, the CLI, the API and the UI.

export type RolloutState = 'scheduled' | 'running' | 'paused' | 'stopped-budget' | 'stopped-canary' | 'aborted' | 'completed';
export type HostState = 'pending' | 'power' | 'booting' | 'installing' | 'up-wait' | 'health' | 'retry' | 'done' | 'failed' | 'cancelled';

/** Rollout states in which nothing new ever starts again. */
export const FINAL_ROLLOUT: ReadonlySet<RolloutState> = new Set(['stopped-budget', 'stopped-canary', 'aborted', 'completed']);
/** Host states that hold a slot of --parallel (an attempt is under way or about to be retried). */
export const ACTIVE_HOST: ReadonlySet<HostState> = new Set(['power', 'booting', 'installing', 'up-wait', 'health', 'retry']);
export const FINAL_HOST: ReadonlySet<HostState> = new Set(['done', 'failed', 'cancelled']);
export const HOST_STATES: readonly HostState[] = ['pending', 'power', 'booting', 'installing', 'up-wait', 'health', 'retry', 'done', 'failed', 'cancelled'];

export interface RolloutOptions {
  canary: number;
  wave: number;
  parallel: number;
  maxFailures: number;
  retries: number;
  deadlineBootMs: number;
  deadlineInstallMs: number;
  deadlineUpMs: number;
  /** shell command (exit 0 = healthy) or http(s) URL (2xx = healthy); {host}/{address} in URLs */
  health?: string;
}

export const DEFAULT_OPTIONS: RolloutOptions = {
  canary: 1,
  wave: 10,
  parallel: 10,
  maxFailures: 0,
  retries: 1,
  deadlineBootMs: 10 * 60_000,
  deadlineInstallMs: 60 * 60_000,
  deadlineUpMs: 20 * 60_000,
};

export interface RolloutRow {
  id: number;
  state: RolloutState;
  selector: string;
  options: string;
  created_by: string;
  created_at: number;
  start_at: number;
  started_at: number | null;
  finished_at: number | null;
  updated_at: number;
  reason: string | null;
}

export interface RolloutHostRow {
  rollout_id: number;
  host: string;
  position: number;
  wave: number;
  state: HostState;
  attempt: number;
  run_id: number | null;
  phase_at: number | null;
  started_at: number | null;
  finished_at: number | null;
  last_error: string | null;
}

export interface StepRow {
  id: number;
  rollout_id: number;
  host: string | null;
  attempt: number;
  kind: string;
  at: number;
  detail: string | null;
}

export type PowerAction = 'status' | 'on' | 'off' | 'cycle' | 'pxe';
export interface PowerResult {
  ok: boolean;
  state?: string;
  error?: string;
  /** manual driver: what a person must do (nothing happened) */
  instruction?: string;
  detail?: string;
}
/** What the engine needs of the power subsystem (src/power: PowerService.act). */
export interface PowerActor {
  act(hostName: string, action: PowerAction): Promise<PowerResult>;
}

/** "90s", "10m", "1h30m", "2h", or plain seconds -> ms; undefined when malformed. */
export function parseDuration(s: string): number | undefined {
  const t = s.trim();
  if (/^\d{1,7}$/.test(t)) return Number(t) * 1000;
  const m = /^(?:(\d{1,4})h)?(?:(\d{1,6})m)?(?:(\d{1,7})s)?$/.exec(t);
  if (!m || t === '') return undefined;
  const ms = ((Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0)) * 60 + Number(m[3] ?? 0)) * 1000;
  return ms > 0 ? ms : undefined;
}

export function formatMs(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m}m${s % 60}s` : `${m}m`;
  return m % 60 ? `${Math.floor(m / 60)}h${m % 60}m` : `${Math.floor(m / 60)}h`;
}
