// Anyone holding a run's token (a marked host's MAC gives it away) can post progress events:
// the run's budget caps them (per run, and per second with a burst) with a clear 429, a refused
// callback that changes the run's state still changes it, and the database stops growing.
// The events API pages through a long timeline with `next` links instead of stopping silently.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { makeFixture, startDaemon, mintToken, FakeClock } from '../helpers/fixture.js';

test('event flood on a token: 429 past the burst and past the per-run cap; stored rows stop at the cap; done still applies', async () => {
  const clock = new FakeClock();
  const fx = makeFixture('install:\n  maxEventsPerRun: 300\n  eventsPerSecond: 20\n  eventBurst: 100\n');
  const { d, base } = await startDaemon(fx, clock);
  try {
    d.installs.mark(['alpha'], 'test');
    const token = d.store.openRun('alpha')!.token;
    const runId = d.store.openRun('alpha')!.id;
    const cb = (stage: string, msg = 'x'.repeat(2000)) => fetch(`${base}/i/${token}/progress`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ stage, message: msg }) });
    const statuses: number[] = [];
    let rate: Response | undefined;
    // the clock stands still: the burst is all there is
    for (let i = 0; i < 150; i++) {
      const r = await cb(`flood-${i}`);
      statuses.push(r.status);
      if (r.status === 429 && !rate) rate = r;
      else await r.arrayBuffer();
    }
    assert.equal(statuses.filter((s) => s === 200).length, 100, 'the burst');
    assert.equal(statuses.filter((s) => s === 429).length, 50);
    assert.equal(rate!.headers.get('retry-after'), '1');
    assert.match(await rate!.text(), /too many events for this install run \(install\.eventsPerSecond 20, burst 100\); retry in 1 s/);
    // time passes: the bucket refills, until the run's cap
    let cap: string | undefined;
    for (let round = 0; round < 10 && !cap; round++) {
      clock.advance(10_000);
      for (let i = 0; i < 120; i++) {
        const r = await cb(`later-${round}-${i}`);
        if (r.status === 429) {
          const t = await r.text();
          if (/install\.maxEventsPerRun/.test(t)) {
            cap = t;
            break;
          }
        } else await r.arrayBuffer();
      }
    }
    assert.match(cap ?? '', /this install run has 300 events, the most one run may store \(install\.maxEventsPerRun 300\)/);
    const stored = () => (d.db.prepare(`SELECT COUNT(*) n FROM events WHERE run_id = ? AND kind = 'progress'`).get(runId) as { n: number }).n;
    assert.equal(stored(), 300, 'exactly the cap stored');
    const size = statSync(d.holder.config.paths.db).size;
    for (let i = 0; i < 200; i++) await (await cb(`more-${i}`)).arrayBuffer();
    assert.equal(stored(), 300, 'nothing stored past the cap');
    assert.ok(statSync(d.holder.config.paths.db).size <= size + 64 * 1024, 'the database does not grow');
    // the real installer's "done" still ends the run, over the cap
    const done = await cb('done', 'finished');
    assert.equal(done.status, 200);
    assert.equal(d.store.run(runId)!.state, 'done');
  } finally {
    await d.stop();
    fx.cleanup();
  }
});

test('events API: ?limit= pages with a `next` link through every row of a long run (more than 10,000)', async () => {
  const fx = makeFixture();
  const { d, base } = await startDaemon(fx);
  try {
    const token = await mintToken(d);
    d.installs.mark(['gamma'], 'test');
    const runId = d.store.openRun('gamma')!.id;
    const N = 10_050;
    d.store.transaction(() => {
      for (let i = 0; i < N; i++) d.store.addEvent({ runId, host: 'gamma', at: i, kind: 'log', message: `line ${i}` });
    });
    const total = (d.db.prepare('SELECT COUNT(*) n FROM events WHERE run_id = ?').get(runId) as { n: number }).n;
    const ids: number[] = [];
    let url: string | null = '/api/v1/hosts/gamma/events';
    let pages = 0;
    while (url && pages < 100) {
      const r = await fetch(`${base}${url}`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(r.status, 200);
      const body = (await r.json()) as { events: { id: number }[]; next: string | null };
      ids.push(...body.events.map((e) => e.id));
      url = body.next;
      pages++;
    }
    assert.equal(ids.length, total, 'every row, across pages');
    assert.equal(new Set(ids).size, total, 'no row twice');
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b), 'in id order');
    assert.equal(pages, Math.ceil(total / 1000), 'default page of 1000');
    // the host view of one run shows the first 5000 and links the rest
    const view = (await (await fetch(`${base}/api/v1/hosts/gamma?run=${runId}`, { headers: { authorization: `Bearer ${token}` } })).json()) as { events: { id: number }[]; eventsNext: string };
    assert.equal(view.events.length, 5000);
    assert.equal(view.eventsNext, `/api/v1/hosts/gamma/events?run=${runId}&after=${view.events[4999].id}&limit=5000`);
    // an explicit page size, and bad values
    const small = (await (await fetch(`${base}/api/v1/hosts/gamma/events?limit=7`, { headers: { authorization: `Bearer ${token}` } })).json()) as { events: unknown[]; next: string };
    assert.equal(small.events.length, 7);
    assert.match(small.next, new RegExp(`^/api/v1/hosts/gamma/events\\?run=${runId}&after=\\d+&limit=7$`));
    for (const q of ['limit=0', 'limit=10001', 'limit=abc', 'after=-1']) {
      const r = await fetch(`${base}/api/v1/hosts/gamma/events?${q}`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(r.status, 400, q);
    }
  } finally {
    await d.stop();
    fx.cleanup();
  }
});

test('syslog lines: their own budget (burst, rate, per-run cap), dropped for a host with no run, the event budget untouched', async () => {
  const clock = new FakeClock();
  const fx = makeFixture('install:\n  maxEventsPerRun: 300\n  eventsPerSecond: 20\n  eventBurst: 100\n  maxLogLinesPerRun: 250\n  logLinesPerSecond: 10\n  logBurst: 100\n');
  const { d, base } = await startDaemon(fx, clock);
  try {
    d.installs.mark(['alpha'], 'test');
    const run = d.store.openRun('alpha')!;
    const logs = () => (d.db.prepare(`SELECT COUNT(*) n FROM events WHERE run_id = ? AND kind = 'log'`).get(run.id) as { n: number }).n;
    // the clock stands still: the burst is all there is
    let stored = 0;
    for (let i = 0; i < 300; i++) if (d.installs.logLine('alpha', `line ${i}`, '10.0.0.5')) stored++;
    assert.equal(stored, 100, 'the burst');
    assert.equal(logs(), 100);
    // 5 s later: 50 more tokens
    clock.advance(5000);
    for (let i = 0; i < 300; i++) d.installs.logLine('alpha', `later ${i}`, '10.0.0.5');
    assert.equal(logs(), 150);
    // time passes: the bucket refills, until the run's cap
    for (let round = 0; round < 5; round++) {
      clock.advance(60_000);
      for (let i = 0; i < 300; i++) d.installs.logLine('alpha', `round ${round} ${i}`, '10.0.0.5');
    }
    assert.equal(logs(), 250, 'exactly the cap stored');
    // the flood of log lines left the run's event budget alone: progress callbacks still work
    const r = await fetch(`${base}/i/${run.token}/progress?stage=base-install&message=ok`);
    assert.equal(r.status, 200);
    // a host with no install run: nothing to attach the line to
    assert.equal(d.store.latestRun('beta'), undefined);
    assert.equal(d.installs.logLine('beta', 'who am I', '10.0.0.6'), false);
    assert.equal((d.db.prepare(`SELECT COUNT(*) n FROM events WHERE host = 'beta' AND kind = 'log'`).get() as { n: number }).n, 0);
  } finally {
    await d.stop();
    fx.cleanup();
  }
});
