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

function require_ok_config() {
  return 'server:\n  address: 127.0.0.1\npaths:\n  db: state/fb.sqlite\n  assets: assets\n  templates: templates\ninventory: inventory.yaml\n';
}

const BAD_CONFIG = `server:
  address: 127.0.0.1
http:
  port: 0
paths:
  db: state/fb.sqlite
  assets: assets
  templates: templates
log:
  level: loud
bogus: 1
web:
  adminPassword: hunter2
boot:
  unknown: silence
dhcp:
  enabled: true
  serverAddress: 10.0.0.1
  pool: { start: 10.0.0.100, end: 10.0.0.200 }
  unknownPolicy: discover
inventory: inventory.yaml
`;

const BAD_INVENTORY = `roles:
  tiny:
    kernel: tiny/vmlinuz
    initrd: tiny/initrd.img
    template: missing.cfg
  escape:
    kernel: tiny/vmlinuz
    initrd: tiny/initrd.img
    template: ../templates-x/f.cfg
    cmdline: "{{ oops"
  addon:
    packages: [nginx]
  Bad_Role:
    kernel: k
hosts:
  - name: Bad_Name
    macs: ["not-a-mac", "52:54:00:00:00:01"]
    roles: [tiny]
  - name: two
    macs: ["52:54:00:00:00:01"]
    roles: [nope]
    address: 10.0.0.300
  - name: two
    macs: ["52:54:00:00:00:02"]
    roles: [addon, escape]
    address: 10.0.0.5
  - name: four
    macs: ["52:54:00:00:00:03"]
    roles: [escape]
    address: 10.0.0.5
    color: blue
`;

test('every error of every kind is reported at once, each with its file:line (or env variable) and path', () => {
  const fx = makeFixture('', BAD_INVENTORY);
  try {
    fx.write('fleetboot.yaml', BAD_CONFIG);
    // its name starts like the templates directory's: a prefix check would let it through
    fx.write('templates-x/f.cfg', 'outside\n');
    const r = loadConfig({ file: fx.configFile, env: { FLEETBOOT_HTTP_PORT: '70000', FLEETBOOT_INSTALL_STALL_SECONDS: 'soon' } });
    assert.equal(r.ok, false);
    if (r.ok) return;
    const cfg = fx.configFile;
    const inv = join(fx.dir, 'inventory.yaml');
    const want: string[] = [
      `${cfg}:10: log.level: Invalid enum value.`,
      `${cfg}:11: bogus: unknown key`,
      `${cfg}:13: web.adminPassword: secrets are not read from files`,
      `${cfg}:13: web.adminPassword: unknown key`,
      `${cfg}:15: boot.unknown: dhcp.unknownPolicy "discover" points unknown machines at /boot.ipxe, but boot.unknown "silence" answers them 404`,
      `${cfg}:2: server.address: server.address is 127.0.0.1, but dhcp is enabled: DHCP replies would send clients to a loopback address`,
      'env FLEETBOOT_HTTP_PORT: http.port: Number must be less than or equal to 65535',
      'env FLEETBOOT_INSTALL_STALL_SECONDS: install.stallSeconds: expected a number, got "soon"',
      `${inv}:13: roles.Bad_Role: role names are DNS labels`,
      `${inv}:5: roles.tiny.template: template not found: ${join(fx.dir, 'templates/missing.cfg')}`,
      `${inv}:9: roles.escape.template: template must be inside the templates directory`,
      `${inv}:10: roles.escape.cmdline: cmdline does not compile`,
      `${inv}:16: hosts[0].name: must be a DNS label`,
      `${inv}:17: hosts[0].macs[0]: must be a MAC address`,
      // hosts[0] is invalid, but its second MAC is valid: the duplicate is still found
      `${inv}:20: hosts[1].macs[0]: MAC 52:54:00:00:00:01 is already used by host "Bad_Name"`,
      `${inv}:21: hosts[1].roles[0]: unknown role "nope"`,
      `${inv}:22: hosts[1].address: must be an IPv4 address`,
      `${inv}:23: hosts[2].name: duplicate host name "two" (also hosts[1])`,
      `${inv}:25: hosts[2].roles[0]: role "addon" is this host's install role (listed first) but has no kernel, initrd, template`,
      `${inv}:30: hosts[3].address: address 10.0.0.5 is already used by host "two"`,
      `${inv}:31: hosts[3].color: unknown key`,
    ];
    const lines = r.errors.map(formatError);
    for (const w of want) assert.ok(lines.some((l) => l.startsWith(w)), `missing "${w}" in:\n${lines.join('\n')}`);
    assert.equal(lines.length, want.length, `unexpected extra errors:\n${lines.join('\n')}`);
    assert.ok(!lines.some((l) => l.startsWith(cfg) && l.includes('http.port')), 'an env value is not blamed on the file');
  } finally {
    fx.cleanup();
  }
});

test('a YAML syntax error in one file does not hide the errors of the other', () => {
  const fx = makeFixture('', 'hosts:\n  - name: a\n    macs: ["52:54:00:00:00:01"]\n    roles: [tiny]\n  - name: b\n    macs: ["52:54:00:00:00:01"]\n    roles: [tiny]\nroles:\n  tiny: { kernel: tiny/vmlinuz, initrd: tiny/initrd.img, template: tiny.cfg }\n');
  try {
    fx.write('fleetboot.yaml', 'inventory: inventory.yaml\nhttp:\n  port: [1,\n');
    let r = loadConfig({ file: fx.configFile, env: {} });
    assert.equal(r.ok, false);
    if (r.ok) return;
    let lines = r.errors.map(formatError);
    assert.ok(lines.some((l) => l.startsWith(`${fx.configFile}:`)), lines.join('\n'));
    assert.ok(lines.some((l) => l.startsWith(`${join(fx.dir, 'inventory.yaml')}:6: hosts[1].macs[0]: MAC 52:54:00:00:00:01 is already used by host "a"`)), lines.join('\n'));

    // and the other way round: a broken inventory, a config error
    fx.write('fleetboot.yaml', require_ok_config() + 'log:\n  level: loud\n');
    fx.write('inventory.yaml', 'hosts: [\n');
    r = loadConfig({ file: fx.configFile, env: {} });
    assert.equal(r.ok, false);
    if (r.ok) return;
    lines = r.errors.map(formatError);
    assert.ok(lines.some((l) => l.startsWith(`${join(fx.dir, 'inventory.yaml')}:`)), lines.join('\n'));
    assert.ok(lines.some((l) => l.startsWith(`${fx.configFile}:9: log.level: Invalid enum value`)), lines.join('\n'));
  } finally {
    fx.cleanup();
  }
});

test('a bad reload keeps the running config', () => {
  // the good reload below replaces all 3 hosts: above the shrink guard's default limit
  const fx = makeFixture('reload:\n  maxRemovedHosts: 3\n');
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
