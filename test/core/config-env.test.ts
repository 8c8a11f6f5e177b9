// Settings from the environment (blame, FLEETBOOT_INVENTORY, relative paths) and the embedded
// demo from any working directory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, formatError } from '../../src/config/load.js';
import { makeFixture, REPO, INVENTORY } from '../helpers/fixture.js';

test('an invalid value from the environment is blamed on the variable, not on the file', () => {
  const fx = makeFixture();
  try {
    const r = loadConfig({ file: fx.configFile, env: { FLEETBOOT_HTTP_PORT: '70000' } });
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.deepEqual(r.errors.map(formatError), ['env FLEETBOOT_HTTP_PORT: http.port: Number must be less than or equal to 65535']);
    // the same value in the file is blamed on the file's line
    fx.write('fleetboot.yaml', 'http:\n  port: 70000\n');
    const f = loadConfig({ file: fx.configFile, env: {} });
    assert.equal(f.ok, false);
    if (!f.ok) assert.deepEqual(f.errors.map(formatError), [`${fx.configFile}:2: http.port: Number must be less than or equal to 65535`]);
  } finally {
    fx.cleanup();
  }
});

test('FLEETBOOT_INVENTORY names the inventory, relative to the working directory', () => {
  const fx = makeFixture();
  const other = mkdtempSync(join(tmpdir(), 'fb-inv-'));
  try {
    fx.write('fleetboot.yaml', 'http:\n  port: 0\npaths:\n  assets: assets\n  templates: templates\n  db: ":memory:"\n');
    fx.write('elsewhere/inv.yaml', INVENTORY.replace('name: alpha', 'name: omega'));
    // a relative name from the environment is taken from where the command runs
    const r = loadConfig({ file: fx.configFile, env: { FLEETBOOT_INVENTORY: 'elsewhere/inv.yaml' }, cwd: fx.dir });
    assert.ok(r.ok, r.ok ? '' : r.errors.map(formatError).join('\n'));
    assert.deepEqual(r.loaded.config.hosts.map((h) => h.name), ['omega', 'beta', 'gamma']);
    assert.ok(r.loaded.files.includes(join(fx.dir, 'elsewhere/inv.yaml')), 'the inventory is watched');
    // ... so from another directory the same relative name is not found, and the variable is blamed
    const bad = loadConfig({ file: fx.configFile, env: { FLEETBOOT_INVENTORY: 'elsewhere/inv.yaml' }, cwd: other });
    assert.equal(bad.ok, false);
    if (!bad.ok) assert.deepEqual(bad.errors.map(formatError), [`env FLEETBOOT_INVENTORY: inventory: inventory file not found: ${join(other, 'elsewhere/inv.yaml')}`]);
    // the env value wins over the file's inventory key
    fx.write('fleetboot.yaml', 'http:\n  port: 0\npaths:\n  assets: assets\n  templates: templates\n  db: ":memory:"\ninventory: inventory.yaml\n');
    const both = loadConfig({ file: fx.configFile, env: { FLEETBOOT_INVENTORY: join(fx.dir, 'elsewhere/inv.yaml') } });
    assert.ok(both.ok);
    if (both.ok) assert.equal(both.loaded.config.hosts[0].name, 'omega');
  } finally {
    fx.cleanup();
    rmSync(other, { recursive: true, force: true });
  }
});

test('relative paths: from the file, relative to its directory; from the environment, to the working directory', () => {
  const fx = makeFixture();
  try {
    const r = loadConfig({ file: fx.configFile, env: { FLEETBOOT_PATHS_DB: 'here.sqlite' }, cwd: '/tmp' });
    assert.ok(r.ok, r.ok ? '' : r.errors.map(formatError).join('\n'));
    assert.equal(r.loaded.config.paths.db, '/tmp/here.sqlite');
    assert.equal(r.loaded.config.paths.assets, join(fx.dir, 'assets'));
    assert.equal(r.loaded.config.cache.dir, join(fx.dir, 'var/cache'));
  } finally {
    fx.cleanup();
  }
});

test('the embedded demo resolves its paths against the package, from any working directory', () => {
  const r = loadConfig({ env: {}, cwd: '/tmp' });
  assert.ok(r.ok, r.ok ? '' : r.errors.map(formatError).join('\n'));
  assert.equal(r.loaded.config.paths.db, join(REPO, 'db/demo.sqlite'));
  assert.equal(r.loaded.config.paths.templates, join(REPO, 'preseed-templates'));
  assert.equal(r.loaded.config.paths.assets, join(REPO, 'boot-assets'));
  assert.equal(r.loaded.baseDir, REPO);
  const c = spawnSync('node', [join(REPO, 'dist/src/cli.js'), 'check'], { encoding: 'utf8', cwd: '/tmp', env: { PATH: process.env.PATH } });
  assert.equal(c.status, 0, c.stderr);
  assert.match(c.stdout, /^ok: 5 hosts, 5 roles \(embedded demo\)/);
});

test('FLEETBOOT_INVENTORY with the demo replaces the demo inventory', () => {
  const fx = makeFixture();
  try {
    const r = loadConfig({ env: { FLEETBOOT_INVENTORY: join(fx.dir, 'inventory.yaml'), FLEETBOOT_PATHS_TEMPLATES: join(fx.dir, 'templates') } });
    assert.ok(r.ok, r.ok ? '' : r.errors.map(formatError).join('\n'));
    assert.deepEqual(r.loaded.config.hosts.map((h) => h.name), ['alpha', 'beta', 'gamma']);
  } finally {
    fx.cleanup();
  }
});
