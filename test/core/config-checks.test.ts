// Cross-checks between settings: DHCP against boot policy and server address, boot assets,
// the templates directory boundary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadConfig, formatError } from '../../src/config/load.js';
import { isInside } from '../../src/config/checks.js';
import { makeFixture } from '../helpers/fixture.js';

const BASE = 'http:\n  port: 0\npaths:\n  db: ":memory:"\n  assets: assets\n  templates: templates\ninventory: inventory.yaml\n';
const DHCP = (policy: string, mode = 'full') => `dhcp:\n  enabled: true\n  mode: ${mode}\n  serverAddress: 10.0.0.1\n  pool: { start: 10.0.0.100, end: 10.0.0.200 }\n  unknownPolicy: ${policy}\n`;
const DISCOVERY = 'boot:\n  unknown: discovery\n  discovery: { kernel: tiny/vmlinuz, initrd: tiny/initrd.img }\n';

function check(config: string) {
  const fx = makeFixture();
  try {
    fx.write('fleetboot.yaml', BASE + config);
    const r = loadConfig({ file: fx.configFile, env: {} });
    const strip = (s: string) => s.replace(fx.dir, '<dir>');
    return r.ok ? { ok: true, errors: [] as string[], warnings: r.loaded.warnings.map((w) => strip(formatError(w))) } : { ok: false, errors: r.errors.map((e) => strip(formatError(e))), warnings: [] as string[] };
  } finally {
    fx.cleanup();
  }
}

const cases: [string, string, { ok: boolean; error?: RegExp; warning?: RegExp }][] = [
  ['dhcp discover + boot.unknown silence', 'server:\n  address: 10.0.0.1\nboot:\n  unknown: silence\n' + DHCP('discover'), { ok: false, error: /^<dir>\/fleetboot\.yaml:\d+: boot\.unknown: dhcp\.unknownPolicy "discover" points unknown machines at \/boot\.ipxe, but boot\.unknown "silence" answers them 404/ }],
  ['dhcp ignore + discovery, full mode', 'server:\n  address: 10.0.0.1\n' + DISCOVERY + DHCP('ignore'), { ok: false, error: /boot\.unknown: boot\.unknown "discovery" is unreachable: dhcp\.unknownPolicy "ignore" gives unknown machines no boot information and fleetboot is the DHCP server/ }],
  ['dhcp address-only + discovery, proxy mode: a warning', 'server:\n  address: 10.0.0.1\n' + DISCOVERY + DHCP('address-only', 'proxy'), { ok: true, warning: /boot\.unknown "discovery" is unreachable: dhcp\.unknownPolicy "address-only" .*unless your DHCP server chains them/ }],
  ['dhcp discover + discovery', 'server:\n  address: 10.0.0.1\n' + DISCOVERY + DHCP('discover'), { ok: true }],
  ['dhcp discover + local', 'server:\n  address: 10.0.0.1\n' + DHCP('discover'), { ok: true }],
  ['dhcp off: boot.unknown silence is fine', 'boot:\n  unknown: silence\n', { ok: true }],
  ['dhcp on, server.address unset', DHCP('ignore'), { ok: false, error: /server\.address: server\.address is not set \(default 127\.0\.0\.1\), but dhcp is enabled.*\(dhcp\.serverAddress is 10\.0\.0\.1\)/ }],
  ['dhcp on, server.address loopback', 'server:\n  address: 127.0.1.1\n' + DHCP('ignore'), { ok: false, error: /^<dir>\/fleetboot\.yaml:9: server\.address: server\.address is 127\.0\.1\.1, but dhcp is enabled/ }],
  ['dhcp on, server.address set', 'server:\n  address: 10.0.0.1\n' + DHCP('ignore'), { ok: true }],
  ['dhcp.serverAddress differs from server.address: a warning', 'server:\n  address: 10.0.0.2\n' + DHCP('ignore'), { ok: true, warning: /server\.address: dhcp\.serverAddress is 10\.0\.0\.1 but server\.address .* is 10\.0\.0\.2/ }],
];

for (const [name, config, want] of cases) {
  test(`config check: ${name}`, () => {
    const r = check(config);
    assert.equal(r.ok, want.ok, r.errors.join('\n'));
    if (want.error) {
      assert.equal(r.errors.length, 1, r.errors.join('\n'));
      assert.match(r.errors[0], want.error);
    }
    if (want.warning) assert.ok(r.warnings.some((w) => want.warning!.test(w)), r.warnings.join('\n'));
    else assert.deepEqual(r.warnings, []);
  });
}

test('a missing boot asset: the warning suggests `assets fetch` only for files that command fetches', () => {
  const fx = makeFixture(
    '',
    `roles:
  debian:
    kernel: debian-12/linux
    initrd: debian-12/initrd.gz
    template: tiny.cfg
  ubuntu:
    kernel: ubuntu-24.04/vmlinuz
    initrd: tiny/initrd.img
    template: tiny.cfg
hosts: []
`,
  );
  try {
    const r = loadConfig({ file: fx.configFile, env: {} });
    assert.ok(r.ok, r.ok ? '' : r.errors.map(formatError).join('\n'));
    const w = r.loaded.warnings.map(formatError);
    assert.equal(w.length, 3, w.join('\n'));
    assert.match(w[0], /inventory\.yaml:3: roles\.debian\.kernel: boot asset not present yet: debian-12\/linux \(run `fleetboot assets fetch`\)$/);
    assert.match(w[1], /inventory\.yaml:4: roles\.debian\.initrd: boot asset not present yet: debian-12\/initrd\.gz \(run `fleetboot assets fetch`\)$/);
    assert.match(w[2], new RegExp(`inventory\\.yaml:7: roles\\.ubuntu\\.kernel: boot asset not present: ${join(fx.dir, 'assets/ubuntu-24.04/vmlinuz')} \\(\`fleetboot assets fetch\` provides only undionly\\.kpxe, .*debian-12/linux, debian-12/initrd\\.gz; put this file there yourself\\)$`));
  } finally {
    fx.cleanup();
  }
});

test('the templates directory boundary is a path boundary, not a string prefix', () => {
  assert.equal(isInside('/srv/templates', '/srv/templates/a.cfg'), true);
  assert.equal(isInside('/srv/templates', '/srv/templates/files/b.sh'), true);
  assert.equal(isInside('/srv/templates', '/srv/templates-x/f'), false);
  assert.equal(isInside('/srv/templates', '/srv/templates'), false);
  assert.equal(isInside('/srv/templates', '/srv/other/..templates'), false);
  assert.equal(isInside('/srv/templates', '/srv/templates/..data'), true, 'a file whose name starts with two dots is still inside');
});
