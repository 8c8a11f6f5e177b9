// The one way a reinstall is marked or cancelled by a person: the JSON API, the UI forms and
// the `fleetboot reinstall` CLI all come through `reinstallHosts`, which writes one audit row
// per host with the outcome. The audit sink is a required argument, so no caller can skip it.
import type { ConfigHolder } from '../config/holder.js';
import type { RunStore } from '../store/runs.js';
import type { InstallService, MarkResult } from '../install/service.js';
import { hostRows } from '../install/view.js';
import { FleetbootError } from '../errors.js';
import { bootFilesMissing } from '../boot/missing.js';
import type { AuthStore } from './auth.js';

/** Records one audit row for the current caller. */
export type AuditSink = (action: string, target: string | null, detail?: string) => void;

/** An audit sink writing as `actor` (the CLI: `cli:<unix user>`). */
export function auditAs(auth: AuthStore, actor: string, ip?: string): AuditSink {
  return (action, target, detail) => auth.audit({ actor, action, target, detail, ip });
}

export interface Selection {
  /** explicit host names */
  hosts?: unknown;
  role?: unknown;
  label?: unknown;
}

const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * Resolves { hosts: [..] } and/or a { role, label } selection to host names (union). A
 * selection that matches nothing is an error of its own: on a command that wipes disks, a
 * typo in a role name must not pass silently as "nothing to do".
 */
export function selectHosts(holder: ConfigHolder, store: RunStore, sel: Selection): { names: string[]; how?: string } {
  if (sel.hosts !== undefined && (!Array.isArray(sel.hosts) || sel.hosts.some((h) => typeof h !== 'string'))) {
    throw new FleetbootError('FB_BAD_REQUEST', '"hosts" must be an array of host names');
  }
  for (const k of ['role', 'label'] as const) {
    if (sel[k] !== undefined && typeof sel[k] !== 'string') throw new FleetbootError('FB_BAD_REQUEST', `"${k}" must be a string`);
  }
  const names = new Set<string>((sel.hosts as string[] | undefined) ?? []);
  const role = str(sel.role);
  const label = str(sel.label);
  const parts = [role && `role=${role}`, label && `label=${label}`].filter(Boolean) as string[];
  if (role || label) {
    const matched = hostRows(holder, store, { role, label });
    if (!matched.length) {
      throw new FleetbootError('FB_NO_MATCH', `no host matches ${parts.join(' ')}`, { role: role ?? null, label: label ?? null });
    }
    for (const h of matched) names.add(h.name);
  }
  if (!names.size) throw new FleetbootError('FB_BAD_REQUEST', 'name hosts ({"hosts": [...]}) or a selection ({"role": ..} / {"label": ..})');
  return { names: [...names], how: parts.length ? `selection ${parts.join(' ')}` : undefined };
}

/** Marks or cancels and audits each host's outcome as `by`. */
/**
 * force: mark even hosts whose role's boot files are missing (src/boot/missing.ts); each such
 * mark is audited with the paths that were missing.
 */
export function reinstallHosts(installs: InstallService, names: string[], by: string, cancel: boolean, audit: AuditSink, how?: string, force = false): MarkResult[] {
  const results = cancel ? installs.cancel(names, by) : installs.mark(names, by, { force });
  for (const r of results) {
    let outcome = r.ok ? (cancel ? `cancelled run ${r.runId}` : r.already ? `already marked (run ${r.runId})` : `marked (run ${r.runId})`) : `refused: ${r.error}`;
    if (r.ok && r.forced) outcome += `; FORCED although boot files are missing: ${r.forced.join(', ')}`;
    audit(cancel ? 'reinstall.cancel' : 'reinstall.mark', r.host, how ? `${outcome}; ${how}` : outcome);
  }
  return results;
}

/** The "force" field of an API body or form: absent/false, or true ("on"/"1" from a checkbox). */
export function forceFlag(v: unknown): boolean {
  if (v === undefined || v === false || v === null) return false;
  if (v === true || v === 'on' || v === '1' || v === 'true') return true;
  throw new FleetbootError('FB_BAD_REQUEST', '"force" must be a boolean');
}

/** role -> missing boot files, for the install roles of `names` that cannot boot. */
export function unbootable(holder: ConfigHolder, names: string[]): Record<string, string[]> {
  const seen = new Map<string, string[]>();
  for (const n of names) {
    const rh = holder.index.byName(n);
    if (rh && !seen.has(rh.roleName)) seen.set(rh.roleName, bootFilesMissing(holder.config, rh.roleName));
  }
  return Object.fromEntries([...seen].filter(([, m]) => m.length));
}

/**
 * Marking is all or nothing when a role cannot boot: throws 409 FB_CONFLICT naming the roles
 * and their missing paths (details.missing), so no host of the batch is marked.
 */
export function refuseUnbootable(holder: ConfigHolder, names: string[]): void {
  const missing = unbootable(holder, names);
  const roles = Object.keys(missing);
  if (!roles.length) return;
  const hosts = names.filter((n) => roles.includes(holder.index.byName(n)?.roleName ?? ''));
  throw new FleetbootError(
    'FB_CONFLICT',
    `cannot boot: ${roles.map((r) => `role "${r}" is missing ${missing[r].join(', ')}`).join('; ')}; nothing marked (send "force": true to mark anyway)`,
    { missing, hosts },
  );
}
