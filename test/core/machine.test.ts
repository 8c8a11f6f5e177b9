import { test } from 'node:test';
import assert from 'node:assert/strict';
import { transition, type RunEvent } from '../../src/install/machine.js';
import type { InstallState } from '../../src/boot/types.js';

const t = { stallMs: 1000, upDeadlineMs: 5000 };
const f = (state: InstallState, requireUp = false, lastEventAt = 0) => ({ state, lastEventAt, requireUp });
const boot: RunEvent = { type: 'boot' };
const prog = (stage: string): RunEvent => ({ type: 'progress', stage });
const tick: RunEvent = { type: 'tick' };

const table: [string, ReturnType<typeof f>, RunEvent, number, InstallState | null, boolean?][] = [
  ['marked boots', f('marked'), boot, 0, 'booting', false],
  ['booting boots again: no change', f('booting'), boot, 0, null],
  ['booting reports a stage', f('booting'), prog('early_command'), 0, 'installing', false],
  ['marked reports a stage (boot not seen, e.g. over another path)', f('marked'), prog('partitioning'), 0, 'installing'],
  ['installing reports a stage: stays', f('installing'), prog('packages'), 0, null],
  ['installing done', f('installing'), prog('done'), 0, 'done', true],
  ['installing done, requireUp -> rebooting', f('installing', true), prog('done'), 0, 'rebooting', true],
  ['rebooting up -> done', f('rebooting', true), prog('up'), 0, 'done', true],
  ['rebooting stray stage: no change', f('rebooting', true), prog('late_command'), 0, null],
  ['rebooting PXE boot: stays (served local)', f('rebooting', true), boot, 0, null],
  ['installing failed', f('installing'), prog('failed'), 0, 'failed', true],
  ['booting stalls after stallMs', f('booting', false, 0), tick, 1000, 'stalled', false],
  ['booting not yet stalled', f('booting', false, 0), tick, 999, null],
  ['installing stalls', f('installing', false, 500), tick, 1500, 'stalled'],
  ['marked never stalls (host not powered yet)', f('marked', false, 0), tick, 10_000_000, null],
  ['stalled recovers on progress', f('stalled'), prog('packages'), 0, 'installing'],
  ['stalled recovers on boot', f('stalled'), boot, 0, 'booting'],
  ['rebooting misses the up deadline -> failed', f('rebooting', true, 0), tick, 5000, 'failed', true],
  ['rebooting within the deadline', f('rebooting', true, 0), tick, 4999, null],
  ['cancel an installing run', f('installing'), { type: 'cancel' }, 0, 'cancelled', true],
  ['done is terminal', f('done'), prog('packages'), 0, null],
  ['failed is terminal', f('failed'), boot, 0, null],
  ['cancelled is terminal', f('cancelled'), { type: 'cancel' }, 0, null],
];

for (const [name, facts, ev, now, want, clear] of table) {
  test(`install state machine: ${name}`, () => {
    const r = transition(facts, ev, now, t);
    if (want === null) assert.equal(r, null);
    else {
      assert.ok(r, 'expected a transition');
      assert.equal(r.state, want);
      if (clear !== undefined) assert.equal(r.clearMark, clear);
    }
  });
}
