// The Debian 12 preseed rendered for real inventory hosts (config -> holder -> context ->
// template), compared with WHOLE expected files under test/core/golden/.
// Regenerate after an intended template change, then review the diff:
//   npm run build && UPDATE_GOLDEN=1 node scripts/run-tests.mjs preseed-golden
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, formatError } from '../../src/config/load.js';
import { ConfigHolder } from '../../src/config/holder.js';
import { TemplateRenderer, buildContext } from '../../src/install/render.js';
import { makeFixture, REPO } from '../helpers/fixture.js';

const INV = `
roles:
  debian:
    kernel: debian-12/linux
    initrd: debian-12/initrd.gz
    template: debian-12.preseed.cfg
    packages: [curl]
    partitioning: { scheme: keep-data, disk: /dev/vda, dataLabel: data, dataMount: /data }
    vars: { timezone: Europe/Berlin }
  debian-new:
    kernel: debian-12/linux
    initrd: debian-12/initrd.gz
    template: debian-12.preseed.cfg
    packages: [curl]
    partitioning: { scheme: wipe, disk: /dev/sda, dataLabel: srv, dataMount: /srv, rootSizeMiB: 8192 }
  web:
    packages: [nginx]
hosts:
  - name: web-01
    macs: ["52:54:00:00:01:01"]
    roles: [debian, web]
    vars:
      domain: prov.example.net
      root_password_hash: "$6$salt$hash"
      ssh_authorized_keys: ["ssh-ed25519 AAAA one@x"]
  - name: new-01
    macs: ["52:54:00:00:01:02"]
    roles: [debian-new]
    vars: { swap_mb: 1024, kernel_opts: "console=ttyS0,115200" }
`;

const GOLDEN = join(REPO, 'test/core/golden');

function render(host: string): string {
  const fx = makeFixture('', INV);
  try {
    fx.write('fleetboot.yaml', `server:\n  address: 10.99.0.1\nhttp:\n  port: 8080\npaths:\n  db: ':memory:'\n  assets: assets\n  templates: ${join(REPO, 'preseed-templates')}\ninventory: inventory.yaml\n`);
    const r = loadConfig({ file: fx.configFile, env: {} });
    assert.ok(r.ok, r.ok ? '' : r.errors.map(formatError).join('\n'));
    const holder = new ConfigHolder(r.loaded);
    const rh = holder.index.byName(host)!;
    return new TemplateRenderer(join(REPO, 'preseed-templates')).render(rh.role.template, buildContext(holder, rh, { id: 7, token: 'TOKEN' }));
  } finally {
    fx.cleanup();
  }
}

function golden(name: string, actual: string) {
  const file = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN) writeFileSync(file, actual);
  assert.equal(actual, readFileSync(file, 'utf8'), `rendered output differs from ${file} (UPDATE_GOLDEN=1 regenerates it)`);
}

test('Debian preseed, keep-data: whole rendered output', () => {
  golden('debian-12.preseed.keep-data.cfg', render('web-01'));
});

test('Debian preseed, wipe: whole rendered output', () => {
  golden('debian-12.preseed.wipe.cfg', render('new-01'));
});
