// Loads config (+ optional separate inventory) from YAML, applies FLEETBOOT_* env overrides,
// validates everything against the one schema and reports every problem at once with file,
// line and path. A config is either wholly valid (and then deep-frozen) or not loaded at all.
import { readFileSync, existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, parseDocument, isMap, isSeq, type Document } from 'yaml';
import nunjucks from 'nunjucks';
import { configSchema, type Config } from './schema.js';
import { crossCheckInventory } from './inventory.js';
import { applyEnv } from './env.js';
import { DEMO_CONFIG_YAML, DEMO_NAME } from './demo.js';

export interface ConfigError {
  file: string; // file name, "<demo>" or "env"
  line?: number;
  path: string; // dotted path, e.g. hosts[2].macs[0]
  message: string;
}

export interface LoadedConfig {
  config: Readonly<Config>;
  /** files the config was read from (watched for reload) */
  files: string[];
  /** directory relative paths in the config are resolved against */
  baseDir: string;
  publicUrl: string;
  warnings: ConfigError[];
}

export type LoadResult = { ok: true; loaded: LoadedConfig } | { ok: false; errors: ConfigError[] };

interface Source {
  file: string;
  doc: Document;
  lines: LineCounter;
}

function readYaml(file: string, text: string, errors: ConfigError[]): Source | null {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    for (const e of doc.errors) errors.push({ file, line: lines.linePos(e.pos[0]).line, path: '', message: e.message.split('\n')[0] });
    return null;
  }
  if (doc.contents !== null && !isMap(doc.contents)) {
    errors.push({ file, line: 1, path: '', message: 'the top level must be a mapping (key: value)' });
    return null;
  }
  return { file, doc, lines };
}

export function formatPath(path: (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

function lineOf(src: Source, path: (string | number)[]): number | undefined {
  // walk up until a node exists (a missing key is reported at its parent)
  for (let n = path.length; n >= 0; n--) {
    const node = src.doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node && node.range) return src.lines.linePos(node.range[0]).line;
  }
  return undefined;
}

const SECRET_KEY = /(password|secret|token|private_?key|api_?key)$/i;

/** Secrets come from env only: a secret-looking key with a literal value in YAML is refused. */
function findSecrets(node: unknown, path: (string | number)[], out: (string | number)[][]): void {
  if (isMap(node)) {
    for (const item of node.items) {
      const key = String((item.key as { value?: unknown })?.value ?? item.key);
      const p = [...path, key];
      const v = item.value as { value?: unknown } | null;
      if (SECRET_KEY.test(key) && v && typeof v.value === 'string' && v.value !== '') out.push(p);
      findSecrets(item.value, p, out);
    }
  } else if (isSeq(node)) {
    node.items.forEach((it, i) => findSecrets(it, [...path, i], out));
  }
}

export interface LoadOptions {
  file?: string; // undefined -> embedded demo
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export function loadConfig(opts: LoadOptions = {}): LoadResult {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const errors: ConfigError[] = [];
  const warnings: ConfigError[] = [];
  const files: string[] = [];
  let main: Source | null;
  let baseDir = cwd;
  if (opts.file) {
    const file = resolve(cwd, opts.file);
    baseDir = dirname(file);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      return { ok: false, errors: [{ file, path: '', message: `cannot read: ${(e as Error).message}` }] };
    }
    files.push(file);
    main = readYaml(file, text, errors);
  } else {
    main = readYaml(DEMO_NAME, DEMO_CONFIG_YAML, errors);
  }
  if (!main) return { ok: false, errors };
  const raw = (main.doc.toJS() ?? {}) as Record<string, unknown>;

  // separate inventory file: its roles/hosts are merged in; errors point into it
  let inv: Source | null = null;
  if (typeof raw.inventory === 'string') {
    const invFile = resolve(baseDir, raw.inventory);
    if (!existsSync(invFile)) {
      errors.push({ file: main.file, line: lineOf(main, ['inventory']), path: 'inventory', message: `inventory file not found: ${invFile}` });
    } else {
      files.push(invFile);
      inv = readYaml(invFile, readFileSync(invFile, 'utf8'), errors);
      if (inv) {
        const invRaw = (inv.doc.toJS() ?? {}) as Record<string, unknown>;
        for (const key of Object.keys(invRaw)) {
          if (key !== 'roles' && key !== 'hosts') errors.push({ file: invFile, line: lineOf(inv, [key]), path: key, message: 'an inventory holds only "roles" and "hosts"' });
          else if (raw[key] !== undefined) errors.push({ file: main.file, line: lineOf(main, [key]), path: key, message: `"${key}" is defined both here and in the inventory file` });
          else raw[key] = invRaw[key];
        }
      }
    }
  }
  const sourceFor = (path: (string | number)[]): Source => (inv && (path[0] === 'roles' || path[0] === 'hosts') && inv.doc.hasIn([path[0]]) ? inv : main!);

  for (const src of [main, inv]) {
    if (!src) continue;
    const found: (string | number)[][] = [];
    findSecrets(src.doc.contents, [], found);
    for (const p of found) {
      if (/hash$/i.test(String(p[p.length - 1]))) continue;
      errors.push({ file: src.file, line: lineOf(src, p), path: formatPath(p), message: 'secrets are not read from files; set them in the environment (FLEETBOOT_SECRET_*) or store a hash' });
    }
  }

  const envResult = applyEnv(raw, configSchema, env);
  for (const e of envResult.errors) errors.push({ file: 'env', path: e.env, message: e.message });

  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const src = sourceFor(issue.path);
      const msg = issue.code === 'unrecognized_keys' ? `unknown key(s): ${issue.keys.join(', ')}` : issue.message;
      errors.push({ file: src.file, line: lineOf(src, issue.path), path: formatPath(issue.path), message: msg });
    }
    return { ok: false, errors };
  }
  const config = parsed.data;
  for (const issue of crossCheckInventory(config)) {
    const src = sourceFor(issue.path);
    errors.push({ file: src.file, line: lineOf(src, issue.path), path: formatPath(issue.path), message: issue.message });
  }

  // resolve paths, then check what roles reference
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(opts.file ? baseDir : cwd, p));
  config.paths = { db: config.paths.db === ':memory:' ? ':memory:' : abs(config.paths.db), assets: abs(config.paths.assets), templates: abs(config.paths.templates) };
  const tplEnv = new nunjucks.Environment(new nunjucks.FileSystemLoader(config.paths.templates), { autoescape: false, throwOnUndefined: false });
  for (const [name, role] of Object.entries(config.roles)) {
    const src = sourceFor(['roles', name]);
    if (role.template) {
      const tplFile = resolve(config.paths.templates, role.template);
      if (!tplFile.startsWith(config.paths.templates)) {
        errors.push({ file: src.file, line: lineOf(src, ['roles', name, 'template']), path: `roles.${name}.template`, message: 'template must be inside the templates directory' });
      } else if (!existsSync(tplFile)) {
        errors.push({ file: src.file, line: lineOf(src, ['roles', name, 'template']), path: `roles.${name}.template`, message: `template not found: ${tplFile}` });
      } else {
        try {
          tplEnv.getTemplate(role.template, true);
        } catch (e) {
          errors.push({ file: src.file, line: lineOf(src, ['roles', name, 'template']), path: `roles.${name}.template`, message: `template does not compile: ${(e as Error).message.split('\n').slice(0, 3).join(' ')}` });
        }
      }
    }
    try {
      nunjucks.renderString(role.cmdline, {});
    } catch (e) {
      errors.push({ file: src.file, line: lineOf(src, ['roles', name, 'cmdline']), path: `roles.${name}.cmdline`, message: `cmdline does not compile: ${(e as Error).message.split('\n')[0]}` });
    }
    for (const key of ['kernel', 'initrd'] as const) {
      // assets are fetched separately (`fleetboot assets fetch`): missing is a warning
      const asset = role[key];
      if (asset && !existsSync(resolve(config.paths.assets, asset))) {
        warnings.push({ file: src.file, line: lineOf(src, ['roles', name, key]), path: `roles.${name}.${key}`, message: `boot asset not present yet: ${asset} (run \`fleetboot assets fetch\`)` });
      }
    }
  }
  if (config.boot.unknown === 'discovery' && !config.boot.discovery) {
    errors.push({ file: main.file, line: lineOf(main, ['boot', 'unknown']), path: 'boot.discovery', message: 'boot.unknown is "discovery" but boot.discovery (kernel, initrd, cmdline) is not set' });
  }
  if (errors.length) return { ok: false, errors };

  const publicUrl = (config.server.publicUrl ?? `http://${config.server.address}:${config.http.port}`).replace(/\/+$/, '');
  return { ok: true, loaded: deepFreeze({ config, files, baseDir, publicUrl, warnings }) };
}

export function formatError(e: ConfigError): string {
  return `${e.file}${e.line ? `:${e.line}` : ''}: ${e.path ? `${e.path}: ` : ''}${e.message}`;
}

export function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as object)) deepFreeze(v);
  }
  return o;
}
