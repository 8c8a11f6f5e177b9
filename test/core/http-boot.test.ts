// The HTTP half of a network boot, end to end through a real daemon on loopback, with curl as
// the client where a real installer would use wget/curl.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { makeFixture, startDaemon, FakeClock, type Fixture } from '../helpers/fixture.js';
import type { Daemon } from '../../src/daemon.js';

let fx: Fixture;
let d: Daemon;
let base: string;
const clock = new FakeClock();

before(async () => {
  fx = makeFixture('install:\n  tokenTtlSeconds: 3600\n  stallSeconds: 600\n  upDeadlineSeconds: 900\n');
  ({ d, base } = await startDaemon(fx, clock));
});
after(async () => {
  await d.stop();
  fx.cleanup();
});

// async: the daemon runs in this process, a sync child would block its event loop
const run = promisify(execFile);
const curl = async (...args: string[]) => (await run('curl', ['-sS', ...args], { encoding: 'utf8' })).stdout;
const status = (url: string) => curl('-o', '/dev/null', '-w', '%{http_code}', url);

test('healthz answers', async () => {
  const r = await fetch(`${base}/healthz`);
  assert.equal(r.status, 200);
  assert.equal(((await r.json()) as { ok: boolean }).ok, true);
});

test('boot.ipxe without a mac is a 400 iPXE script', async () => {
  const r = await fetch(`${base}/boot.ipxe`);
  assert.equal(r.status, 400);
  assert.match(await r.text(), /^#!ipxe/);
});

test('unmarked known host boots locally; unknown MAC is recorded as discovered', async () => {
  assert.equal(await curl(`${base}/boot.ipxe?mac=52:54:00:aa:00:01`), '#!ipxe\necho fleetboot: local boot (not marked for reinstall)\nexit 1\n');
  const unknown = await curl(`${base}/boot.ipxe?mac=52-54-00-FF-00-09`);
  assert.match(unknown, /local boot \(unknown MAC 52:54:00:ff:00:09/);
  const disc = d.store.discovered();
  assert.equal(disc.length, 1);
  assert.equal(disc[0].mac, '52:54:00:ff:00:09');
  assert.equal(disc[0].via, 'http');
});

test('a full install run: mark -> installer script -> answer -> progress -> done -> local boot', async () => {
  const [m] = d.installs.mark(['alpha'], 'test');
  assert.ok(m.ok);
  const token = d.store.run(m.runId)!.token;
  const script = await curl(`${base}/boot.ipxe?mac=52:54:00:aa:00:01`);
  const progressUrl = `${base}/i/${token}/progress`;
  assert.equal(
    script,
    [
      '#!ipxe',
      `echo fleetboot: installing tiny on alpha (run ${m.runId})`,
      `kernel ${base}/assets/tiny/vmlinuz initrd=initrd.img console=ttyS0 fb.cb=${progressUrl} fb.host=alpha`,
      `initrd ${base}/assets/tiny/initrd.img`,
      'boot || goto failed',
      ':failed',
      'echo fleetboot: boot failed, retrying in 10 s',
      'sleep 10',
      'reboot',
      '',
    ].join('\n'),
  );
  assert.equal(d.store.run(m.runId)!.state, 'booting');
  // the kernel the script names is really there
  assert.equal(await status(`${base}/assets/tiny/vmlinuz`), '200');
  assert.equal(await curl(`${base}/i/${token}/answer`), `host=alpha run=${m.runId} progress=${progressUrl}\npkg openssh-server\n`);
  assert.equal(await curl(`${base}/i/${token}/files/firstboot.sh`), `#!/bin/sh\nwget -q -O- "${progressUrl}?stage=up"\n`);
  clock.advance(1000);
  assert.equal(await curl(`${progressUrl}?stage=early_command&message=hello`), 'ok installing\n');
  clock.advance(1000);
  assert.equal(await curl('-X', 'POST', '-d', 'stage=packages&message=installing+packages', progressUrl), 'ok installing\n');
  clock.advance(1000);
  assert.equal(await curl('-X', 'POST', '-H', 'content-type: application/json', '-d', '{"stage":"done","message":"finished"}', progressUrl), 'ok done\n');
  assert.equal(d.store.run(m.runId)!.state, 'done');
  assert.equal(d.store.isMarked('alpha'), false);
  // the next boot is local, and the token is dead
  assert.match(await curl(`${base}/boot.ipxe?mac=52:54:00:aa:00:01`), /\nexit 1\n$/);
  assert.equal(await status(`${progressUrl}?stage=late`), '404');
  assert.equal(await status(`${base}/i/${token}/answer`), '404');
  const kinds = d.store.events({ runId: m.runId }).map((e) => `${e.kind}:${e.stage ?? ''}`);
  assert.deepEqual(kinds, ['state:marked', 'boot:pxe', 'state:booting', 'http:', 'http:', 'progress:early_command', 'state:installing', 'progress:packages', 'progress:done', 'state:done']);
});

test('wrong tokens, bad stages and other hosts get nothing', async () => {
  const [m] = d.installs.mark(['gamma'], 'test');
  assert.ok(m.ok);
  assert.equal(await status(`${base}/i/not-a-token/answer`), '404');
  assert.equal(await status(`${base}/i/not-a-token/progress?stage=x`), '404');
  // the token is checked before the stage: a wrong token with a bad stage is a 404 too
  assert.equal(await status(`${base}/i/not-a-token/progress?stage=${encodeURIComponent('bad stage!')}`), '404');
  const token = d.store.run(m.runId)!.token;
  assert.equal(await status(`${base}/i/${token}/progress?stage=${encodeURIComponent('bad stage!')}`), '400');
  assert.equal(await status(`${base}/i/${token}/files/..%2f..%2fetc%2fpasswd`), '404');
  assert.equal(await status(`${base}/i/${token}/files/nope.sh`), '404');
  d.installs.cancel(['gamma'], 'test');
  assert.equal(await status(`${base}/i/${token}/answer`), '404');
});

test("a previous run's token does not work for the host's next run", async () => {
  const [m1] = d.installs.mark(['gamma'], 'test');
  assert.ok(m1.ok);
  const t1 = d.store.run(m1.runId)!.token;
  assert.equal(await status(`${base}/i/${t1}/answer`), '200');
  d.installs.cancel(['gamma'], 'test');
  const [m2] = d.installs.mark(['gamma'], 'test');
  assert.ok(m2.ok);
  assert.notEqual(m2.runId, m1.runId);
  const t2 = d.store.run(m2.runId)!.token;
  assert.notEqual(t2, t1);
  // same host, open run, but the old run's key opens nothing of it
  assert.equal(await status(`${base}/i/${t1}/answer`), '404');
  assert.equal(await status(`${base}/i/${t1}/files/firstboot.sh`), '404');
  assert.equal(await status(`${base}/i/${t1}/progress?stage=packages`), '404');
  assert.equal(d.store.run(m2.runId)!.state, 'marked', 'the old token did not move the new run');
  assert.equal(d.store.events({ runId: m2.runId }).filter((e) => e.kind === 'progress').length, 0);
  assert.equal(await status(`${base}/i/${t2}/answer`), '200');
  d.installs.cancel(['gamma'], 'test');
});

test('tokens expire', async () => {
  const [m] = d.installs.mark(['gamma'], 'test');
  assert.ok(m.ok);
  const token = d.store.run(m.runId)!.token;
  assert.equal(await status(`${base}/i/${token}/answer`), '200');
  clock.advance(3600 * 1000);
  assert.equal(await status(`${base}/i/${token}/answer`), '404');
  assert.equal(await status(`${base}/i/${token}/progress?stage=x`), '404');
  d.installs.cancel(['gamma'], 'test');
});

test('a boot after the token expired gets a NEW token; the expired URL stays dead', async () => {
  const [m] = d.installs.mark(['gamma'], 'test');
  assert.ok(m.ok);
  const old = d.store.run(m.runId)!.token;
  clock.advance(3601 * 1000); // the mark sat longer than tokenTtlSeconds before the host booted
  assert.equal(await status(`${base}/i/${old}/answer`), '404');
  const script = await curl(`${base}/boot.ipxe?mac=52:54:00:aa:00:03`);
  const run = d.store.run(m.runId)!;
  assert.equal(run.state, 'booting', 'the run goes on');
  assert.notEqual(run.token, old);
  assert.ok(script.includes(`/i/${run.token}/progress`), 'the kernel command line carries the new token');
  assert.ok(!script.includes(old));
  assert.equal(await status(`${base}/i/${old}/answer`), '404');
  assert.equal(await status(`${base}/i/${old}/progress?stage=packages`), '404');
  assert.equal(await status(`${base}/i/${run.token}/answer`), '200');
  assert.equal(await curl(`${base}/i/${run.token}/progress?stage=packages`), 'ok installing\n');
  d.installs.cancel(['gamma'], 'test');
});

test('any event of the run resets the stall timer: answer and file fetches, installer log lines', async () => {
  const [m] = d.installs.mark(['gamma'], 'test');
  assert.ok(m.ok);
  await curl(`${base}/boot.ipxe?mac=52:54:00:aa:00:03`);
  const token = d.store.run(m.runId)!.token;
  clock.advance(500 * 1000);
  assert.equal(await status(`${base}/i/${token}/answer`), '200');
  clock.advance(500 * 1000); // 1000 s since the boot, 500 s since the answer fetch
  assert.equal(d.installs.tick(), 0);
  assert.equal(await status(`${base}/i/${token}/files/firstboot.sh`), '200');
  clock.advance(500 * 1000);
  assert.equal(d.installs.tick(), 0);
  d.installs.logLine('gamma', 'anna: Installing net-retriever', '10.99.0.13'); // what the syslog receiver calls
  clock.advance(599 * 1000);
  assert.equal(d.installs.tick(), 0);
  assert.equal(d.store.run(m.runId)!.state, 'booting');
  clock.advance(1000);
  assert.equal(d.installs.tick(), 1); // 600 s without any event
  assert.equal(d.store.run(m.runId)!.state, 'stalled');
  d.installs.cancel(['gamma'], 'test');
});

test('booting refreshes the token expiry, and a stalled run recovers', async () => {
  const [m] = d.installs.mark(['gamma'], 'test');
  assert.ok(m.ok);
  const token = d.store.run(m.runId)!.token;
  clock.advance(3000 * 1000); // the mark sat for 50 min before the host was powered on
  await curl(`${base}/boot.ipxe?mac=52:54:00:aa:00:03`);
  clock.advance(1000 * 1000); // past the original expiry, within ttl of the boot
  assert.equal(await status(`${base}/i/${token}/answer`), '200');
  clock.advance(600 * 1000);
  assert.equal(d.installs.tick(), 1); // 600 s since the answer fetch, the run's last event
  assert.equal(d.store.run(m.runId)!.state, 'stalled');
  assert.equal(d.store.isMarked('gamma'), true, 'a stalled host keeps its mark (its next boot retries)');
  assert.equal(await curl(`${base}/i/${token}/progress?stage=packages`), 'ok installing\n');
  d.installs.cancel(['gamma'], 'test');
});

test('requireUp: installer done -> rebooting (next boot local) -> up -> done; missing up fails the run', async () => {
  const [m] = d.installs.mark(['beta'], 'test');
  assert.ok(m.ok);
  const token = d.store.run(m.runId)!.token;
  assert.match(await curl(`${base}/boot.ipxe?mac=52:54:00:aa:00:02`), /kernel /);
  assert.equal(await curl(`${base}/i/${token}/progress?stage=done`), 'ok rebooting\n');
  assert.match(await curl(`${base}/boot.ipxe?mac=52:54:00:aa:00:02`), /local boot \(installer finished/);
  assert.equal(await curl(`${base}/i/${token}/progress?stage=up`), 'ok done\n');

  const [m2] = d.installs.mark(['beta'], 'test');
  assert.ok(m2.ok);
  const t2 = d.store.run(m2.runId)!.token;
  await curl(`${base}/boot.ipxe?mac=52:54:00:aa:00:02`);
  assert.equal(await curl(`${base}/i/${t2}/progress?stage=done`), 'ok rebooting\n');
  clock.advance(901 * 1000);
  d.installs.tick();
  const r = d.store.run(m2.runId)!;
  assert.equal(r.state, 'failed');
  assert.match(r.message ?? d.store.events({ runId: m2.runId }).at(-1)!.message!, /did not call back "up"/);
});

test('metrics expose HTTP requests and install runs by state', async () => {
  const text = await (await fetch(`${base}/metrics`)).text();
  assert.match(text, /fleetboot_install_runs\{state="done"\} [1-9]/);
  assert.match(text, /fleetboot_http_requests_total\{route="\/boot.ipxe",method="GET",status="200"\} \d+/);
  assert.doesNotMatch(text, /route="\/i\/[A-Za-z0-9_-]{20,}/, 'tokens never become metric labels');
});
