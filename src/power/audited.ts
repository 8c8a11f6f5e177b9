// The one way a person switches hosts: the CLI, the API and the UI all call `powerHosts`, which
// writes one audit row per host and action with its outcome (status reads are not audited: they
// change nothing). `reinstallWithPower` is reinstall --power: mark, then one-time network boot +
// cycle, each power step an event on the run's timeline.
import type { PowerService } from './service.js';
import type { PowerAction, PowerResult } from './types.js';
import type { AuditSink } from '../web/reinstall.js';
import { reinstallHosts } from '../web/reinstall.js';
import type { InstallService, MarkResult } from '../install/service.js';
import type { RunStore } from '../store/runs.js';

export function describeResult(r: PowerResult): string {
  if (!r.ok) return `failed: ${r.error}`;
  if (r.instruction) return `manual: ${r.instruction}`;
  if (r.action === 'status') return r.state ?? 'unknown';
  return `done${r.detail ? ` (${r.detail})` : ''}`;
}

export async function powerHosts(power: PowerService, names: string[], action: PowerAction, audit: AuditSink, how?: string): Promise<PowerResult[]> {
  const results = await power.run(names, action);
  if (action !== 'status') {
    for (const r of results) audit(`power.${action}`, r.host, [describeResult(r), `${r.attempts} attempt(s)`, how].filter(Boolean).join('; '));
  }
  return results;
}

export type PoweredMark = MarkResult & { power?: PowerResult };

/**
 * Marks the hosts (audited as reinstall.mark), then for each host marked now: `pxe` (one-time
 * network boot, then cycle), audited as power.pxe and recorded as run events kind "power"
 * (stage power.pxe) so the timeline shows when fleetboot booted the host and how that went.
 */
export async function reinstallWithPower(
  deps: { installs: InstallService; store: RunStore; power: PowerService; now?: () => number },
  names: string[],
  by: string,
  audit: AuditSink,
  how?: string,
): Promise<PoweredMark[]> {
  const now = deps.now ?? Date.now;
  const marked: PoweredMark[] = reinstallHosts(deps.installs, names, by, false, audit, how);
  const todo = marked.filter((m) => m.ok);
  for (const m of todo) {
    if (m.ok) deps.store.addEvent({ runId: m.runId, host: m.host, at: now(), kind: 'power', stage: 'power.pxe', message: `network boot once + power cycle requested by ${by}`, source: 'fleetboot' });
  }
  const results = await powerHosts(deps.power, todo.map((m) => m.host), 'pxe', audit, how ? `reinstall --power; ${how}` : 'reinstall --power');
  for (const r of results) {
    const m = todo.find((x) => x.host === r.host)!;
    m.power = r;
    if (m.ok) deps.store.addEvent({ runId: m.runId, host: r.host, at: now(), kind: 'power', stage: r.ok ? 'power.done' : 'power.failed', message: describeResult(r), source: 'fleetboot' });
  }
  return marked;
}
