// Power through the daemon and the CLI, with a real BMC-side peer (an OpenSSH server the test
// starts; the ssh driver's commands switch a state file on it): the /api/v1 power routes and
// their status codes, reinstall with power (audit rows, run timeline), `fleetboot power` and
// `fleetboot reinstall --power` in another process, secrets only from the environment.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFileSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { startSshd, type Sshd } from './sim.js';
import { makeFixture, startDaemon, mintToken, INVENTORY, REPO, type Fixture } from '../helpers/fixture.js';
import type { Daemon } from '../../src/daemon.js';

const exec = promisify(execFile);

describe('power through the daemon (API) and the CLI', { timeout: 5 * 60_000 }, () => {
  let sshd: Sshd;
  let fx: Fixture;
  let d: Daemon;
  let base: string;
  let token: string;
  const file = (f: string) => (existsSync(join(sshd.dir, f)) ? readFileSync(join(sshd.dir, f), 'utf8') : '');

  before(async () => {
    sshd = await startSshd();
    const s = (f: string) => join(sshd.dir, f);
    writeFileSync(s('state'), 'off\n');
    const p = sshd.power;
    const power = `{ driver: ssh, address: ${p.address}, port: ${p.port}, user: ${p.user}, identityFile: "${p.identityFile}", knownHostsFile: "${p.knownHostsFile}", timeoutSeconds: 20, retries: 0, commands: { status: "cat ${s('state')}", on: "echo on > ${s('state')}", off: "echo off > ${s('state')}", cycle: "echo cycled >> ${s('log')}", pxe: "echo pxe >> ${s('bootnext')}" } }`;
    const inv = INVENTORY.replace('    labels: [rack1]\n  - name: beta', `    labels: [rack1]\n    power: ${power}\n  - name: beta`)
      // gamma's BMC needs a secret that is not set: a config error on that host only
      .replace('  - name: gamma\n    macs: ["52:54:00:aa:00:03"]\n    roles: [tiny]', '  - name: gamma\n    macs: ["52:54:00:aa:00:03"]\n    roles: [tiny]\n    labels: [rack1]\n    power: { driver: redfish, address: 127.0.0.1, port: 9, user: u, passwordSecret: BMC_GAMMA_UNSET }');
    fx = makeFixture('', inv);
    ({ d, base } = await startDaemon(fx));
    token = await mintToken(d);
  });
  after(async () => {
    await d?.stop();
    fx?.cleanup();
    await sshd?.stop();
  });

  const api = (method: string, path: string, body?: unknown) =>
    fetch(`${base}/api/v1${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const cli = (...args: string[]) => exec(process.execPath, [join(REPO, 'dist/src/cli.js'), '--config', fx.configFile, ...args], { timeout: 120_000 });

  it('API: GET/POST /hosts/:name/power, status codes per failure, audited actions', async () => {
    const st = await api('GET', '/hosts/alpha/power');
    assert.equal(st.status, 200);
    assert.equal(((await st.json()) as { state: string }).state, 'off');
    const on = await api('POST', '/hosts/alpha/power', { action: 'on' });
    assert.equal(on.status, 200);
    assert.equal(file('state'), 'on\n', 'the command ran on the target');
    assert.equal((await api('POST', '/hosts/alpha/power', { action: 'explode' })).status, 400);
    assert.equal((await api('POST', '/hosts/alpha/power', {})).status, 400);
    assert.equal((await api('GET', '/hosts/beta/power')).status, 409, 'no power: entry');
    const cfg = await api('GET', '/hosts/gamma/power');
    assert.equal(cfg.status, 409, 'a missing secret is a config conflict');
    assert.match(((await cfg.json()) as { error: { message: string } }).error.message, /FLEETBOOT_SECRET_BMC_GAMMA_UNSET/);
    assert.equal((await api('GET', '/hosts/nosuch/power')).status, 404);
    const bulk = (await (await api('POST', '/power', { action: 'status', label: 'rack1' })).json()) as { results: { host: string; ok: boolean; state?: string; errorKind?: string }[] };
    assert.deepEqual(bulk.results.map((r) => [r.host, r.ok, r.state ?? r.errorKind]), [['alpha', true, 'on'], ['beta', false, 'no-power-config'], ['gamma', false, 'config']]);
    const audit = (await (await api('GET', '/audit?action=power.on')).json()) as { audit: { actor: string; target: string; detail: string }[] };
    assert.equal(audit.audit.length, 1);
    assert.equal(audit.audit[0].target, 'alpha');
    assert.match(audit.audit[0].actor, /^tests\b/, 'the API token owner');
    assert.match(audit.audit[0].detail, /^done \(commands\.on\); 1 attempt\(s\); api$/);
    assert.equal(((await (await api('GET', '/audit?action=power.status')).json()) as { audit: unknown[] }).audit.length, 0, 'reads are not audited');
  });

  it('API reinstall {power: true}: marked, network boot + cycle ran, timeline and audit show it', async () => {
    const r = await api('POST', '/hosts/alpha/reinstall', { power: true });
    const out = (await r.json()) as { ok: boolean; runId: number; power: { ok: boolean; detail: string } };
    assert.equal(r.status, 201, JSON.stringify(out));
    assert.equal(out.power.detail, 'commands.pxe, then commands.cycle');
    assert.equal(file('bootnext'), 'pxe\n');
    assert.equal(file('log'), 'cycled\n');
    const ev = d.store.events({ runId: out.runId, kinds: ['power'] });
    assert.deepEqual(ev.map((e) => e.stage), ['power.pxe', 'power.done']);
    // without power: the plain route answers (no power step)
    const plain = await api('POST', '/hosts/gamma/reinstall', {});
    assert.equal(plain.status, 201);
    assert.equal(d.store.events({ runId: ((await plain.json()) as { runId: number }).runId, kinds: ['power'] }).length, 0);
  });

  it('CLI: power --json, a failing host exits 1, reinstall --power, events show the power steps', async () => {
    const js = JSON.parse((await cli('power', 'alpha', 'status', '--json')).stdout) as { host: string; state: string }[];
    assert.deepEqual(js.map((r) => [r.host, r.state]), [['alpha', 'on']]);
    await cli('power', 'alpha', 'off');
    assert.equal(file('state'), 'off\n');
    const mixed = await cli('power', '--label', 'rack1', 'status').then(() => undefined, (e: { code: number; stdout: string; stderr: string }) => e);
    assert.equal(mixed?.code, 1);
    assert.match(mixed!.stdout, /alpha\s+status\s+off/);
    assert.match(mixed!.stderr, /gamma\s+status\s+failed: set FLEETBOOT_SECRET_BMC_GAMMA_UNSET/);
    const usage = await cli('power', 'alpha').then(() => 0, (e: { code: number }) => e.code);
    assert.equal(usage, 2, 'no action: usage error');
    const re = await cli('reinstall', '--power', 'alpha');
    assert.match(re.stdout, /^alpha: already marked \(run \d+\)\nalpha: power pxe done \(commands\.pxe, then commands\.on \(host was off\)\)$/m);
    assert.equal(file('state'), 'on\n', 'off + pxe: powered on');
    const evs = (await cli('events', 'alpha')).stdout;
    assert.match(evs, /power\s+power\.pxe\s+network boot once \+ power cycle requested by cli:/);
    assert.match(evs, /power\s+power\.done\s+done \(commands\.pxe/);
    const audit = (await (await api('GET', '/audit?action=power.off')).json()) as { audit: { actor: string; target: string }[] };
    assert.ok(audit.audit.some((a) => a.target === 'alpha' && a.actor.startsWith('cli:')), 'CLI actions are audited as cli:<user>');
  });
});
