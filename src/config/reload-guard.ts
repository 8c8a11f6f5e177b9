// The shrink guard: a reload that would remove every host, or a large share of them, is held
// instead of applied, until an operator confirms that exact version of the files
// (`fleetboot reload --confirm-shrink`). A truncated inventory (editor crash, `: > f` followed by
// a slow write, a full disk) parses as valid YAML with fewer hosts; applied live it sends hosts
// in the middle of an install to local boot and forgets every mark. Removing a host or two is
// an ordinary edit and goes through.
import { z } from 'zod';
import type { Config } from './schema.js';

export const reloadConfigSchema = z
  .object({
    /** hold reloads that remove all hosts or more than the limits below (false: apply every valid reload) */
    shrinkGuard: z.boolean().default(true),
    /** hold when more than this percentage of the running hosts would be removed ... */
    maxRemovedPercent: z.number().min(0).max(100).default(25),
    /** ... and more than this many hosts (so a small lab can still drop one host) */
    maxRemovedHosts: z.number().int().min(0).default(2),
    /** a changed file must be unchanged (size, mtime) this long before a watched change is read */
    settleMs: z.number().int().min(0).max(60_000).default(1000),
  })
  .strict();

export type ReloadConfig = z.infer<typeof reloadConfigSchema>;

export interface ShrinkVerdict {
  before: number;
  after: number;
  /** names of the running hosts the new files no longer have */
  removed: string[];
}

/**
 * Whether going from `running` to `next` must be confirmed. The limits are the RUNNING config's:
 * a half-written config file must not be able to switch the guard off in the same reload.
 */
export function shrinkVerdict(running: Readonly<Config>, next: Readonly<Config>): ShrinkVerdict | null {
  const g = running.reload;
  if (!g.shrinkGuard) return null;
  const kept = new Set(next.hosts.map((h) => h.name));
  const removed = running.hosts.map((h) => h.name).filter((n) => !kept.has(n));
  const before = running.hosts.length;
  if (!removed.length) return null;
  const all = next.hosts.length === 0;
  const large = removed.length > g.maxRemovedHosts && removed.length * 100 > g.maxRemovedPercent * before;
  return all || large ? { before, after: next.hosts.length, removed } : null;
}

/** One line for the log, /healthz and the CLI. */
export function describeShrink(v: ShrinkVerdict, fingerprint: string): string {
  const names = v.removed.slice(0, 10).join(', ') + (v.removed.length > 10 ? `, … (${v.removed.length - 10} more)` : '');
  return `pending shrink: ${v.removed.length} of ${v.before} hosts removed (${v.after} left; gone: ${names}); not applied, the running inventory stays; confirm with \`fleetboot reload --confirm-shrink\` (files ${fingerprint}), or restore the file`;
}
