// The test Redfish BMC (test/fixtures/power/redfish_bmc.py) over a real QEMU VM: first shown
// faithful with two real Redfish clients from Debian (python3-sushy, redfishtool), then
// fleetboot's Redfish driver is run against it. Each step is checked on the VM itself (QEMU
// process + QMP query-status) and a network boot by the witness seeing the VM's iPXE fetch.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { FIX, PY, PxeWitness, boots, startRedfishSim, vmState, waitUntil, type RedfishSim } from './sim.js';
import { PowerService } from '../../src/power/service.js';
import { EnvSecrets } from '../../src/power/secrets.js';
import { redfishPowerSchema } from '../../src/config/power-schema.js';
import { silentLogger } from '../../src/log.js';
import type { PowerHost } from '../../src/power/types.js';

const exec = promisify(execFile);
const PASSWORD = 'rf-' + Math.random().toString(36).slice(2);
const BOOT_MS = 120_000; // TCG boot to iPXE's HTTP fetch: seconds here, minutes on a loaded CI box

describe('Redfish BMC simulator + real clients + fleetboot redfish driver', { timeout: 30 * 60_000 }, () => {
  const witness = new PxeWitness();
  let sim: RedfishSim;
  // requests (under sushy) lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override the CA file a
  // session is given: drop them so sushy verifies against the simulator's CA and nothing else
  const { REQUESTS_CA_BUNDLE: _r, CURL_CA_BUNDLE: _c, ...baseEnv } = process.env;
  const env = { ...baseEnv, REDFISH_BMC_PASSWORD: PASSWORD };

  before(async () => {
    await witness.start();
    sim = await startRedfishSim('rf1', witness, PASSWORD);
  });
  after(async () => {
    await sim?.stop();
    await witness.close();
  });

  // a client failure carries what the simulator saw and printed, so a CI failure explains itself
  const withSimSide = async <T>(p: Promise<T>): Promise<T> => {
    try {
      return await p;
    } catch (e) {
      const errs = existsSync(join(sim.dir, 'errors.log')) ? readFileSync(join(sim.dir, 'errors.log'), 'utf8') : '(none)';
      (e as Error).message += `\n--- simulator requests (last 12):\n${sim.requests().slice(-12).join('\n')}\n--- simulator output:\n${sim.proc.lines.slice(-20).join('\n')}\n--- simulator errors.log:\n${errs}`;
      throw e;
    }
  };
  const sushy = async (how: 'basic' | 'session', ...steps: string[]) => {
    const { stdout } = await withSimSide(exec(PY, [join(FIX, 'sushy_check.py'), `https://localhost:${sim.port}`, sim.ca, how, ...steps], { env, timeout: 120_000 }));
    return stdout.trim().split('\n').map((l) => JSON.parse(l) as { step: string; power: string; target: string; enabled: string; resets: string[]; auth: string });
  };
  const rft = async (...args: string[]) => {
    const { stdout } = await withSimSide(exec('redfishtool', ['-r', `127.0.0.1:${sim.port}`, '-S', 'Always', '-u', 'admin', '-p', PASSWORD, ...args], { timeout: 120_000 }));
    return stdout;
  };

  it('sushy (verifying TLS against the CA, basic and session auth): power state, reset On/ForceOff, Pxe/Once override', async () => {
    const [s0] = await sushy('basic', 'state');
    assert.equal(s0.power, 'Off');
    assert.equal(await vmState(sim.dir), 'off');
    assert.deepEqual(s0.resets, ['ForceOff', 'ForceRestart', 'GracefulShutdown', 'On', 'PowerCycle']);

    const hits = witness.count('rf1');
    const [p, on] = await sushy('session', 'pxe-once', 'on');
    assert.deepEqual([p.target, p.enabled], ['Pxe', 'Once'], 'the override reads back as set');
    assert.equal(on.power, 'On');
    assert.equal(await vmState(sim.dir), 'running', 'the VM really runs');
    assert.match(boots(sim.dir).at(-1)!, /once=n/, 'QEMU started with a one-time network boot');
    assert.deepEqual([on.target, on.enabled], ['None', 'Disabled'], 'the boot consumed the override');
    await waitUntil(() => witness.count('rf1') > hits, BOOT_MS, 'the VM to network-boot (iPXE fetch)');
    assert.ok(sim.requests().some((l) => /^POST \/redfish\/v1\/SessionService\/Sessions 201 login/.test(l)), 'sushy logged in with a session');
    assert.ok(sim.requests().some((l) => /^DELETE \/redfish\/v1\/SessionService\/Sessions\/\w+ 204 session/.test(l)), 'and logged out');

    const [off] = await sushy('basic', 'off');
    assert.equal(off.power, 'Off');
    assert.equal(await vmState(sim.dir), 'off', 'the QEMU process is gone');
  });

  it('redfishtool: Systems get, setBootOverride Once Pxe, reset On / ForceRestart / ForceOff', async () => {
    const sys = JSON.parse(await rft('Systems', '-1', 'get')) as { PowerState: string; Boot: Record<string, unknown> };
    assert.equal(sys.PowerState, 'Off');
    await rft('Systems', '-1', 'reset', 'On');
    assert.equal(await vmState(sim.dir), 'running');
    assert.doesNotMatch(boots(sim.dir).at(-1)!, /once=n/, 'no override: a disk boot');
    const hits = witness.count('rf1');
    await rft('Systems', '-1', 'setBootOverride', 'Once', 'Pxe');
    const after = JSON.parse(await rft('Systems', '-1', 'get')) as { Boot: Record<string, unknown> };
    assert.equal(after.Boot.BootSourceOverrideTarget, 'Pxe');
    assert.equal(after.Boot.BootSourceOverrideEnabled, 'Once');
    await rft('Systems', '-1', 'reset', 'ForceRestart');
    assert.match(boots(sim.dir).at(-1)!, /once=n/, 'the restart applied the override');
    await waitUntil(() => witness.count('rf1') > hits, BOOT_MS, 'the VM to network-boot after ForceRestart');
    await rft('Systems', '-1', 'reset', 'ForceOff');
    assert.equal(await vmState(sim.dir), 'off');
    // the simulator's refusals have the Redfish error shape redfishtool reads
    await assert.rejects(rft('Systems', '-1', 'reset', 'Nmi'), 'a reset type the BMC does not list is refused');
  });

  const service = (over: Record<string, unknown> = {}, secretEnv: NodeJS.ProcessEnv = { FLEETBOOT_SECRET_BMC_RF1: PASSWORD }) => {
    const power = redfishPowerSchema.parse({ driver: 'redfish', address: '127.0.0.1', port: sim.port, user: 'admin', passwordSecret: 'BMC_RF1', caFile: sim.ca, timeoutSeconds: 60, ...over });
    const hosts: Record<string, PowerHost> = { rf1: { name: 'rf1', power } };
    return new PowerService({ lookup: (n) => hosts[n], secrets: new EnvSecrets(secretEnv), log: silentLogger(), backoffMs: 10 });
  };

  it('fleetboot redfish driver (basic auth): status, on, off, cycle, pxe -- the VM follows', async () => {
    const svc = service();
    const st = await svc.call('rf1', 'status');
    assert.deepEqual([st.ok, st.state], [true, 'off'], JSON.stringify(st));
    const on = await svc.call('rf1', 'on');
    assert.ok(on.ok, on.error);
    assert.equal(await vmState(sim.dir), 'running');
    assert.equal((await svc.call('rf1', 'status')).state, 'on');
    const nBoots = boots(sim.dir).length;
    const cyc = await svc.call('rf1', 'cycle');
    assert.ok(cyc.ok, cyc.error);
    assert.match(cyc.detail!, /ForceRestart/);
    assert.equal(boots(sim.dir).length, nBoots, 'a restart without override resets QEMU in place (system_reset)');
    const off = await svc.call('rf1', 'off');
    assert.ok(off.ok, off.error);
    assert.equal(await vmState(sim.dir), 'off');
    // pxe on a host that is off: override, then On
    const hits = witness.count('rf1');
    const pxe = await svc.call('rf1', 'pxe');
    assert.ok(pxe.ok, pxe.error);
    assert.match(pxe.detail!, /Pxe \(Once\).*Reset On \(host was off\)/);
    assert.equal(await vmState(sim.dir), 'running');
    await waitUntil(() => witness.count('rf1') > hits, BOOT_MS, 'the VM to network-boot because fleetboot said so');
    assert.ok(sim.requests().some((l) => /^PATCH \/redfish\/v1\/Systems\/1 204 basic/.test(l)));
    // pxe on a host that is on: override, then ForceRestart (QEMU restarted with once=n)
    const hits2 = witness.count('rf1');
    const pxe2 = await svc.call('rf1', 'pxe');
    assert.ok(pxe2.ok, pxe2.error);
    assert.match(pxe2.detail!, /ForceRestart/);
    assert.match(boots(sim.dir).at(-1)!, /once=n/);
    await waitUntil(() => witness.count('rf1') > hits2, BOOT_MS, 'the second network boot');
    assert.ok((await svc.call('rf1', 'off')).ok);
    assert.equal(await vmState(sim.dir), 'off');
  });

  it('fleetboot redfish driver (session auth) logs in, acts, logs out', async () => {
    const before = sim.requests().length;
    const r = await service({ auth: 'session' }).call('rf1', 'status');
    assert.deepEqual([r.ok, r.state], [true, 'off'], r.error);
    const mine = sim.requests().slice(before);
    assert.match(mine[0], /^POST \/redfish\/v1\/SessionService\/Sessions 201 login$/);
    assert.ok(mine.slice(1, -1).every((l) => / session$|^GET \/redfish\/v1\/? 200/.test(l)), mine.join('\n'));
    assert.match(mine.at(-1)!, /^DELETE \/redfish\/v1\/SessionService\/Sessions\/\w+ 204 session$/);
  });

  it('refusals are errors on the host, named, and not retried when retrying cannot help', async () => {
    const before = sim.requests().length;
    const bad = await service({}, { FLEETBOOT_SECRET_BMC_RF1: 'wrong' }).call('rf1', 'status');
    assert.equal(bad.ok, false);
    assert.equal(bad.errorKind, 'auth');
    assert.equal(bad.attempts, 1, 'a wrong password is not retried');
    assert.ok(!bad.error!.includes('wrong'), 'the password never appears in an error');
    assert.ok(sim.requests().length - before <= 2);
    const noCa = await service({ caFile: undefined }).call('rf1', 'status');
    assert.equal(noCa.ok, false);
    assert.equal(noCa.errorKind, 'config', 'an unverifiable certificate is a config error, not a silent pass');
    assert.match(noCa.error!, /caFile|insecure/);
    const insecure = await service({ caFile: undefined, insecure: true }).call('rf1', 'status');
    assert.ok(insecure.ok, 'insecure: true (explicit) skips verification');
    const missing = await service({}, {}).call('rf1', 'status');
    assert.equal(missing.errorKind, 'config');
    assert.match(missing.error!, /FLEETBOOT_SECRET_BMC_RF1/);
  });
});
