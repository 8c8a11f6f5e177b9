// A careless or half-written inventory never reaches the running daemon: an emptied file is
// "not written yet", a file still being written is read only once it has settled, and a reload
// that removes every host (or a large share) is held until `fleetboot reload --confirm-shrink`.
// Through the real daemon reload path (file watch, SIGHUP) and the real CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { makeFixture, startDaemon, INVENTORY, REPO } from '../helpers/fixture.js';
import type { Daemon } from '../../src/daemon.js';

const run = promisify(execFile);
async function fb(configFile: string, ...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await run('node', [join(REPO, 'dist/src/cli.js'), '--config', configFile, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout + x.stderr };
  }
}

async function within<T>(p: Promise<T>, what: string, ms = 15_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms)));
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const names = (d: Daemon) => d.holder.index.all().map((h) => h.host.name).sort();
const ROLES_ONLY = INVENTORY.slice(0, INVENTORY.indexOf('hosts:')) + 'hosts: []\n';

test('`: > inventory.yaml` is not applied: the hosts stay, a host mid-install keeps its installer', async () => {
  const fx = makeFixture();
  const { d, base } = await startDaemon(fx, undefined, {}, { watch: true });
  try {
    d.installs.mark(['alpha'], 'test');
    const before = await (await fetch(`${base}/boot.ipxe?mac=52:54:00:aa:00:01`)).text();
    assert.match(before, /^kernel /m);
    const failed = once(d.holder, 'reload-failed');
    writeFileSync(join(fx.dir, 'inventory.yaml'), '');
    const [errors] = (await within(failed, 'refused reload')) as [{ message: string }[]];
    assert.match(errors[0].message, /inventory file is empty \(0 bytes\)/);
    assert.deepEqual(names(d), ['alpha', 'beta', 'gamma']);
    const after = await (await fetch(`${base}/boot.ipxe?mac=52:54:00:aa:00:01`)).text();
    assert.match(after, /^kernel /m, 'still the installer, not a local boot');
    // only comments / a bare document marker is no inventory either
    writeFileSync(join(fx.dir, 'inventory.yaml'), '# nothing yet\n---\n');
    assert.equal(d.reload('test'), false);
    assert.equal(d.holder.index.all().length, 3);
  } finally {
    await d.stop();
    fx.cleanup();
  }
});

test('a file still being written is read once it settles, never half-way', async () => {
  const fx = makeFixture();
  const { d } = await startDaemon(fx, undefined, {}, { watch: true });
  const seen: string[][] = [];
  d.holder.on('reloaded', () => seen.push(names(d)));
  try {
    const full = INVENTORY.replace('name: gamma', 'name: delta');
    // the first half is valid YAML on its own (hosts alpha, beta); the writer pauses longer than
    // the 300 ms debounce before writing the rest, as a slow copy or a stalled editor does
    const cut = full.indexOf('  - name: delta');
    const fd = openSync(join(fx.dir, 'inventory.yaml'), 'w');
    writeSync(fd, full.slice(0, cut));
    await sleep(600);
    writeSync(fd, full.slice(cut));
    closeSync(fd);
    await within(
      (async () => {
        while (!seen.length) await sleep(50);
      })(),
      'reload of the finished file',
    );
    await sleep(1500);
    assert.deepEqual(seen, [['alpha', 'beta', 'delta']], 'only the finished file was applied');
  } finally {
    await d.stop();
    fx.cleanup();
  }
});

test('a reload to 0 hosts is held (log, /healthz, CLI) until `fleetboot reload --confirm-shrink`', async () => {
  const fx = makeFixture();
  const { d, base } = await startDaemon(fx, undefined, {}, { watch: false });
  try {
    d.installs.mark(['beta'], 'test');
    fx.write('inventory.yaml', ROLES_ONLY);
    process.emit('SIGHUP');
    assert.deepEqual(names(d), ['alpha', 'beta', 'gamma'], 'SIGHUP alone does not apply it');
    const health = (await (await fetch(`${base}/healthz`)).json()) as { pendingShrink: { message: string; removed: number; before: number } };
    assert.equal(health.pendingShrink.removed, 3);
    assert.match(health.pendingShrink.message, /^pending shrink: 3 of 3 hosts removed .*fleetboot reload --confirm-shrink/);

    let r = await fb(fx.configFile, 'reload');
    assert.equal(r.code, 1);
    assert.match(r.out, /pending shrink: 3 of 3 hosts removed \(0 left; gone: alpha, beta, gamma\)/);
    r = await fb(fx.configFile, 'check');
    assert.match(r.out, /valid but EMPTY: 0 hosts/);
    assert.doesNotMatch(r.out, /^ok: 0 hosts/m);
    assert.match(r.out, /warning: .*the inventory has no hosts/);

    r = await fb(fx.configFile, 'reload', '--confirm-shrink');
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /^applied: 0 hosts \(3 removed\)/m);
    assert.deepEqual(names(d), []);
    const h2 = (await (await fetch(`${base}/healthz`)).json()) as { pendingShrink: unknown; hosts: number };
    assert.equal(h2.pendingShrink, null);
    assert.equal(h2.hosts, 0);
    r = await fb(fx.configFile, 'reload');
    assert.equal(r.code, 0);
    assert.match(r.out, /nothing held/);
  } finally {
    await d.stop();
    fx.cleanup();
  }
});

test('a confirmation is for one version of the files; a large share held, one host removed applies', async () => {
  const fx = makeFixture('reload:\n  maxRemovedHosts: 1\n');
  const { d } = await startDaemon(fx, undefined, {}, { watch: false });
  try {
    // 1 of 3 (33 % > 25 %, but not more than 1 host): an ordinary edit, applied
    fx.write('inventory.yaml', INVENTORY.replace(/  - name: gamma\n.*\n.*\n$/, ''));
    assert.equal(d.reload('test'), true);
    assert.deepEqual(names(d), ['alpha', 'beta']);
    // 2 of 2: held
    fx.write('inventory.yaml', ROLES_ONLY);
    assert.equal(d.reload('test'), false);
    assert.ok(d.holder.held);
    // an operator's "yes" for another version of the files does nothing
    assert.equal(d.reload('test', { confirm: 'not-these-files' }), false);
    assert.deepEqual(names(d), ['alpha', 'beta']);
    // restoring the file ends the hold
    fx.write('inventory.yaml', INVENTORY);
    assert.equal(d.reload('test'), true);
    assert.equal(d.holder.held, undefined);
    assert.deepEqual(names(d), ['alpha', 'beta', 'gamma']);
    // the empty file is an error for `check` too
    fx.write('inventory.yaml', '');
    const r = await fb(fx.configFile, 'check');
    assert.equal(r.code, 1);
    assert.match(r.out, /inventory file is empty \(0 bytes\)/);
  } finally {
    await d.stop();
    fx.cleanup();
  }
});
