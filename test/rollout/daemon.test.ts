// A rollout through the running daemon: created with curl on /api/v1/rollouts, run by the
// daemon's own ticker, hosts played through the real HTTP boot path (GET /boot.ipxe) and the
// installer's progress callbacks (curl), power through the PowerService (manual driver: it
// only says what to do). One host has "no disk": the budget stop pages a real local receiver
// and the last wave is never touched. The daemon is stopped and started again mid-rollout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../src/config/load.js';
import { Daemon } from '../../src/daemon.js';
import { silentLogger } from '../../src/log.js';
import { makeFixture, mintToken } from '../helpers/fixture.js';

const run = promisify(execFile);

function inventory(): string {
  const hosts = [1, 2, 3, 4].map((i) => `  - name: n${i}\n    macs: ["52:54:00:cc:00:0${i}"]\n    roles: [web]\n    power: { driver: manual, instructions: "rack 4" }\n`);
  return `roles:\n  web:\n    kernel: tiny/vmlinuz\n    initrd: tiny/initrd.img\n    cmdline: "fb.cb={{ urls.progress }}"\n    template: tiny.cfg\n    requireUp: true\nhosts:\n${hosts.join('')}`;
}

async function curl(args: string[]): Promise<{ status: number; body: string }> {
  const { stdout } = await run('curl', ['-sS', '-o', '-', '-w', '\n%{http_code}', ...args]);
  const i = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(i + 1)), body: stdout.slice(0, i) };
}

test('rollout through the daemon: API + ticker + boot path; budget stop pages; restart mid-rollout continues', { timeout: 60_000 }, async () => {
  const got: { url: string; body: { event: string; rollout: { state: string; failures: { host: string }[] } } }[] = [];
  const rx = createServer((req, res) => {
    let b = '';
    req.on('data', (c) => (b += c));
    req.on('end', () => (got.push({ url: req.url!, body: JSON.parse(b) }), res.writeHead(200).end()));
  });
  await new Promise<void>((r) => rx.listen(0, '127.0.0.1', r));
  const hook = `http://127.0.0.1:${(rx.address() as AddressInfo).port}/hook`;
  const fx = makeFixture(`notify:\n  backoffSeconds: 0.1\n  webhooks:\n    - url: ${hook}\n      format: json\n`, inventory());
  const r = loadConfig({ file: fx.configFile, env: {} });
  assert.ok(r.ok);
  const boot = async () => {
    const d = new Daemon({ loaded: r.loaded, loadOptions: { file: fx.configFile, env: {} }, log: silentLogger(), watch: false, tickMs: 60_000, rolloutTickMs: 50 });
    await d.start();
    return d;
  };
  let d = await boot();
  try {
    const token = await mintToken(d);
    const api = (path: string, extra: string[] = []) => curl(['-H', `Authorization: Bearer ${token}`, '-H', 'Content-Type: application/json', ...extra, `http://127.0.0.1:${d.httpPort}/api/v1${path}`]);
    // refusals first: bad fields, bad values, unknown hosts, no such rollout
    assert.equal((await api('/rollouts', ['-d', '{"role":"web","bogus":1}'])).status, 400);
    assert.equal((await api('/rollouts', ['-d', '{"role":"web","wave":0}'])).status, 400);
    assert.equal((await api('/rollouts', ['-d', '{"hosts":["nope"]}'])).status, 404);
    assert.equal((await api('/rollouts', ['-d', '{"role":"web","deadlineBoot":"forever"}'])).status, 400);
    assert.equal((await api('/rollouts/99')).status, 404);
    assert.equal((await api('/rollouts/x1')).status, 400);
    const dry = await api('/rollouts', ['-d', '{"role":"web","canary":1,"wave":2,"dryRun":true}']);
    assert.deepEqual(JSON.parse(dry.body).waves, [['n1'], ['n2', 'n3'], ['n4']]);
    assert.equal((await api('/rollouts')).body.includes('"rollouts":[]'), true, 'a dry run creates nothing');

    const created = await api('/rollouts', ['-d', JSON.stringify({ role: 'web', canary: 1, wave: 2, maxFailures: 0, retries: 0, deadlineBoot: '60s' })]);
    assert.equal(created.status, 201, created.body);
    const id = JSON.parse(created.body).id as number;
    assert.equal((await api('/rollouts', ['-d', '{"hosts":["n4"]}'])).status, 409, 'n4 is taken');

    const hostState = (h: string) => d.rollouts.store.host(id, h)!.state;
    const waitFor = async (what: () => boolean, ms = 15_000) => {
      const end = Date.now() + ms;
      while (!what()) {
        if (Date.now() > end) throw new Error('timed out; hosts: ' + JSON.stringify(d.rollouts.store.hosts(id)));
        await new Promise((res) => setTimeout(res, 25));
      }
    };
    // play one host: its installer boots (real /boot.ipxe), reports progress, the system comes up
    const install = async (name: string, mac: string, outcome: 'done' | 'failed') => {
      const ipxe = await curl([`http://127.0.0.1:${d.httpPort}/boot.ipxe?mac=${mac}`]);
      const tok = /\/i\/([A-Za-z0-9_-]+)\//.exec(ipxe.body)?.[1];
      assert.ok(tok, `installer script for ${name}: ${ipxe.body}`);
      const cb = (stage: string) => curl([`http://127.0.0.1:${d.httpPort}/i/${tok}/progress?stage=${stage}`]);
      assert.equal((await cb('partitioning')).status, 200);
      if (outcome === 'failed') return void (await cb('failed'));
      await cb('done');
      await cb('up');
    };

    await waitFor(() => hostState('n1') === 'booting');
    // restart in the middle: the canary is marked and powered, its installer not yet booted
    await d.stop();
    d = await boot();
    await install('n1', '52:54:00:cc:00:01', 'done');
    await waitFor(() => hostState('n2') === 'booting' && hostState('n3') === 'booting');
    assert.equal(hostState('n4'), 'pending');
    await install('n2', '52:54:00:cc:00:02', 'failed'); // "no disk"
    await waitFor(() => d.rollouts.store.get(id)!.state === 'stopped-budget');
    await install('n3', '52:54:00:cc:00:03', 'done');
    await waitFor(() => hostState('n3') === 'done');
    await waitFor(() => got.length >= 1);

    const show = JSON.parse((await api(`/rollouts/${id}`)).body);
    assert.equal(show.state, 'stopped-budget');
    assert.deepEqual(show.failed.map((f: { host: string }) => f.host), ['n2']);
    assert.deepEqual(show.waves.map((w: { hosts: { host: string; state: string }[] }) => w.hosts.map((h) => `${h.host}:${h.state}`)), [['n1:done'], ['n2:failed', 'n3:done'], ['n4:pending']]);
    assert.equal(got.length, 1);
    assert.equal(got[0].body.event, 'rollout.stopped_budget');
    assert.deepEqual(got[0].body.rollout.failures.map((f) => f.host), ['n2']);
    // n4 untouched: no install run, no mark, no power step
    assert.equal(d.store.latestRun('n4'), undefined);
    assert.equal(d.rollouts.store.steps(id).filter((s) => s.host === 'n4').length, 0);
    // exactly one mark per host despite the restart; the manual driver's instruction is on the power step
    const steps = d.rollouts.store.steps(id);
    for (const h of ['n1', 'n2', 'n3']) assert.equal(steps.filter((s) => s.host === h && s.kind === 'mark').length, 1);
    assert.match(steps.find((s) => s.host === 'n1' && s.kind === 'powered')!.detail!, /^manual: n1: boot it from the network once .* by hand\. rack 4/);
    assert.equal((await api(`/rollouts/${id}/resume`, ['-X', 'POST'])).status, 409);
    const audit = d.db.prepare("SELECT actor, action FROM audit_log WHERE action LIKE 'rollout.%' ORDER BY id").all() as { actor: string; action: string }[];
    assert.deepEqual(audit.map((a) => a.action), ['rollout.start', 'rollout.stopped-budget']);
    assert.equal(audit[0].actor, 'tests (token fixture)');
  } finally {
    await d.stop();
    rx.closeAllConnections();
    rx.close();
    fx.cleanup();
  }
});
