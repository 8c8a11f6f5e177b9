// The inventory's power: entry and the secret rules: a secret's name in YAML is fine, the
// secret itself is refused; values come from FLEETBOOT_SECRET_<NAME> or <NAME>_FILE.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadConfig, formatError } from '../../src/config/load.js';
import { EnvSecrets, childEnv } from '../../src/power/secrets.js';
import { PowerError } from '../../src/power/types.js';
import { makeFixture, INVENTORY } from '../helpers/fixture.js';

const withPower = (power: string) => INVENTORY.replace('    labels: [rack1]\n  - name: beta', `    labels: [rack1]\n    power: ${power}\n  - name: beta`);

test('a host may name its BMC; passwordSecret names an env secret and is accepted', () => {
  const f = makeFixture('', withPower('{ driver: redfish, address: 127.0.0.1, port: 8443, user: admin, passwordSecret: BMC_ALPHA, insecure: true }'));
  try {
    const r = loadConfig({ file: f.configFile, env: {} });
    assert.ok(r.ok, r.ok ? '' : r.errors.map(formatError).join('\n'));
    const alpha = r.loaded.config.hosts.find((h) => h.name === 'alpha')!;
    assert.equal(alpha.power?.driver, 'redfish');
    assert.equal(alpha.power?.timeoutSeconds, 10, 'default timeout');
    assert.equal(alpha.power?.retries, 2, 'default retries');
  } finally {
    f.cleanup();
  }
});

for (const [what, power, expect] of [
  ['a literal password', '{ driver: ipmi, address: 10.0.0.1, password: hunter2 }', /secrets are not read from files/],
  ['a lower-case passwordSecret (looks like the password itself)', '{ driver: ipmi, address: 10.0.0.1, passwordSecret: hunter2 }', /secrets are not read from files|names a secret/],
  ['an unknown driver', '{ driver: telnet, address: 10.0.0.1 }', /driver/],
  ['an address with shell/option characters', '{ driver: ssh, address: "-oProxyCommand=id", commands: { on: x } }', /address/],
  ['an ipmi user starting with -', '{ driver: ipmi, address: 10.0.0.1, user: "-x" }', /user/],
  ['an unknown key', '{ driver: redfish, address: 10.0.0.1, verify: false }', /verify|nrecognized/],
] as const) {
  test(`power: ${what} is refused`, () => {
    const f = makeFixture('', withPower(power));
    try {
      const r = loadConfig({ file: f.configFile, env: {} });
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.errors.map(formatError).join('\n'), expect);
    } finally {
      f.cleanup();
    }
  });
}

test('secrets: from FLEETBOOT_SECRET_<NAME>, else the file <NAME>_FILE names; a missing one says which variable', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fb-secret-'));
  try {
    const file = join(dir, 's');
    writeFileSync(file, 'from-file\n');
    const s = new EnvSecrets({ FLEETBOOT_SECRET_A: 'from-env', FLEETBOOT_SECRET_B_FILE: file, FLEETBOOT_SECRET_C_FILE: join(dir, 'nope') });
    assert.equal(s.get('A'), 'from-env');
    assert.equal(s.get('B'), 'from-file', 'one trailing newline dropped');
    assert.throws(() => s.get('C'), (e: unknown) => e instanceof PowerError && e.kind === 'config' && /FLEETBOOT_SECRET_C_FILE/.test(e.message));
    assert.throws(() => s.get('D'), (e: unknown) => e instanceof PowerError && /FLEETBOOT_SECRET_D/.test(e.message));
    assert.throws(() => s.get('../x'), PowerError);
    const env = childEnv({ PATH: '/bin', FLEETBOOT_SECRET_A: 'x', HOME: '/root' });
    assert.deepEqual(env, { PATH: '/bin', HOME: '/root' }, 'children never see fleetboot secrets');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
