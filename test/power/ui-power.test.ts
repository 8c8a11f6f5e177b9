// Power in the admin UI without a browser: the host page's panel and buttons (audited, CSRF),
// the hosts table's power column, and the no-JS reinstall confirmation's "also boot them now"
// (marks, then network boot + cycle, shown on the run's timeline). The manual driver stands in
// for a BMC here on purpose: it is a real driver (it answers with the operator's instruction),
// and the BMC-backed drivers have their own tests against simulators.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeFixture, startDaemon, INVENTORY, type Fixture } from '../helpers/fixture.js';
import { login, ADMIN } from '../web/helper.js';
import { AuthStore } from '../../src/web/auth.js';
import type { Daemon } from '../../src/daemon.js';

let fx: Fixture;
let d: Daemon;
let base: string;
let s: { cookie: string; csrf: string };

before(async () => {
  const inv = INVENTORY.replace('    labels: [rack1]\n  - name: beta', '    labels: [rack1]\n    power: { driver: manual, address: rack4-u12, instructions: "hold the button 5 s" }\n  - name: beta');
  fx = makeFixture('', inv, { web: '  enabled: true\n' });
  ({ d, base } = await startDaemon(fx));
  await new AuthStore(d.db).setUser(ADMIN.name, ADMIN.password, 'test');
  s = await login(base);
});
after(async () => {
  await d.stop();
  fx.cleanup();
});

const form = (path: string, fields: [string, string][]) =>
  fetch(`${base}${path}`, { method: 'POST', headers: { cookie: s.cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString(), redirect: 'manual' });
const page = async (path: string) => (await fetch(`${base}${path}`, { headers: { cookie: s.cookie } })).text();

test('host page: power panel with the driver and buttons; none for a host without power:', async () => {
  const html = await page('/hosts/alpha');
  assert.match(html, /id="power-panel"/);
  assert.match(html, /Power \(manual rack4-u12\)/);
  for (const a of ['status', 'on', 'off', 'cycle', 'pxe']) assert.match(html, new RegExp(`<button name="action" value="${a}"`));
  assert.doesNotMatch(await page('/hosts/beta'), /id="power-panel"/);
});

test('a power button acts as the user, audited; a form without CSRF token is refused', async () => {
  const bad = await form('/hosts/alpha/power', [['action', 'cycle']]);
  assert.equal(bad.status, 403);
  assert.equal(new AuthStore(d.db).auditLog({ action: 'power.cycle' }).length, 0);
  const r = await form('/hosts/alpha/power', [['_csrf', s.csrf], ['action', 'cycle']]);
  assert.equal(r.status, 303);
  assert.equal(r.headers.get('location'), '/hosts/alpha');
  const html = await page('/hosts/alpha');
  assert.match(html, /alpha: cycle manual: alpha \(rack4-u12\): power-cycle it by hand\. hold the button 5 s/);
  const rows = new AuthStore(d.db).auditLog({ action: 'power.cycle' }) as { actor: string; target: string; detail: string }[];
  assert.equal(rows.length, 1);
  assert.deepEqual([rows[0].actor, rows[0].target], [ADMIN.name, 'alpha']);
  assert.match(rows[0].detail, /web UI/);
  assert.equal((await form('/hosts/alpha/power', [['_csrf', s.csrf], ['action', 'explode']])).status, 400);
  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert.match(metrics, /fleetboot_power_actions_total\{driver="manual",action="cycle",result="ok"\} 1/);
  assert.match(metrics, /fleetboot_power_calls_in_flight 0/);
});

test('hosts table: a power column (— without power:, ? before anything was read)', async () => {
  const html = await page('/');
  assert.match(html, /<th data-sort="power">/);
  assert.match(html, /<td class="power pw-\?">\?<\/td>/);
  assert.match(html, /<td class="power pw-none">—<\/td>/);
});

test('no-JS confirm offers "also boot them now"; ticked, the run timeline shows the power steps', async () => {
  const c = await form('/reinstall', [['_csrf', s.csrf], ['action', 'mark'], ['hosts', 'alpha'], ['back', '/?']]);
  assert.match(await c.text(), /<input type="checkbox" name="power" value="yes"> Also boot them now/);
  const r = await form('/reinstall', [['_csrf', s.csrf], ['action', 'mark'], ['hosts', 'alpha'], ['back', '/?'], ['confirm', 'yes'], ['power', 'yes']]);
  assert.equal(r.status, 303);
  // the one-time notice shows on the next page
  assert.match(await page('/'), /1 host marked for reinstall, 0 network-booting now\. alpha: manual:/);
  assert.equal(d.store.isMarked('alpha'), true);
  const run = d.store.openRun('alpha')!;
  const ev = d.store.events({ runId: run.id, kinds: ['power'] });
  assert.deepEqual(ev.map((e) => e.stage), ['power.pxe', 'power.done']);
  assert.match(ev[1].message!, /manual: alpha \(rack4-u12\): boot it from the network once/);
  const html = await page('/hosts/alpha');
  assert.match(html, /<span class="kind">power<\/span><\/td><td>power\.pxe<\/td>/);
});
