// Which YAML keys name a secret. Secrets are read from the environment only (FLEETBOOT_SECRET_*):
// a secret-looking key with any value in a config or inventory file is an error, whatever the
// value's type (`password: 12345678` is a number to YAML, `password: [hunter2]` a list, and the
// template renders both verbatim). The decision is made on the key alone, normalised, because
// the value cannot be trusted to look like a secret.
//
// A key is secret when its LAST word is a secret word: `root_password`, `rootPassword`,
// `Root-Passwd`, `ssh_private_key`, `api_tokens`. Keys that only mention one on the way to
// something else are not: `root_password_hash` (a crypt(3) hash is what the templates want,
// docs/reinstall.md), `password_file`, `tokenTtlSeconds`, `ssh_authorized_keys`.
import { isAlias, isMap, isScalar, isSeq } from 'yaml';

/** Whole words (after splitting on case and separators) that name a secret when they end the key. */
const SECRET_WORDS = new Set(['password', 'passwd', 'passphrase', 'pass', 'pwd', 'pw', 'secret', 'token', 'credential', 'cred', 'apikey', 'privatekey', 'secretkey']);
/** Two-word endings: `private_key`, `api-key`, `secret key`, `access_secret`. */
const SECRET_PAIRS = new Set(['private key', 'api key', 'secret key', 'secret access key', 'auth key', 'client secret', 'bearer token']);
/**
 * Endings of a run-together key (`rootpassword`, `dbpasswd`): only the long, unambiguous words,
 * so `bypass` or `spin` are not caught by `pass` / `pin`.
 */
const RUN_TOGETHER = ['password', 'passwd', 'passphrase', 'secret', 'token', 'credential', 'privatekey', 'apikey', 'secretkey'];

/** `rootPassword`, `ROOT_PASSWORD`, `root-password`, `root.password` -> ['root', 'password']. */
export function keyWords(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

/** A plural is the same secret: `passwords`, `tokens`, `credentials`. */
const singular = (w: string) => (w.length > 3 && w.endsWith('s') && !w.endsWith('ss') ? w.slice(0, -1) : w);

export function isSecretKey(key: string): boolean {
  const words = keyWords(key).map(singular);
  if (!words.length) return false;
  const last = words[words.length - 1];
  if (SECRET_WORDS.has(last)) return true;
  for (const n of [2, 3]) if (words.length >= n && SECRET_PAIRS.has(words.slice(-n).join(' '))) return true;
  return RUN_TOGETHER.some((w) => last.endsWith(w));
}

/** Nothing is stored: null, "", [] and {} leave no secret in the file. */
function isEmptyValue(node: unknown): boolean {
  if (node === null || node === undefined) return true;
  if (isScalar(node)) return node.value === null || node.value === '';
  if (isSeq(node) || isMap(node)) return node.items.length === 0;
  return false;
}

/**
 * `passwordSecret: BMC_WEB01` NAMES an environment secret (FLEETBOOT_SECRET_BMC_WEB01,
 * src/config/power-schema.ts): a camelCase key ending in `Secret` whose value is an
 * UPPER_SNAKE variable name is a reference, not a secret.
 */
function namesEnvSecret(key: string, value: unknown): boolean {
  return /[a-z]Secret$/.test(key) && isScalar(value) && typeof value.value === 'string' && /^[A-Z][A-Z0-9_]{0,63}$/.test(value.value);
}

/** Paths of secret-looking keys that hold a value of any type (scalar, list, map, alias). */
export function findSecrets(node: unknown, path: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (isMap(node)) {
    for (const item of node.items) {
      const key = isScalar(item.key) ? String(item.key.value) : String(item.key);
      const p = [...path, key];
      if (isSecretKey(key) && (isAlias(item.value) || !isEmptyValue(item.value)) && !namesEnvSecret(key, item.value)) {
        out.push(p);
        continue; // one error per secret: its inner keys are part of it
      }
      findSecrets(item.value, p, out);
    }
  } else if (isSeq(node)) {
    node.items.forEach((it, i) => findSecrets(it, [...path, i], out));
  }
  return out;
}
