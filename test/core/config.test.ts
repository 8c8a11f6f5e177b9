import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { loadConfig, formatError } from '../../src/config/load.js';
import { ConfigHolder } from '../../src/config/holder.js';
import { makeFixture, REPO } from '../helpers/fixture.js';

test('the embedded demo config is valid', () => {
  const r = loadConfig({ env: {} });
  assert.ok(r.ok, r.ok ? '' : r.errors.map(formatError).join('\n'));
  assert.ok(r.loaded.config.hosts.length >= 3);
  assert.equal(r.loaded.config.dhcp.enabled, false, 'the demo must never answer DHCP on a real LAN');
  assert.ok(Object.isFrozen(r.loaded.config.hosts[0]), 'config is deep-frozen');
});

test('every error is reported at once, with file, line and path', () => {
  const fx = makeFixture(
    'log:\n  level: loud\nbogus: 1\n',
    `roles:
  tiny:
    kernel: tiny/vmlinuz
    initrd: tiny/initrd.img
    template: missing.cfg
hosts:
  - name: Bad_Name
    macs: ["not-a-mac"]
    roles: [tiny]
  - name: two
    macs: ["52:54:00:00:00:01"]
    roles: [nope]
    address: 10.0.0.300
  - name: three
    macs: ["52:54:00:00:00:01"]
    roles: [tiny]
`,
  );
  try {
    let r = loadConfig({ file: fx.configFile, env: {} });
    assert.equal(r.ok, false);
    if (r.ok) return;
    // schema errors first (all of them); cross-reference checks need a schema-valid config
    const lines = r.errors.map(formatError);
    const inv = join(fx.dir, 'inventory.yaml');
    const cfg = fx.configFile;
    const expectOne = (re: RegExp) => assert.ok(lines.some((l) => re.test(l)), `missing ${re} in:\n${lines.join('\n')}`);
    expectOne(new RegExp(`^${cfg}:\\d+: log\\.level: `));
    expectOne(new RegExp(`^${cfg}:\\d+: unknown key\\(s\\): bogus`));
    expectOne(new RegExp(`^${inv}:7: hosts\\[0\\]\\.name: must be a DNS label`));
    expectOne(new RegExp(`^${inv}:8: hosts\\[0\\]\\.macs\\[0\\]: must be a MAC address`));
    expectOne(new RegExp(`^${inv}:13: hosts\\[1\\]\\.address: must be an IPv4 address`));
    assert.ok(r.errors.length >= 5);

    // fix the schema errors: now the cross checks speak, again all at once
    fx.write('fleetboot.yaml', require_ok_config());
    fx.write('inventory.yaml', `roles:
  tiny:
    kernel: tiny/vmlinuz
    initrd: tiny/initrd.img
    template: missing.cfg
hosts:
  - name: one
    macs: ["52:54:00:00:00:01"]
    roles: [nope]
  - name: one
    macs: ["52:54:00:00:00:01"]
    roles: [tiny]
`);
    r = loadConfig({ file: fx.configFile, env: {} });
    assert.equal(r.ok, false);
    if (r.ok) return;
    const l2 = r.errors.map(formatError);
    for (const re of [/hosts\[0\]\.roles\[0\]: unknown role "nope"/, /hosts\[1\]\.name: duplicate host name "one"/, /hosts\[1\]\.macs\[0\]: MAC 52:54:00:00:00:01 is already used by host "one"/, /roles\.tiny\.template: template not found/]) {
      assert.ok(l2.some((l) => re.test(l)), `missing ${re} in:\n${l2.join('\n')}`);
    }
  } finally {
    fx.cleanup();
  }
});

function require_ok_config() {
  return 'server:\n  address: 127.0.0.1\npaths:\n  db: state/fb.sqlite\n  assets: assets\n  templates: templates\ninventory: inventory.yaml\n';
}

test('YAML syntax errors and secrets in files are refused with a line number', () => {
  const fx = makeFixture();
  try {
    fx.write('fleetboot.yaml', 'http:\n  port: [1,\n');
    let r = loadConfig({ file: fx.configFile, env: {} });
    assert.equal(r.ok, false);
    fx.write('fleetboot.yaml', require_ok_config() + 'web:\n  adminPassword: hunter2\n');
    r = loadConfig({ file: fx.configFile, env: {} });
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.errors.map(formatError).join('\n'), /:9: web\.adminPassword: secrets are not read from files/);
  } finally {
    fx.cleanup();
  }
});

test('FLEETBOOT_* env overrides any setting; bad values and unknown names are errors', () => {
  const fx = makeFixture();
  try {
    let r = loadConfig({ file: fx.configFile, env: { FLEETBOOT_HTTP_PORT: '8099', FLEETBOOT_INSTALL_STALL_SECONDS: '42', FLEETBOOT_BOOT_LOCAL_BOOT: 'sanboot' } });
    assert.ok(r.ok);
    if (r.ok) {
      assert.equal(r.loaded.config.http.port, 8099);
      assert.equal(r.loaded.config.install.stallSeconds, 42);
      assert.equal(r.loaded.config.boot.localBoot, 'sanboot');
    }
    r = loadConfig({ file: fx.configFile, env: { FLEETBOOT_HTTP_PORT: 'eighty', FLEETBOOT_HTTP_PROT: '1' } });
    assert.equal(r.ok, false);
    if (!r.ok) {
      const s = r.errors.map(formatError).join('\n');
      assert.match(s, /env: FLEETBOOT_HTTP_PORT: expected a number/);
      assert.match(s, /env: FLEETBOOT_HTTP_PROT: unknown setting/);
    }
  } finally {
    fx.cleanup();
  }
});

test('a bad reload keeps the running config', () => {
  const fx = makeFixture();
  try {
    const r = loadConfig({ file: fx.configFile, env: {} });
    assert.ok(r.ok);
    if (!r.ok) return;
    const holder = new ConfigHolder(r.loaded, { file: fx.configFile, env: {} });
    assert.ok(holder.index.byName('alpha'));
    fx.write('inventory.yaml', 'hosts:\n  - name: alpha\n    macs: [zz]\n    roles: [tiny]\n');
    const bad = holder.reload();
    assert.equal(bad.ok, false);
    assert.ok(holder.index.byName('gamma'), 'old inventory still served');
    fx.write('inventory.yaml', (fx as unknown as { inv?: string }).inv ?? 'roles:\n  tiny:\n    kernel: k\n    initrd: i\n    template: tiny.cfg\nhosts:\n  - name: delta\n    macs: ["52:54:00:00:00:44"]\n    roles: [tiny]\n');
    assert.equal(holder.reload().ok, true);
    assert.equal(holder.index.byName('gamma'), undefined);
    assert.equal(holder.index.byMac('52-54-00-00-00-44')?.host.name, 'delta');
  } finally {
    fx.cleanup();
  }
});

test('`fleetboot check` exits non-zero listing every error; `serve` refuses a bad config', () => {
  const fx = makeFixture('', 'hosts:\n  - name: a\n    macs: [x]\n    roles: []\n');
  try {
    const cli = join(REPO, 'dist/src/cli.js');
    const c = spawnSync('node', [cli, '--config', fx.configFile, 'check'], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    assert.equal(c.status, 1);
    assert.match(c.stderr, /configuration has 2 error\(s\)/);
    assert.match(c.stderr, /hosts\[0\]\.macs\[0\]/);
    assert.match(c.stderr, /hosts\[0\]\.roles: a host needs at least one role/);
    const s = spawnSync('node', [cli, '--config', fx.configFile, 'serve'], { encoding: 'utf8', env: { PATH: process.env.PATH }, timeout: 20000 });
    assert.equal(s.status, 1);
    const ok = execFileSync('node', [cli, 'check'], { encoding: 'utf8', env: { PATH: process.env.PATH }, cwd: REPO });
    assert.match(ok, /^ok: \d+ hosts/);
  } finally {
    fx.cleanup();
  }
});

test('an add-on role needs no kernel, but a host whose first role lacks one is an error', () => {
  const fx = makeFixture(
    '',
    `roles:
  base:
    kernel: tiny/vmlinuz
    initrd: tiny/initrd.img
    template: tiny.cfg
  addon:
    packages: [nginx]
hosts:
  - name: ok
    macs: ["52:54:00:00:00:01"]
    roles: [base, addon]
  - name: wrong
    macs: ["52:54:00:00:00:02"]
    roles: [addon, base]
`,
  );
  try {
    const r = loadConfig({ file: fx.configFile, env: {} });
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.errors.length, 1, r.errors.map(formatError).join('\n'));
      assert.match(formatError(r.errors[0]), /inventory\.yaml:14: hosts\[1\]\.roles\[0\]: role "addon" is this host's install role \(listed first\) but has no kernel, initrd, template/);
    }
  } finally {
    fx.cleanup();
  }
});
