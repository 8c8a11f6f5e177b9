// Loads config (+ optional separate inventory) from YAML, applies FLEETBOOT_* env overrides,
// validates everything against the one schema and reports every problem at once: each error
// names the file and line, or the environment variable, it comes from. The config file and the
// inventory are parsed independently, each config section, role and host is validated on its
// own, and every cross-check whose inputs are valid runs. A config is either wholly valid (and
// then deep-frozen) or not loaded at all.
import { readFileSync, existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { configSchema, type Config } from './schema.js';
import { validateInventory, type CheckedInventory } from './inventory.js';
import { applyEnv, type EnvLeaf } from './env.js';
import { DEMO_CONFIG_YAML, DEMO_NAME } from './demo.js';
import { packageRoot } from './package-root.js';
import { fromZod, type Issue } from './issues.js';
import { checkBootAndDhcp, checkRoles, type ValidSections } from './checks.js';
import { contentOf, findSecrets, formatPath, lineOf, readYaml, salvageString, type Source } from './yaml-source.js';

export { formatPath } from './yaml-source.js';

export interface ConfigError {
  file: string; // file name, "<demo>" or "env"
  line?: number;
  /** the FLEETBOOT_* variable the value came from (file is then "env") */
  env?: string;
  path: string; // dotted path, e.g. hosts[2].macs[0]
  message: string;
}

export interface LoadedConfig {
  config: Readonly<Config>;
  /** files the config was read from (watched for reload) */
  files: string[];
  /** directory relative paths in the config file are resolved against */
  baseDir: string;
  publicUrl: string;
  warnings: ConfigError[];
}

/** On failure, `files` still lists what was (or would have been) read: reload watches them. */
export type LoadResult = { ok: true; loaded: LoadedConfig } | { ok: false; errors: ConfigError[]; files: string[] };

export interface LoadOptions {
  file?: string; // undefined -> embedded demo
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

// Relative paths are relative to where they were written: a value in the config file to that
// file's directory (the demo's to fleetboot's package directory), a FLEETBOOT_* value to the
// working directory. Resolved here, so every subsystem sees absolute paths.
const PATH_SETTINGS = [['paths', 'db'], ['paths', 'assets'], ['paths', 'templates'], ['paths', 'images'], ['cache', 'dir'], ['web', 'https', 'dir']] as const;

type Path = (string | number)[];

export function loadConfig(opts: LoadOptions = {}): LoadResult {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const errors: ConfigError[] = [];
  const warnings: ConfigError[] = [];
  const files: string[] = [];

  // --- the main file (or the embedded demo)
  const mainName = opts.file ? resolve(cwd, opts.file) : DEMO_NAME;
  const baseDir = opts.file ? dirname(mainName) : packageRoot();
  let main: Source | null = null;
  const text = opts.file ? readText(mainName, errors) : DEMO_CONFIG_YAML;
  if (opts.file) files.push(mainName);
  if (text !== undefined) {
    const r = readYaml(mainName, text);
    main = r.src;
    for (const e of r.errors) errors.push({ file: mainName, line: e.line, path: '', message: e.message });
  }
  const mainValid = main?.ok === true;
  const raw: Record<string, unknown> = main && mainValid ? contentOf(main) : {};
  const fileInventory = mainValid ? raw.inventory : main ? salvageString(main, 'inventory') : undefined;

  // --- environment overrides
  const envResult = applyEnv(raw, configSchema, env);
  const fromEnv = envResult.applied;
  const envFor = (path: Path): EnvLeaf | undefined => fromEnv.find((l) => l.path.every((k, i) => path[i] === k));
  for (const e of envResult.errors) errors.push({ file: 'env', env: e.env, path: e.path?.join('.') ?? '', message: e.message });

  // --- the inventory file, parsed on its own
  let inv: Source | null = null;
  // roles/hosts can be validated when the file holding them parsed
  let inventoryKnown = mainValid;
  const invFromEnv = envFor(['inventory']) !== undefined;
  const invSetting = invFromEnv ? raw.inventory : fileInventory;
  if (typeof invSetting === 'string') {
    const invFile = resolve(invFromEnv ? cwd : baseDir, invSetting);
    files.push(invFile);
    // the demo's example inventory gives way to the one named
    if (!opts.file) (delete raw.roles, delete raw.hosts);
    const invText = existsSync(invFile) ? readText(invFile, errors) : undefined;
    if (invText === undefined) {
      inventoryKnown = false;
      // an inventory name read from a file with syntax errors may itself be garbled: say nothing
      if (!existsSync(invFile) && (mainValid || invFromEnv)) errors.push(place(['inventory'], `inventory file not found: ${invFile}`));
    } else {
      const r = readYaml(invFile, invText);
      inv = r.src;
      for (const e of r.errors) errors.push({ file: invFile, line: e.line, path: '', message: e.message });
      inventoryKnown = inv.ok;
      if (inv.ok) {
        const invRaw = contentOf(inv);
        for (const key of Object.keys(invRaw)) {
          if (key !== 'roles' && key !== 'hosts') errors.push(at(inv, [key], 'an inventory holds only "roles" and "hosts"'));
          else if (raw[key] !== undefined && main) errors.push(at(main, [key], `"${key}" is defined both here and in the inventory file`));
          else raw[key] = invRaw[key];
        }
      }
    }
  }

  // --- secrets are never read from files
  for (const src of [main, inv]) {
    if (!src) continue;
    for (const p of findSecrets(src.doc.contents)) errors.push(at(src, p, 'secrets are not read from files; set them in the environment (FLEETBOOT_SECRET_*) or store a hash'));
  }

  // --- every section, role and host on its own
  const issues: Issue[] = [];
  const sections: Record<string, unknown> = {};
  const shape = configSchema.shape as Record<string, (typeof configSchema.shape)[keyof typeof configSchema.shape]>;
  if (mainValid) {
    for (const key of Object.keys(raw)) if (!(key in shape)) issues.push({ path: [key], message: 'unknown key' });
    for (const [key, schema] of Object.entries(shape)) {
      if (key === 'roles' || key === 'hosts') continue;
      const r = schema.safeParse(raw[key]);
      if (r.success) sections[key] = r.data;
      else issues.push(...fromZod(r.error, [key]));
    }
    resolvePaths(sections, (path) => (envFor(path) ? cwd : baseDir));
  }
  const inventory: CheckedInventory = inventoryKnown ? validateInventory({ roles: raw.roles, hosts: raw.hosts }) : { roles: {}, hosts: [], issues: [] };
  issues.push(...inventory.issues);

  // --- cross-checks over whatever is valid
  const valid = sections as ValidSections;
  issues.push(...checkRoles(valid.paths, inventory.roles));
  const serverAddressSet = typeof raw.server === 'object' && raw.server !== null && (raw.server as Record<string, unknown>).address !== undefined;
  issues.push(...checkBootAndDhcp(valid, serverAddressSet));
  for (const i of issues) (i.warning ? warnings : errors).push(place(i.path, i.message));
  if (errors.length) return { ok: false, errors, files };

  // --- the whole config through the one schema (everything above passed, so this does too;
  // anything it still finds is reported, never half-loaded)
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, errors: fromZod(parsed.error).map((i) => place(i.path, i.message)), files };
  const config = { ...parsed.data, ...sections } as Config;
  const publicUrl = (config.server.publicUrl ?? `http://${config.server.address}:${config.http.port}`).replace(/\/+$/, '');
  return { ok: true, loaded: deepFreeze({ config, files, baseDir, publicUrl, warnings }) };

  function at(src: Source, path: Path, message: string): ConfigError {
    return { file: src.file, line: lineOf(src, path), path: formatPath(path), message };
  }

  /** Blames the variable a value came from, else the file (and line) that holds the path. */
  function place(path: Path, message: string): ConfigError {
    const leaf = envFor(path);
    if (leaf) return { file: 'env', env: leaf.env, path: formatPath(path), message };
    const src = inv?.ok && (path[0] === 'roles' || path[0] === 'hosts') && inv.doc.hasIn([path[0]]) ? inv : main;
    return src ? at(src, path, message) : { file: mainName, path: formatPath(path), message };
  }
}

function readText(file: string, errors: ConfigError[]): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    errors.push({ file, path: '', message: `cannot read: ${(e as Error).message}` });
    return undefined;
  }
}

function resolvePaths(sections: Record<string, unknown>, base: (path: string[]) => string): void {
  for (const path of PATH_SETTINGS) {
    let node = sections as Record<string, unknown>;
    for (const k of path.slice(0, -1)) node = (node?.[k] ?? undefined) as Record<string, unknown>;
    const key = path[path.length - 1];
    const v = node?.[key];
    if (typeof v !== 'string' || v === ':memory:' || isAbsolute(v)) continue;
    node[key] = resolve(base([...path]), v);
  }
}

export function formatError(e: ConfigError): string {
  if (e.env) return `env ${e.env}: ${e.path ? `${e.path}: ` : ''}${e.message}`;
  return `${e.file}${e.line ? `:${e.line}` : ''}: ${e.path ? `${e.path}: ` : ''}${e.message}`;
}

export function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as object)) deepFreeze(v);
  }
  return o;
}
