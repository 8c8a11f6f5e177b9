// What the state commands (hosts, reinstall, events) share: the SQLite file opened directly
// (WAL: safe next to a running daemon), the run store and the install service over it.
import type { LoadedConfig, LoadOptions } from '../config/load.js';
import { createLogger } from '../log.js';
import { ConfigHolder } from '../config/holder.js';
import { openDatabase } from '../store/db.js';
import { RunStore } from '../store/runs.js';
import { InstallService } from '../install/service.js';
import { STATES } from '../web/states.js';
import { didYouMean, UsageError } from './hint.js';

export function stateContext(loaded: LoadedConfig, loadOptions?: LoadOptions) {
  const log = createLogger({ level: 'warn', destination: 2 });
  const holder = new ConfigHolder(loaded, loadOptions ?? {});
  const db = openDatabase(loaded.config.paths.db);
  const store = new RunStore(db);
  return { log, holder, db, store, installs: new InstallService(store, holder, log) };
}

export const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * Checks --role / --label / --state values against what the inventory has, before anything
 * runs: a typo is a usage error with the closest valid value, never an empty selection.
 */
export function checkSelectors(loaded: LoadedConfig, sel: { role?: string; label?: string; state?: string }): void {
  const c = loaded.config;
  if (sel.role !== undefined && !c.roles[sel.role]) {
    throw new UsageError(`unknown role "${sel.role}"${didYouMean(sel.role, Object.keys(c.roles))} (roles: ${Object.keys(c.roles).join(', ') || 'none'})`);
  }
  if (sel.label !== undefined) {
    const labels = new Set(c.hosts.flatMap((h) => h.labels));
    if (!labels.has(sel.label)) throw new UsageError(`no host has label "${sel.label}"${didYouMean(sel.label, labels)}`);
  }
  if (sel.state !== undefined && !(STATES as readonly string[]).includes(sel.state)) {
    throw new UsageError(`unknown state "${sel.state}"${didYouMean(sel.state, STATES)} (states: ${STATES.join(', ')})`);
  }
}

/** Every named host must exist; the error names all unknown ones, each with its closest name. */
export function checkHostNames(loaded: LoadedConfig, names: string[]): void {
  const known = new Set(loaded.config.hosts.map((h) => h.name));
  const bad = names.filter((n) => !known.has(n));
  if (bad.length) throw new UsageError(bad.map((n) => `unknown host "${n}"${didYouMean(n, known)}`).join('; '));
}
