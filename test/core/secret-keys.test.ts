// Secret-looking keys in the inventory/config are refused whatever the value's type and however
// the key is spelt; keys that only mention a secret word (hashes, key lists, TTLs) are not.
// Table-driven through the real loader and a real file, as `fleetboot check` reads it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { loadConfig, formatError } from '../../src/config/load.js';
import { isSecretKey } from '../../src/config/secret-keys.js';
import { makeFixture, INVENTORY, REPO } from '../helpers/fixture.js';

/** [key, YAML value, refused?] */
const CASES: [string, string, boolean][] = [
  // refused: every value shape
  ['password', '"hunter2"', true],
  ['password', '12345678', true],
  ['password', '[hunter2]', true],
  ['password', '{ value: hunter2 }', true],
  ['password', 'true', true],
  ['password', '0x1f', true],
  ['password', '|\n          multi\n          line', true],
  // refused: spellings
  ['root_password', '"x"', true],
  ['rootPassword', '"x"', true],
  ['ROOT-PASSWORD', '"x"', true],
  ['root.password', '"x"', true],
  ['rootpassword', '"x"', true],
  ['root_passwd', '"x"', true],
  ['db_pass', '"x"', true],
  ['admin_pwd', '"x"', true],
  ['passphrase', '"correct horse"', true],
  ['luks_passphrase', '"x"', true],
  ['credentials', '{ user: a, pass: b }', true],
  ['creds', '"x"', true],
  ['client_secret', '"x"', true],
  ['secrets', '[a, b]', true],
  ['api_token', '"x"', true],
  ['github_tokens', '[a]', true],
  ['ssh_private_key', '"-----BEGIN"', true],
  ['sshPrivateKey', '"x"', true],
  ['api_key', '"x"', true],
  ['ApiKey', '"x"', true],
  ['aws_secret_access_key', '"x"', true],
  ['secret_key', '"x"', true],
  // accepted: hashes, key lists, names that merely contain a secret word, empty values
  ['root_password_hash', '"$6$salt$hash"', false],
  ['admin_password_hash', '"!"', false],
  ['root_password_crypted', '"$6$x"', false],
  ['ssh_authorized_keys', '["ssh-ed25519 AAAA"]', false],
  ['password_file', '/run/keys/pw', false],
  ['token_ttl', '60', false],
  ['bypass', 'true', false],
  ['compass', '"north"', false],
  ['keyboard', '"us"', false],
  ['password', '""', false],
  ['password', 'null', false],
  ['password', '[]', false],
];

test('secret keys: every value shape and spelling is refused; hashes and key lists are not', () => {
  const vars = CASES.map(([k, v], i) => `      c${i}:\n        ${JSON.stringify(k)}: ${v}\n`).join('');
  const inv = INVENTORY.replace('    vars: { domain: test.lan }\n', `    vars:\n${vars}`);
  const fx = makeFixture('', inv);
  try {
    const r = loadConfig({ file: fx.configFile, env: {} });
    const errors = r.ok ? [] : r.errors.filter((e) => e.message.startsWith('secrets are not read from files'));
    if (!r.ok) assert.equal(errors.length, r.errors.length, `only secret errors expected:\n${r.errors.map(formatError).join('\n')}`);
    const flagged = new Set(errors.map((e) => e.path));
    const wrong: string[] = [];
    CASES.forEach(([k, v, refused], i) => {
      const path = `roles.tiny.vars.c${i}.${k}`;
      if (flagged.has(path) !== refused) wrong.push(`${k}: ${v.split('\n')[0]} -> ${flagged.has(path) ? 'refused' : 'accepted'}, want ${refused ? 'refused' : 'accepted'}`);
      flagged.delete(path);
    });
    assert.deepEqual(wrong, []);
    assert.deepEqual([...flagged], [], 'nothing else flagged (not the inner keys of a refused map)');
    // each error points at the line of its key
    assert.ok(errors.every((e) => e.line !== undefined && e.file === join(fx.dir, 'inventory.yaml')));
  } finally {
    fx.cleanup();
  }
});

test('secret keys: the shipped config keys are not secret-looking', () => {
  for (const k of ['tokenTtlSeconds', 'setupTokenTtlSeconds', 'sessionTtlSeconds', 'loginMaxAttempts', 'hstsSeconds', 'ssh_authorized_keys']) assert.equal(isSecretKey(k), false, k);
});

test('secret keys: `fleetboot check` (the real CLI) fails on a number-valued password and a list-valued passphrase', () => {
  const fx = makeFixture();
  try {
    fx.write('inventory.yaml', INVENTORY.replace('    vars: { domain: test.lan }\n', '    vars:\n      password: 12345678\n      disk_passphrase: [hunter2]\n'));
    let out = '';
    let code = 0;
    try {
      execFileSync('node', [join(REPO, 'dist/src/cli.js'), '--config', fx.configFile, 'check'], { encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      const x = e as { status: number; stderr: string; stdout: string };
      code = x.status;
      out = x.stderr + x.stdout;
    }
    assert.equal(code, 1, 'check exits non-zero');
    assert.match(out, /roles\.tiny\.vars\.password: secrets are not read from files/);
    assert.match(out, /roles\.tiny\.vars\.disk_passphrase: secrets are not read from files/);
    assert.doesNotMatch(out, /12345678|hunter2/, 'the secret itself is not echoed');
  } finally {
    fx.cleanup();
  }
});
