// Which settings a reload cannot apply. Sockets, the database handle and the optional
// subsystems are set up once at start from the config of that moment; everything else reads
// the current config on every use (install.*, boot.*, roles, hosts, paths.templates,
// server.publicUrl) or is applied on reload (log.level).
import type { Config } from './schema.js';

interface RestartOnly {
  path: [keyof Config, ...string[]];
  /** only when this holds for the running config (e.g. TFTP really runs) */
  when?: (running: Config) => boolean;
}

export const RESTART_ONLY: readonly RestartOnly[] = [
  { path: ['http'] }, // the listening socket and the app's trust-proxy setting
  { path: ['paths', 'db'] }, // opened at start
  // /assets over HTTP follows paths.assets live; the TFTP server keeps the root it started with
  { path: ['paths', 'assets'], when: (c) => c.tftp.enabled },
  // URLs follow server.address live; DHCP replies keep the next-server it started with, and
  // TFTP (without tftp.address) the address its listener and transfer sockets bound
  { path: ['server', 'address'], when: (c) => c.dhcp.enabled || (c.tftp.enabled && !c.tftp.address) },
  { path: ['log', 'pretty'] }, // the log destination
  { path: ['syslog'] },
  { path: ['tftp'] },
  { path: ['dhcp'] },
  { path: ['cache'] },
  { path: ['web'] },
];

const get = (o: unknown, path: readonly string[]) => path.reduce<unknown>((n, k) => (n && typeof n === 'object' ? (n as Record<string, unknown>)[k] : undefined), o);
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Restart-only settings whose value in `next` differs from the running daemon's (the config it
 * started with): "tftp.address", "dhcp.pool", ... A whole section is compared key by key, so
 * the names say which setting changed.
 */
export function restartNeeded(running: Config, next: Config): string[] {
  const out: string[] = [];
  for (const r of RESTART_ONLY) {
    if (r.when && !r.when(running)) continue;
    const a = get(running, r.path);
    const b = get(next, r.path);
    if (r.path.length === 1 && a && b && typeof a === 'object' && typeof b === 'object') {
      const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
      for (const k of keys) if (!same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) out.push(`${r.path[0]}.${k}`);
    } else if (!same(a, b)) out.push(r.path.join('.'));
  }
  return out;
}
