// Every setting can also come from the environment: the env name is FLEETBOOT_ + the schema
// path in SNAKE_CASE (http.port -> FLEETBOOT_HTTP_PORT, install.tokenTtlSeconds ->
// FLEETBOOT_INSTALL_TOKEN_TTL_SECONDS). Names are derived by walking the schema, so a new
// setting gets its variable without anyone remembering to add it.
import { z } from 'zod';

export interface EnvLeaf {
  path: string[];
  env: string;
  kind: 'number' | 'boolean' | 'string' | 'json';
}

function unwrap(t: z.ZodTypeAny): z.ZodTypeAny {
  for (;;) {
    if (t instanceof z.ZodDefault) t = t._def.innerType;
    else if (t instanceof z.ZodOptional || t instanceof z.ZodNullable) t = t._def.innerType;
    else if (t instanceof z.ZodEffects) t = t._def.schema;
    else return t;
  }
}

const snake = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();

/** Env variables that are not settings (secrets and process-level knobs). */
export const RESERVED_ENV = new Set(['FLEETBOOT_CONFIG', 'FLEETBOOT_TEST_CONCURRENCY', 'FLEETBOOT_TEST_TIMEOUT', 'FLEETBOOT_LOG_LEVEL']);

// roles and hosts are the inventory: they live in files (FLEETBOOT_INVENTORY names one)
export function envLeaves(schema: z.ZodTypeAny, prefix: string[] = [], skip = new Set(['roles', 'hosts'])): EnvLeaf[] {
  const t = unwrap(schema);
  if (t instanceof z.ZodObject) {
    const out: EnvLeaf[] = [];
    for (const [k, v] of Object.entries(t.shape as Record<string, z.ZodTypeAny>)) {
      if (prefix.length === 0 && skip.has(k)) continue;
      out.push(...envLeaves(v, [...prefix, k], skip));
    }
    return out;
  }
  const env = 'FLEETBOOT_' + prefix.map(snake).join('_');
  const kind = t instanceof z.ZodNumber ? 'number' : t instanceof z.ZodBoolean ? 'boolean' : t instanceof z.ZodString || t instanceof z.ZodEnum ? 'string' : 'json';
  return [{ path: prefix, env, kind }];
}

function parseValue(leaf: EnvLeaf, raw: string): unknown {
  switch (leaf.kind) {
    case 'number': {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n)) throw new Error(`expected a number, got "${raw}"`);
      return n;
    }
    case 'boolean':
      if (/^(1|true|yes|on)$/i.test(raw)) return true;
      if (/^(0|false|no|off)$/i.test(raw)) return false;
      throw new Error(`expected true/false, got "${raw}"`);
    case 'string':
      return raw;
    case 'json':
      // lists may be given as "a,b,c"; anything else as JSON
      if (!/^\s*[[{"]/.test(raw)) return raw.split(',').map((s) => s.trim()).filter(Boolean);
      try {
        return JSON.parse(raw);
      } catch (e) {
        throw new Error(`expected JSON: ${(e as Error).message}`);
      }
  }
}

export interface EnvError {
  env: string;
  /** the setting, when the variable names one */
  path?: string[];
  message: string;
}

/**
 * Applies FLEETBOOT_* overrides onto a raw (pre-validation) config object, in place. `applied`
 * says which setting came from which variable, so later errors blame the variable, not a file.
 */
export function applyEnv(raw: Record<string, unknown>, schema: z.ZodTypeAny, env: NodeJS.ProcessEnv): { applied: EnvLeaf[]; errors: EnvError[] } {
  const leaves = envLeaves(schema);
  const known = new Set(leaves.map((l) => l.env));
  const applied: EnvLeaf[] = [];
  const errors: EnvError[] = [];
  for (const leaf of leaves) {
    const v = env[leaf.env];
    if (v === undefined) continue;
    try {
      const value = parseValue(leaf, v);
      let node = raw;
      for (const key of leaf.path.slice(0, -1)) {
        if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
        node = node[key] as Record<string, unknown>;
      }
      node[leaf.path[leaf.path.length - 1]] = value;
      applied.push(leaf);
    } catch (e) {
      errors.push({ env: leaf.env, path: leaf.path, message: (e as Error).message });
    }
  }
  for (const name of Object.keys(env)) {
    // a typo in a variable name should not silently do nothing
    // FLEETBOOT_TEST_* belongs to the test harness (scripts/run-tests.mjs, test/): never a setting
    if (name.startsWith('FLEETBOOT_') && !known.has(name) && !RESERVED_ENV.has(name) && !name.startsWith('FLEETBOOT_SECRET_') && !name.startsWith('FLEETBOOT_TEST_')) {
      errors.push({ env: name, message: 'unknown setting (see `fleetboot check --env` for the list)' });
    }
  }
  return { applied, errors };
}
