// /metrics through the daemon over HTTP: the standard process_* / nodejs_* names (no doubled
// prefix), fleetboot_build_info, boot decisions by action and install stage durations by role
// and stage, driven by a real boot + progress callbacks with an injected clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeFixture, startDaemon, FakeClock, REPO } from '../helpers/fixture.js';
import { stageDurations } from '../../src/install/metrics.js';

const sample = (text: string, name: string, labels: Record<string, string>) => {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && want.every((w) => l.includes(w)));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
};

test('/metrics: standard default names, build info, boot decisions, install stage durations', async () => {
  const fx = makeFixture();
  const clock = new FakeClock();
  const { d, base } = await startDaemon(fx, clock);
  try {
    let text = await (await fetch(`${base}/metrics`)).text();
    assert.match(text, /^process_cpu_seconds_total \d/m);
    assert.match(text, /^nodejs_eventloop_lag_seconds \d/m);
    assert.doesNotMatch(text, /fleetboot_process_/);
    const version = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
    assert.match(text, new RegExp(`^fleetboot_build_info\\{version="${version.replace(/\./g, '\\.')}",node="${process.versions.node.replace(/\./g, '\\.')}"\\} 1$`, 'm'));

    d.installs.mark(['alpha'], 'test');
    await fetch(`${base}/boot.ipxe?mac=52:54:00:aa:00:01`); // install
    await fetch(`${base}/boot.ipxe?mac=52:54:00:aa:00:02`); // beta: not marked -> local
    await fetch(`${base}/boot.ipxe?mac=52:54:00:99:99:99`); // unknown -> local (default)
    const token = d.store.openRun('alpha')!.token;
    const cb = (stage: string) => fetch(`${base}/i/${token}/progress?stage=${stage}`);
    clock.advance(10_000);
    await cb('partitioning');
    clock.advance(20_000);
    await cb('partitioning'); // a repeated report extends the stage
    clock.advance(40_000);
    await cb('packages');
    clock.advance(300_000);
    await cb('done'); // tiny has no requireUp: the run is done here

    text = await (await fetch(`${base}/metrics`)).text();
    assert.equal(sample(text, 'fleetboot_boot_decisions_total', { action: 'install', via: 'http' }), 1);
    assert.equal(sample(text, 'fleetboot_boot_decisions_total', { action: 'local', via: 'http' }), 2);
    const h = (stage: string, suffix: string) => sample(text, `fleetboot_install_stage_duration_seconds_${suffix}`, { role: 'tiny', stage, outcome: 'done' });
    assert.equal(h('pxe', 'sum'), 10);
    assert.equal(h('partitioning', 'sum'), 60);
    assert.equal(h('packages', 'sum'), 300);
    assert.equal(h('total', 'sum'), 370);
    assert.equal(h('total', 'count'), 1);
    assert.equal(sample(text, 'fleetboot_install_stage_duration_seconds_bucket', { role: 'tiny', stage: 'partitioning', le: '60' }), 1);
    assert.equal(sample(text, 'fleetboot_install_stage_duration_seconds_bucket', { role: 'tiny', stage: 'partitioning', le: '30' }), 0);
  } finally {
    await d.stop();
    fx.cleanup();
  }
});

test('stageDurations: segments between stage changes, the last one up to the end', () => {
  const ev = (at: number, kind: string, stage: string | null) => ({ at, kind, stage });
  assert.deepEqual(stageDurations([ev(0, 'state', 'marked'), ev(1000, 'boot', 'pxe'), ev(3000, 'progress', 'a'), ev(4000, 'progress', 'a'), ev(9000, 'progress', 'b')], 10_000), [
    { stage: 'pxe', seconds: 2 },
    { stage: 'a', seconds: 6 },
    { stage: 'b', seconds: 1 },
  ]);
  assert.deepEqual(stageDurations([], 5), []);
});
