// Holds the current, frozen configuration and its inventory index. Reload swaps both at once
// or not at all: a bad file leaves the running config untouched and says why.
import { EventEmitter } from 'node:events';
import type { Logger } from '../log.js';
import { loadConfig, formatError, type LoadedConfig, type LoadOptions, type ConfigError } from './load.js';
import type { Config } from './schema.js';
import type { Host, Role } from './inventory.js';
import { shrinkVerdict, describeShrink, type ShrinkVerdict } from './reload-guard.js';

/** A valid reload the shrink guard holds until confirmed (reload-guard.ts). */
export interface HeldReload extends ShrinkVerdict {
  fingerprint: string;
  message: string;
}

/** A host with its roles resolved: what templates and the boot decision see. */
/** The install role: validation guarantees it has kernel, initrd and template. */
export type InstallRole = Role & Required<Pick<Role, 'kernel' | 'initrd' | 'template'>>;

export interface ResolvedHost {
  host: Host;
  /** the install role (first in host.roles) */
  roleName: string;
  role: InstallRole;
  /** packages of all the host's roles, de-duplicated, in order */
  packages: string[];
  /** role vars (in role order), then host vars on top */
  vars: Record<string, unknown>;
}

export class InventoryIndex {
  private readonly macs = new Map<string, ResolvedHost>();
  private readonly names = new Map<string, ResolvedHost>();

  constructor(config: Config) {
    for (const host of config.hosts) {
      const roles = host.roles.map((r) => config.roles[r]);
      const vars: Record<string, unknown> = {};
      for (const r of roles) Object.assign(vars, r.vars);
      Object.assign(vars, host.vars);
      const resolved: ResolvedHost = {
        host,
        roleName: host.roles[0],
        role: roles[0] as InstallRole,
        packages: [...new Set(roles.flatMap((r) => r.packages))],
        vars,
      };
      this.names.set(host.name, resolved);
      for (const m of host.macs) this.macs.set(m, resolved);
    }
  }

  byMac(mac: string): ResolvedHost | undefined {
    return this.macs.get(normaliseMac(mac) ?? '');
  }

  byName(name: string): ResolvedHost | undefined {
    return this.names.get(name);
  }

  all(): ResolvedHost[] {
    return [...this.names.values()];
  }
}

/** "52-54-00-AA-bb-cc", "525400aabbcc" -> "52:54:00:aa:bb:cc"; null if not a MAC. */
export function normaliseMac(raw: string): string | null {
  const hex = raw.trim().toLowerCase().replace(/[:\-.]/g, '');
  if (!/^[0-9a-f]{12}$/.test(hex)) return null;
  return hex.match(/../g)!.join(':');
}

export class ConfigHolder extends EventEmitter {
  private loaded: LoadedConfig;
  private idx: InventoryIndex;

  constructor(initial: LoadedConfig, private readonly opts: LoadOptions = {}, private readonly log?: Logger) {
    super();
    this.loaded = initial;
    this.idx = new InventoryIndex(initial.config);
  }

  get current(): LoadedConfig {
    return this.loaded;
  }
  get config(): Readonly<Config> {
    return this.loaded.config;
  }
  /** Port HTTP really listens on (differs from config when it says 0: tests, ephemeral). */
  boundHttpPort?: number;
  /** Base URL for every URL we hand out (scripts, answer files, DHCP boot file names). */
  get publicUrl(): string {
    const c = this.loaded.config;
    if (c.server.publicUrl) return this.loaded.publicUrl;
    return `http://${c.server.address}:${this.boundHttpPort ?? c.http.port}`;
  }
  get index(): InventoryIndex {
    return this.idx;
  }

  /**
   * Re-reads the files. On error the old config stays; returns the errors. `files` is what the
   * attempt read (or tried to), so a watcher can follow a file the new config names.
   */
  /** the reload the shrink guard is holding, if any */
  held?: HeldReload;

  /**
   * `confirm`: the fingerprint of the files an operator confirmed a shrink of; only that exact
   * version is applied past the guard.
   */
  reload(opts: { confirm?: string } = {}): { ok: boolean; errors: ConfigError[]; files: string[]; held?: HeldReload } {
    const r = loadConfig(this.opts);
    if (!r.ok) {
      this.held = undefined;
      this.log?.error({ errors: r.errors.map(formatError) }, 'config reload failed; keeping the running config');
      this.emit('reload-failed', r.errors);
      return { ok: false, errors: r.errors, files: r.files };
    }
    const verdict = shrinkVerdict(this.loaded.config, r.loaded.config);
    if (verdict && opts.confirm !== r.loaded.fingerprint) {
      const held: HeldReload = { ...verdict, fingerprint: r.loaded.fingerprint, message: describeShrink(verdict, r.loaded.fingerprint) };
      const again = this.held?.fingerprint === held.fingerprint;
      this.held = held;
      // the same held files seen again (a touch, SIGHUP) are not news
      if (!again) this.log?.warn({ removed: verdict.removed.length, before: verdict.before, after: verdict.after, fingerprint: held.fingerprint }, held.message);
      this.emit('reload-held', held);
      return { ok: false, errors: [], files: r.loaded.files, held };
    }
    if (verdict) this.log?.warn({ removed: verdict.removed.length, before: verdict.before, after: verdict.after, fingerprint: r.loaded.fingerprint }, 'shrink confirmed; applying');
    this.held = undefined;
    const prev = this.loaded;
    this.loaded = r.loaded;
    this.idx = new InventoryIndex(r.loaded.config);
    for (const w of r.loaded.warnings) this.log?.warn(formatError(w));
    this.log?.info({ hosts: r.loaded.config.hosts.length, roles: Object.keys(r.loaded.config.roles).length }, 'config reloaded');
    this.emit('reloaded', r.loaded, prev);
    return { ok: true, errors: [], files: r.loaded.files };
  }
}
