// /api/v1 through the real Daemon with the browser UI off (web.enabled: false, the fixture's
// default): credentials are still required (API tokens), error bodies carry their own codes,
// run ids are checked against the host, a selection matching nothing says so, and the read
// models (stage -> progress, last install duration) are what the API reports.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeFixture, startDaemon, mintToken, FakeClock, type Fixture } from '../helpers/fixture.js';
import type { Daemon } from '../../src/daemon.js';
import { SessionStore } from '../../src/web/sessions.js';
import { AuthStore } from '../../src/web/auth.js';

let fx: Fixture;
let d: Daemon;
let base: string;
let token: string;
const clock = new FakeClock();

before(async () => {
  fx = makeFixture('install:\n  tokenTtlSeconds: 3600\n  stallSeconds: 600\n  upDeadlineSeconds: 900\n');
  ({ d, base } = await startDaemon(fx, clock));
  token = await mintToken(d);
});
after(async () => {
  await d.stop();
  fx.cleanup();
});

type Err = { error: { code: string; message: string; details?: Record<string, unknown> } };
const auth = () => ({ authorization: `Bearer ${token}` });
const get = (path: string, headers: Record<string, string> = auth()) => fetch(`${base}/api/v1${path}`, { headers });
const post = (path: string, body: string, headers: Record<string, string> = {}) =>
  fetch(`${base}/api/v1${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth(), ...headers }, body });
const json = async <T>(r: Response) => (await r.json()) as T;
const progressCb = (host: string, stage: string) => fetch(`${base}/i/${d.store.openRun(host)!.token}/progress?stage=${stage}`);
const hostRow = async (name: string) => (await json<{ hosts: { name: string; state: string; progress: number; lastDurationMs: number | null; stage: string | null }[] }>(await get(`/hosts?name=${name}`))).hosts[0];

test('web.enabled false: every /api/v1 route needs an API token; a session cookie does not count', async () => {
  for (const [method, path] of [['GET', '/hosts'], ['GET', '/hosts/alpha/events'], ['GET', '/discovered'], ['GET', '/audit'], ['POST', '/reinstall'], ['POST', '/reinstall/cancel'], ['DELETE', '/hosts/alpha/reinstall'], ['GET', '/nosuch']]) {
    const r = await fetch(`${base}/api/v1${path}`, { method, headers: { 'content-type': 'application/json' }, body: method === 'POST' ? '{"role":"tiny"}' : undefined });
    assert.equal(r.status, 401, `${method} ${path}`);
    const e = (await json<Err>(r)).error;
    assert.equal(e.code, 'FB_UNAUTHENTICATED');
    assert.match(e.message, /Authorization: Bearer <token>.*fleetboot user token NAME/);
  }
  assert.equal(d.store.isMarked('alpha'), false, 'the unauthenticated POST by role marked nothing');
  // a valid session row (e.g. from when the UI was on) is not a way in while the UI is off
  const u = new AuthStore(d.db).user('tests')!;
  const s = new SessionStore(d.db, () => clock.now(), () => 3600_000).create(u.id);
  assert.equal((await get('/hosts', { cookie: `fb_session=${s.cookie}` })).status, 401);
  assert.equal((await get('/hosts', { authorization: 'Bearer fb_forged' })).status, 401);
  // the UI and its login pages are gone, boot routes are not
  assert.equal((await fetch(`${base}/login`, { method: 'POST' })).status, 404);
  assert.equal((await fetch(`${base}/setup`)).status, 404);
  assert.match(await (await fetch(`${base}/`)).text(), /admin UI is off.*API tokens/);
  assert.equal((await get('/hosts')).status, 200);
});

test('body errors have their own codes: 413, 415, malformed JSON, wrong shapes', async () => {
  const big = await post('/reinstall', JSON.stringify({ hosts: ['alpha'], pad: 'x'.repeat(300_000) }));
  assert.equal(big.status, 413);
  assert.deepEqual((await json<Err>(big)).error, { code: 'FB_PAYLOAD_TOO_LARGE', message: 'request body too large', details: { limitBytes: 262144 } });
  const media: [string, Record<string, string>][] = [
    ['hosts=alpha', { 'content-type': 'application/x-www-form-urlencoded' }],
    ['hosts=alpha', { 'content-type': 'text/plain' }],
    ['{"hosts":["alpha"]}', { 'content-type': 'application/json; charset=latin1' }],
    ['{"hosts":["alpha"]}', { 'content-encoding': 'zstd' }],
  ];
  for (const [body, headers] of media) {
    const r = await post('/reinstall', body, headers);
    assert.equal(r.status, 415, JSON.stringify(headers));
    assert.equal((await json<Err>(r)).error.code, 'FB_UNSUPPORTED_MEDIA_TYPE');
  }
  const bad = await post('/reinstall', '{"hosts": [');
  assert.equal(bad.status, 400);
  assert.equal((await json<Err>(bad)).error.code, 'FB_BAD_REQUEST');
  for (const body of ['[]', '{"hosts":"alpha"}', '{"hosts":[1]}', '{"role":7}', '{}']) {
    const r = await post('/reinstall', body);
    assert.equal(r.status, 400, body);
    assert.equal((await json<Err>(r)).error.code, 'FB_BAD_REQUEST', body);
  }
  assert.equal(d.store.isMarked('alpha'), false);
});

test('a role/label selection that matches nothing says so (and marks nothing)', async () => {
  for (const [path, body, msg] of [
    ['/reinstall', { role: 'nosuch' }, 'no host matches role=nosuch'],
    ['/reinstall/cancel', { label: 'rack9' }, 'no host matches label=rack9'],
    ['/reinstall', { role: 'slow', label: 'rack2' }, 'no host matches role=slow label=rack2'],
    ['/reinstall', { hosts: ['alpha'], role: 'tpyo' }, 'no host matches role=tpyo'],
  ] as const) {
    const r = await post(path, JSON.stringify(body));
    assert.equal(r.status, 404, msg);
    const e = (await json<Err>(r)).error;
    assert.equal(e.code, 'FB_NO_MATCH');
    assert.equal(e.message, msg);
  }
  assert.equal(d.store.isMarked('alpha'), false, 'a typo next to explicit names does not half-apply');
});

test('/reinstall and /reinstall/cancel by role and label; audited with the selection', async () => {
  let r = await post('/reinstall', JSON.stringify({ role: 'tiny' }));
  assert.equal(r.status, 200);
  assert.deepEqual((await json<{ results: { host: string; ok: boolean }[] }>(r)).results.map((x) => [x.host, x.ok]), [['alpha', true], ['gamma', true]]);
  r = await post('/reinstall/cancel', JSON.stringify({ label: 'rack1' }));
  assert.equal(r.status, 200);
  const res = (await json<{ results: ({ host: string; ok: true; runId: number } | { host: string; ok: false; error: string })[] }>(r)).results;
  assert.deepEqual(res.map((x) => [x.host, x.ok, x.ok ? '' : x.error]), [['alpha', true, ''], ['beta', false, 'no open install run']]);
  assert.equal(d.store.isMarked('alpha'), false);
  assert.equal(d.store.isMarked('gamma'), true, 'gamma has no rack1 label');
  const audit = (await json<{ audit: { actor: string; action: string; target: string; detail: string }[] }>(await get('/audit?action=reinstall'))).audit;
  assert.deepEqual(audit.slice(0, 4).map((a) => [a.actor, a.action, a.target, a.detail.replace(/run \d+/g, 'run N')]), [
    ['tests (token fixture)', 'reinstall.cancel', 'beta', 'refused: no open install run; selection label=rack1'],
    ['tests (token fixture)', 'reinstall.cancel', 'alpha', 'cancelled run N; selection label=rack1'],
    ['tests (token fixture)', 'reinstall.mark', 'gamma', 'marked (run N); selection role=tiny'],
    ['tests (token fixture)', 'reinstall.mark', 'alpha', 'marked (run N); selection role=tiny'],
  ]);
  assert.equal((await post('/reinstall/cancel', JSON.stringify({ hosts: ['gamma'] }))).status, 200);
});

test('/hosts/:name/events: latest run, ?run=N of that host only, numbers only', async () => {
  const none = await json<{ host: string; runId: number | null; events: unknown[] }>(await get('/hosts/beta/events'));
  assert.deepEqual(none, { host: 'beta', runId: null, events: [], next: null });
  const alphaRuns = d.store.runs('alpha').map((x) => x.id);
  const [m] = d.installs.mark(['alpha'], 'test');
  assert.ok(m.ok);
  await fetch(`${base}/boot.ipxe?mac=52:54:00:aa:00:01`);
  const latest = await json<{ runId: number; events: { run_id: number; kind: string }[] }>(await get('/hosts/alpha/events'));
  assert.equal(latest.runId, m.runId);
  assert.ok(latest.events.every((e) => e.run_id === m.runId));
  assert.deepEqual(latest.events.map((e) => e.kind).slice(0, 2), ['state', 'boot']);
  const old = await json<{ runId: number; events: { run_id: number; stage: string }[] }>(await get(`/hosts/alpha/events?run=${alphaRuns[0]}`));
  assert.equal(old.runId, alphaRuns[0]);
  assert.equal(old.events.at(-1)!.stage, 'cancelled');
  const gammaRun = d.store.runs('gamma')[0].id;
  for (const [q, status, code] of [
    [`?run=${gammaRun}`, 404, 'FB_NOT_FOUND'], // another host's run
    ['?run=999999', 404, 'FB_NOT_FOUND'],
    ['?run=abc', 400, 'FB_BAD_REQUEST'],
    ['?run=1.5', 400, 'FB_BAD_REQUEST'],
    ['?run=0', 400, 'FB_BAD_REQUEST'],
    ['?run=1&run=2', 400, 'FB_BAD_REQUEST'],
  ] as const) {
    for (const path of [`/hosts/alpha/events${q}`, `/hosts/alpha${q}`]) {
      const r = await get(path);
      assert.equal(r.status, status, path);
      assert.equal((await json<Err>(r)).error.code, code, path);
    }
  }
  assert.equal((await json<Err>(await get(`/hosts/alpha/events?run=${gammaRun}`))).error.message, `host "alpha" has no run ${gammaRun}`);
  const unknown = await get('/hosts/nosuch/events');
  assert.equal(unknown.status, 404);
  assert.equal((await json<Err>(unknown)).error.code, 'FB_UNKNOWN_HOST');
  d.installs.cancel(['alpha'], 'test');
});

test('progress bar mapping per stage and state, and lastDurationMs from boot to done', async () => {
  assert.equal((await hostRow('alpha')).lastDurationMs, null, 'no finished install yet');
  d.installs.mark(['alpha'], 'test');
  assert.deepEqual(await hostRow('alpha').then((h) => [h.state, h.progress]), ['marked', 0]);
  clock.advance(5_000); // the mark waits; duration counts from the boot
  await fetch(`${base}/boot.ipxe?mac=52:54:00:aa:00:01`);
  const t0 = clock.now();
  assert.deepEqual(await hostRow('alpha').then((h) => [h.state, h.progress]), ['booting', 5]);
  for (const [stage, pct] of [['early_command', 10], ['partitioning', 20], ['base-install', 35], ['packages', 60], ['some-new-stage', 15], ['late_command', 85]] as const) {
    clock.advance(10_000);
    assert.equal((await progressCb('alpha', stage)).status, 200);
    const h = await hostRow('alpha');
    assert.deepEqual([h.state, h.stage, h.progress], ['installing', stage, pct], stage);
  }
  clock.advance(10_000);
  await progressCb('alpha', 'done');
  const done = await hostRow('alpha');
  assert.deepEqual([done.state, done.progress, done.lastDurationMs], ['done', 100, clock.now() - t0]);
  assert.equal(done.lastDurationMs, 70_000);
  // requireUp: the installer's "done" is 95% (rebooting) until the installed system calls "up"
  d.installs.mark(['beta'], 'test');
  await fetch(`${base}/boot.ipxe?mac=52:54:00:aa:00:02`);
  const tok = d.store.openRun('beta')!.token;
  clock.advance(1_000);
  await fetch(`${base}/i/${tok}/progress?stage=done`);
  assert.deepEqual(await hostRow('beta').then((h) => [h.state, h.progress, h.lastDurationMs]), ['rebooting', 95, null]);
  clock.advance(2_000);
  await fetch(`${base}/i/${tok}/progress?stage=up`);
  assert.deepEqual(await hostRow('beta').then((h) => [h.state, h.progress, h.lastDurationMs]), ['done', 100, 3_000]);
  // cancelled runs show 0 and do not replace the last duration
  d.installs.mark(['alpha'], 'test');
  d.installs.cancel(['alpha'], 'test');
  assert.deepEqual(await hostRow('alpha').then((h) => [h.state, h.progress, h.lastDurationMs]), ['cancelled', 0, 70_000]);
});

test('cache stats: a clear 404 when the package cache is off', async () => {
  const r = await get('/cache/stats');
  assert.equal(r.status, 404);
  assert.deepEqual((await json<Err>(r)).error, { code: 'FB_NOT_FOUND', message: 'package cache is disabled' });
});
