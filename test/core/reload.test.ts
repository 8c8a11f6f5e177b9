// Config reload through a running Daemon: file watching that survives editors' rename-saves
// and failed reloads, SIGHUP, restart-only settings named in the log and /healthz, log.level
// applied live.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeFixture, startDaemon, captureLog, INVENTORY } from '../helpers/fixture.js';

/** Liveness bound for an event: a missed reload fails here instead of hanging the run. */
async function within<T>(p: Promise<T>, what: string, ms = 15_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms)));
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

test('watch: a bad save keeps the config, the fixed save (by rename, as editors do) reloads it', async () => {
  const fx = makeFixture();
  const { d } = await startDaemon(fx, undefined, {}, { watch: true });
  try {
    const inv = join(fx.dir, 'inventory.yaml');
    const save = (text: string) => {
      writeFileSync(`${inv}.swp`, text);
      renameSync(`${inv}.swp`, inv);
    };
    const failed = once(d.holder, 'reload-failed');
    save('hosts:\n  - name: alpha\n    macs: [zz]\n    roles: [tiny]\n');
    await within(failed, 'failed reload');
    assert.ok(d.holder.index.byName('gamma'), 'the running config stays');

    const reloaded = once(d.holder, 'reloaded');
    save(INVENTORY.replace('name: gamma', 'name: delta'));
    await within(reloaded, 'reload after the fix');
    assert.equal(d.holder.index.byName('gamma'), undefined);
    assert.ok(d.holder.index.byName('delta'));

    // and a plain in-place write of the main config is seen too
    const again = once(d.holder, 'reloaded');
    writeFileSync(fx.configFile, readFileSync(fx.configFile, 'utf8') + 'install:\n  stallSeconds: 77\n');
    await within(again, 'reload after an in-place write');
    assert.equal(d.holder.config.install.stallSeconds, 77);
  } finally {
    await d.stop();
    fx.cleanup();
  }
});

test('SIGHUP reloads; restart-only changes are named in a warning and /healthz; log.level applies live', async () => {
  const fx = makeFixture();
  const cap = captureLog('info');
  const { d, base } = await startDaemon(fx, undefined, {}, { log: cap.log });
  try {
    const original = readFileSync(fx.configFile, 'utf8');
    await fetch(`${base}/healthz`);
    assert.ok(!cap.lines().some((l) => l.msg === 'request'), 'request lines are debug');
    assert.deepEqual(((await (await fetch(`${base}/healthz`)).json()) as { restartPending: string[] }).restartPending, []);

    fx.write('fleetboot.yaml', original.replace('tftp:\n  enabled: false', 'tftp:\n  enabled: false\n  port: 1069').replace('  port: 0\n', '  port: 0\n  trustProxy: true\n') + 'log:\n  level: debug\ninstall:\n  stallSeconds: 99\n');
    process.emit('SIGHUP');
    assert.equal(d.holder.config.install.stallSeconds, 99, 'live setting applied');
    assert.deepEqual(d.restartPending, ['http.trustProxy', 'tftp.port']);
    const warn = cap.lines().find((l) => l.level === 40 && String(l.msg).startsWith('config reloaded;'));
    assert.equal(warn?.msg, 'config reloaded; these changes need a restart: http.trustProxy, tftp.port');
    const health = (await (await fetch(`${base}/healthz`)).json()) as { restartPending: string[] };
    assert.deepEqual(health.restartPending, ['http.trustProxy', 'tftp.port']);
    // the HTTP subsystem's child logger (created at start) now logs at debug
    assert.ok(cap.lines().some((l) => l.msg === 'request' && l.subsystem === 'http'), 'debug lines after the reload');

    // back to the running values: nothing pending any more
    fx.write('fleetboot.yaml', original);
    assert.equal(d.reload('test'), true);
    assert.deepEqual(d.restartPending, []);
  } finally {
    await d.stop();
    fx.cleanup();
  }
});
