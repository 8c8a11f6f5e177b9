// Rollout engine over the real InstallService and SQLite file, with a fake clock and FakePower
// (records every BMC call, plays each host's installer through the real callback entry points).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeBench, runToEnd, type Bench } from './harness.js';
import { controlRollout } from '../../src/rollout/plan.js';
import type { HostState } from '../../src/rollout/types.js';
import { summary, estimate } from '../../src/rollout/view.js';

const HOOK = 'notify:\n  webhooks:\n    - url: http://127.0.0.1:9/hook\n      format: json\n';

function marks(b: Bench, id: number, host?: string) {
  return b.svc.store.steps(id).filter((s) => s.kind === 'mark' && (!host || s.host === host));
}
function states(b: Bench, id: number): Record<string, HostState> {
  return Object.fromEntries(b.svc.store.hosts(id).map((h) => [h.host, h.state]));
}
function outbox(b: Bench) {
  return b.db.prepare('SELECT event FROM notify_outbox ORDER BY id').all() as { event: string }[];
}

test('canary first, then waves of 2 with at most --parallel installing; every host marked and powered once', async () => {
  const b = makeBench(5, { extraConfig: HOOK });
  try {
    const id = b.start({ role: 'web', canary: 1, wave: 2, parallel: 2 });
    let maxActive = 0;
    for (let i = 0; i < 200 && b.svc.store.get(id)!.state === 'running'; i++) {
      await b.round();
      const active = b.svc.store.hosts(id).filter((h) => !['pending', 'done', 'failed', 'cancelled'].includes(h.state)).length;
      maxActive = Math.max(maxActive, active);
    }
    assert.equal(b.svc.store.get(id)!.state, 'completed');
    assert.ok(maxActive <= 2, `at most 2 at once, saw ${maxActive}`);
    const sum = summary(b.svc.store, b.svc.store.get(id)!, b.clock.now());
    assert.equal(sum.elapsedMs, sum.finishedAt! - sum.startedAt!);
    assert.ok(sum.elapsedMs! > 0);
    for (const h of ['h01', 'h02', 'h03', 'h04', 'h05']) {
      assert.equal(marks(b, id, h).length, 1, `${h} marked once`);
      assert.deepEqual(b.power.callsFor(h).map((c) => c.action), ['pxe'], `${h} powered once, pxe`);
      assert.equal(b.runs.latestRun(h)!.state, 'done');
    }
    // order: the canary is done before wave 1 is marked; wave 1 is done before wave 2 is marked
    const steps = b.svc.store.steps(id);
    const at = (host: string, kind: string) => steps.find((s) => s.host === host && s.kind === kind)!.at;
    assert.ok(at('h01', 'done') <= Math.min(at('h02', 'mark'), at('h03', 'mark')));
    assert.ok(Math.max(at('h02', 'done'), at('h03', 'done')) <= Math.min(at('h04', 'mark'), at('h05', 'mark')));
    assert.deepEqual(outbox(b), [{ event: 'rollout.completed' }]);
    const audit = b.db.prepare("SELECT actor, action, target FROM audit_log WHERE action = 'reinstall.mark' ORDER BY id").all() as { actor: string; target: string }[];
    assert.deepEqual(audit.map((a) => a.target), ['h01', 'h02', 'h03', 'h04', 'h05']);
    assert.equal(audit[0].actor, `rollout:${id}`);
  } finally {
    b.close();
  }
});

test('a failed canary stops the rollout, pages, and touches no other host', async () => {
  const b = makeBench(4, { extraConfig: HOOK });
  try {
    b.power.behaviour.set('h01', 'install-fails');
    const id = b.start({ role: 'web', canary: 1, wave: 2, retries: 0, maxFailures: 3 });
    assert.equal(await runToEnd(b, id), 'stopped-canary');
    assert.match(b.svc.store.get(id)!.reason!, /canary h01 failed: install run \d+ failed: no disk found/);
    assert.deepEqual(states(b, id), { h01: 'failed', h02: 'pending', h03: 'pending', h04: 'pending' });
    assert.deepEqual(b.power.calls.map((c) => c.host), ['h01']);
    assert.deepEqual(outbox(b), [{ event: 'rollout.canary_failed' }]);
    for (const h of ['h02', 'h03', 'h04']) assert.equal(b.runs.latestRun(h), undefined);
  } finally {
    b.close();
  }
});

test('the budget stop comes exactly when failures exceed --max-failures, and no later wave starts', async () => {
  const b = makeBench(7, { extraConfig: HOOK });
  try {
    // waves: [h01] [h02 h03] [h04 h05] [h06 h07]; one failure in wave 1 is within budget 1
    b.power.behaviour.set('h02', 'install-fails');
    b.power.behaviour.set('h04', 'install-fails');
    const id = b.start({ role: 'web', canary: 1, wave: 2, maxFailures: 1, retries: 0 });
    let sawOneFailureRunning = false;
    for (let i = 0; i < 200; i++) {
      await b.round();
      const r = b.svc.store.get(id)!;
      const failed = b.svc.store.hosts(id).filter((h) => h.state === 'failed').length;
      if (failed === 1 && r.state === 'running') sawOneFailureRunning = true;
      if (failed === 2) {
        assert.equal(r.state, 'stopped-budget', 'stopped in the same tick as the failure that exceeded the budget');
        break;
      }
      assert.equal(r.state, 'running', `no stop while failures (${failed}) <= 1`);
    }
    assert.ok(sawOneFailureRunning);
    await runToEnd(b, id);
    const steps = b.svc.store.steps(id);
    const stop = steps.find((s) => s.kind === 'rollout.stopped-budget')!;
    assert.equal(stop.at, steps.find((s) => s.host === 'h04' && s.kind === 'failed')!.at);
    assert.equal(stop.detail, '2 host(s) failed, budget is 1');
    const st = states(b, id);
    assert.equal(st.h06, 'pending');
    assert.equal(st.h07, 'pending');
    assert.equal(b.power.callsFor('h06').length + b.power.callsFor('h07').length, 0);
    assert.equal(marks(b, id, 'h06').length + marks(b, id, 'h07').length, 0);
    // h05 was in the failing wave: it is followed to its end even after the stop
    assert.equal(st.h05, 'done');
    assert.deepEqual(outbox(b), [{ event: 'rollout.stopped_budget' }]);
  } finally {
    b.close();
  }
});

test('a failed attempt is retried with a new mark and a new run; retries exhausted count as one failure', async () => {
  const b = makeBench(3);
  try {
    b.power.failTimes.set('h02', 1); // first install fails, second works
    b.power.failTimes.set('h03', 5); // always fails
    const id = b.start({ hosts: ['h01', 'h02', 'h03'], canary: 0, wave: 3, retries: 1, maxFailures: 1 });
    assert.equal(await runToEnd(b, id), 'completed');
    const h2 = b.svc.store.host(id, 'h02')!;
    assert.equal(h2.state, 'done');
    assert.equal(h2.attempt, 2);
    assert.deepEqual(marks(b, id, 'h02').map((s) => s.attempt), [1, 2]);
    assert.deepEqual(b.runs.runs('h02').map((r) => r.state), ['done', 'failed']);
    const h3 = b.svc.store.host(id, 'h03')!;
    assert.equal(h3.state, 'failed');
    assert.equal(h3.attempt, 2, 'retries 1 = two attempts');
    assert.equal(b.power.callsFor('h03').length, 2);
    assert.equal(b.svc.store.counts(id).failed, 1);
  } finally {
    b.close();
  }
});

test('phase deadlines: boot, install and up each fail the host with their reason, not before the deadline', async () => {
  const b = makeBench(3);
  try {
    b.power.behaviour.set('h01', 'no-boot');
    b.power.behaviour.set('h02', 'hangs');
    b.power.behaviour.set('h03', 'no-up');
    const id = b.start({ role: 'web', canary: 0, wave: 3, retries: 0, maxFailures: 3, deadlineBoot: '2m', deadlineInstall: '5m', deadlineUp: '3m' });
    assert.equal(await runToEnd(b, id), 'completed');
    const hs = Object.fromEntries(b.svc.store.hosts(id).map((h) => [h.host, h]));
    assert.match(hs.h01.last_error!, /^boot deadline: no network boot within 2m/);
    assert.match(hs.h02.last_error!, /^install deadline: not finished within 5m .*stage partitioning/);
    assert.match(hs.h03.last_error!, /^up deadline: .* within 3m/);
    const steps = b.svc.store.steps(id);
    const at = (host: string, kind: string) => steps.find((s) => s.host === host && s.kind === kind)!.at;
    assert.ok(at('h01', 'failed') - at('h01', 'powered') > 120_000);
    assert.ok(at('h01', 'failed') - at('h01', 'powered') <= 130_000);
    assert.ok(at('h02', 'failed') - b.runs.latestRun('h02')!.booted_at! > 300_000);
    assert.ok(at('h03', 'failed') - at('h03', 'up-wait') > 180_000);
    // the runs were cancelled: their hosts' next network boot is the local disk, not the installer
    for (const h of ['h01', 'h02', 'h03']) assert.equal(b.runs.isMarked(h), false);
  } finally {
    b.close();
  }
});

test('health check: failing until the up deadline fails the host; passing marks it done', async () => {
  const b = makeBench(2);
  try {
    b.health.result = (h) => (h === 'h02' ? { ok: false, error: 'exit 1: nginx down' } : { ok: true });
    const id = b.start({ role: 'web', canary: 0, wave: 2, retries: 0, maxFailures: 1, deadlineUp: '1m', health: 'true' });
    assert.equal(await runToEnd(b, id), 'completed');
    assert.equal(b.svc.store.host(id, 'h01')!.state, 'done');
    assert.match(b.svc.store.host(id, 'h02')!.last_error!, /^health check did not pass within 1m: health: exit 1: nginx down/);
    assert.ok(b.health.calls.filter((h) => h === 'h02').length >= 3, 'checked repeatedly');
  } finally {
    b.close();
  }
});

test('pause stops new hosts (running ones finish), resume continues, abort cancels what has not booted', async () => {
  const b = makeBench(6);
  try {
    b.power.behaviour.set('h03', 'no-boot');
    const id = b.start({ role: 'web', canary: 1, wave: 2, parallel: 2 });
    while (b.svc.store.host(id, 'h02')!.state === 'pending') await b.round();
    controlRollout(b.svc.store, id, 'pause', 'tests', b.clock.now(), () => {});
    const before = b.power.calls.length;
    for (let i = 0; i < 20; i++) await b.round();
    assert.equal(b.power.calls.length, before, 'nothing new while paused');
    assert.equal(b.svc.store.get(id)!.state, 'paused');
    assert.equal(b.svc.store.host(id, 'h02')!.state, 'done', 'a host already installing finishes during a pause');
    assert.throws(() => controlRollout(b.svc.store, id, 'pause', 'tests', b.clock.now(), () => {}), /already paused/);
    controlRollout(b.svc.store, id, 'resume', 'tests', b.clock.now(), () => {});
    await b.round();
    assert.equal(b.svc.store.get(id)!.state, 'running');
    assert.equal(b.svc.store.host(id, 'h03')!.state, 'booting');
    assert.equal(b.svc.store.host(id, 'h04')!.state, 'pending', 'wave 2 waits for wave 1');
    controlRollout(b.svc.store, id, 'abort', 'tests', b.clock.now(), () => {}, b.installs, b.runs);
    await runToEnd(b, id);
    const st = states(b, id);
    assert.deepEqual(st, { h01: 'done', h02: 'done', h03: 'cancelled', h04: 'pending', h05: 'pending', h06: 'pending' });
    assert.equal(b.runs.isMarked('h03'), false);
    assert.equal(b.runs.latestRun('h03')!.state, 'cancelled');
    assert.equal(b.svc.store.get(id)!.state, 'aborted');
    assert.throws(() => controlRollout(b.svc.store, id, 'resume', 'tests', b.clock.now(), () => {}), /aborted/);
  } finally {
    b.close();
  }
});

test('restart in the middle, at every round: the rollout continues; no host marked twice, none skipped', async () => {
  const b = makeBench(7);
  try {
    b.power.behaviour.set('h05', 'install-fails');
    const id = b.start({ role: 'web', canary: 1, wave: 2, parallel: 2, maxFailures: 1, retries: 1 });
    for (let i = 0; i < 300 && b.svc.store.live().length; i++) {
      await b.round();
      b.reopen(); // close the DB and the engine, open both again
    }
    assert.equal(b.svc.store.get(id)!.state, 'completed');
    for (const h of ['h01', 'h02', 'h03', 'h04', 'h06', 'h07']) {
      assert.deepEqual(marks(b, id, h).map((s) => s.attempt), [1], `${h} marked exactly once`);
      assert.equal(b.svc.store.host(id, h)!.state, 'done');
    }
    assert.deepEqual(marks(b, id, 'h05').map((s) => s.attempt), [1, 2]);
    assert.equal(b.svc.store.host(id, 'h05')!.state, 'failed');
  } finally {
    b.close();
  }
});

test('restart between the power step and its outcome: power is asked again, the mark is not repeated', async () => {
  const b = makeBench(2);
  try {
    const id = b.start({ role: 'web', canary: 1, wave: 1 });
    // the BMC call never returns in the first process (it "dies" during it)
    const real = b.power.act.bind(b.power);
    let hang = true;
    b.power.act = (host, action) => (hang ? new Promise(() => {}) : real(host, action));
    b.svc.engine.tick();
    assert.equal(b.svc.store.host(id, 'h01')!.state, 'power');
    assert.deepEqual(b.svc.store.steps(id).filter((s) => s.host === 'h01').map((s) => s.kind), ['mark', 'power']);
    b.reopen();
    hang = false;
    assert.equal(await runToEnd(b, id), 'completed');
    const kinds = b.svc.store.steps(id).filter((s) => s.host === 'h01').map((s) => s.kind);
    assert.deepEqual(kinds.slice(0, 4), ['mark', 'power', 'power-again', 'powered']);
    assert.equal(marks(b, id, 'h01').length, 1);
    assert.equal(b.runs.runs('h01').length, 1, 'one install run');
  } finally {
    b.close();
  }
});

test('a dead BMC fails the attempt with the power error (and is retried)', async () => {
  const b = makeBench(1);
  try {
    b.power.behaviour.set('h01', 'bmc-dead');
    const id = b.start({ hosts: ['h01'], canary: 0, retries: 1, maxFailures: 1 });
    assert.equal(await runToEnd(b, id), 'completed');
    const h = b.svc.store.host(id, 'h01')!;
    assert.equal(h.state, 'failed');
    assert.equal(h.last_error, 'power: BMC did not answer');
    assert.equal(b.power.calls.length, 2);
  } finally {
    b.close();
  }
});

test('a scheduled rollout (--at) waits for its time; a host is in one unfinished rollout at most', async () => {
  const b = makeBench(3);
  try {
    const id = b.start({ role: 'web', canary: 0, at: '+10m' });
    assert.equal(b.svc.store.get(id)!.state, 'scheduled');
    assert.throws(() => b.start({ hosts: ['h02'] }), /already in an unfinished rollout: h02 \(rollout 1\)/);
    for (let i = 0; i < 50; i++) await b.round(10_000); // 500 s < 10 min
    assert.equal(b.power.calls.length, 0);
    await b.round(120_000);
    await b.round();
    assert.equal(b.svc.store.get(id)!.state, 'running');
    assert.ok(b.svc.store.get(id)!.started_at! >= b.svc.store.get(id)!.start_at);
    assert.ok(b.power.calls.length > 0);
  } finally {
    b.close();
  }
});

test('estimate of the time left: mean per-host time times the rounds of --parallel left, wave by wave', () => {
  const o = { canary: 1, wave: 4, parallel: 2, maxFailures: 0, retries: 0, deadlineBootMs: 1, deadlineInstallMs: 1, deadlineUpMs: 1 };
  const h = (host: string, wave: number, state: HostState, started: number | null, finished: number | null) => ({ rollout_id: 1, host, position: 0, wave, state, attempt: 1, run_id: null, phase_at: null, started_at: started, finished_at: finished, last_error: null });
  // canary took 100 s; wave 1: 4 hosts, 2 under way for 30 s, 2 pending; wave 2: 3 pending
  const hosts = [h('a', 0, 'done', 0, 100_000), h('b', 1, 'installing', 170_000, null), h('c', 1, 'installing', 170_000, null), h('d', 1, 'pending', null, null), h('e', 1, 'pending', null, null), h('f', 2, 'pending', null, null), h('g', 2, 'pending', null, null), h('i', 2, 'pending', null, null)];
  // wave 1: 70 s left for the running pair + 1 round of 100 s; wave 2: 2 rounds of 100 s
  assert.equal(estimate(hosts, o, 200_000), 70_000 + 100_000 + 200_000);
  assert.equal(estimate(hosts.map((x) => ({ ...x, state: x.state === 'done' ? 'pending' as HostState : x.state })), o, 200_000), null, 'nothing done yet: no estimate');
});
