// fleetboot's ipmi driver (ipmitool -I lanplus) against OpenIPMI's ipmi_sim, whose chassis
// control really powers a QEMU VM that carries QEMU's ipmi-bmc-extern device wired back to the
// same ipmi_sim. Power state is checked on the VM itself (QEMU process + QMP), the one-time
// network boot by the witness seeing the VM's iPXE fetch.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PxeWitness, boots, establishedTo, startIpmiSim, vmState, waitUntil, type IpmiSim } from './sim.js';
import { PowerService } from '../../src/power/service.js';
import { EnvSecrets } from '../../src/power/secrets.js';
import { ipmiPowerSchema } from '../../src/config/power-schema.js';
import { silentLogger } from '../../src/log.js';
import type { PowerHost } from '../../src/power/types.js';

const PASSWORD = 'ipmi' + Math.random().toString(36).slice(2, 10);
const BOOT_MS = 120_000;

describe('ipmi driver against ipmi_sim + QEMU (ipmi-bmc-extern)', { timeout: 20 * 60_000 }, () => {
  const witness = new PxeWitness();
  let sim: IpmiSim;
  const service = (secretEnv: NodeJS.ProcessEnv = { FLEETBOOT_SECRET_BMC_IP1: PASSWORD }, over: Record<string, unknown> = {}) => {
    const power = ipmiPowerSchema.parse({ driver: 'ipmi', address: '127.0.0.1', port: sim.port, user: 'admin', passwordSecret: 'BMC_IP1', timeoutSeconds: 30, ...over });
    const hosts: Record<string, PowerHost> = { ip1: { name: 'ip1', power } };
    return new PowerService({ lookup: (n) => hosts[n], secrets: new EnvSecrets(secretEnv), log: silentLogger(), backoffMs: 200 });
  };

  before(async () => {
    await witness.start();
    sim = await startIpmiSim('ip1', witness, 'admin', PASSWORD);
    // ipmi_sim starts once this checkout holds the QEMU lock: wait for it to answer
    const svc = service();
    await waitUntil(async () => (await svc.call('ip1', 'status')).ok, 15 * 60_000, 'ipmi_sim to answer', 1000);
  });
  after(async () => {
    await sim?.stop();
    await witness.close();
  });

  it('status, on, cycle, pxe (bootdev pxe once + cycle), off: the VM follows', async () => {
    const svc = service();
    const st = await svc.call('ip1', 'status');
    assert.deepEqual([st.ok, st.state, st.driver], [true, 'off', 'ipmi'], st.error);
    assert.equal(await vmState(sim.dir), 'off');

    const on = await svc.call('ip1', 'on');
    assert.ok(on.ok, on.error);
    await waitUntil(async () => (await vmState(sim.dir)) === 'running', 30_000, 'the VM to run');
    assert.equal((await svc.call('ip1', 'status')).state, 'on');
    assert.doesNotMatch(boots(sim.dir).at(-1)!, /once=n/, 'a plain power-on boots from disk');
    // the VM's ipmi-bmc-extern chardev connects back to ipmi_sim's VM serial interface
    await waitUntil(() => establishedTo(sim.serialPort) > 0, 30_000, 'QEMU ipmi-bmc-extern to connect to ipmi_sim');

    const n = boots(sim.dir).length;
    const cyc = await svc.call('ip1', 'cycle');
    assert.ok(cyc.ok, cyc.error);
    assert.match(cyc.detail!, /chassis power cycle/);
    await waitUntil(() => boots(sim.dir).length > n, 30_000, 'ipmi_sim to power the VM back on after the cycle');
    await waitUntil(async () => (await vmState(sim.dir)) === 'running', 30_000, 'the VM to run again');

    const hits = witness.count('ip1');
    const pxe = await svc.call('ip1', 'pxe');
    assert.ok(pxe.ok, pxe.error);
    assert.match(pxe.detail!, /bootdev pxe.*power cycle/);
    await waitUntil(() => boots(sim.dir).at(-1)?.includes('once=n'), 30_000, 'a start with a one-time network boot');
    await waitUntil(() => witness.count('ip1') > hits, BOOT_MS, 'the VM to network-boot because fleetboot said so');

    const off = await svc.call('ip1', 'off');
    assert.ok(off.ok, off.error);
    await waitUntil(async () => (await vmState(sim.dir)) === 'off', 30_000, 'the VM to be off');
    assert.equal((await svc.call('ip1', 'status')).state, 'off');

    // off + pxe: bootdev, then power on (IPMI refuses a cycle of a host that is off)
    const hits2 = witness.count('ip1');
    const pxeOff = await svc.call('ip1', 'pxe');
    assert.ok(pxeOff.ok, pxeOff.error);
    assert.match(pxeOff.detail!, /power on \(host was off\)/);
    await waitUntil(() => witness.count('ip1') > hits2, BOOT_MS, 'the network boot from off');
    assert.ok((await svc.call('ip1', 'off')).ok);
  });

  it('a wrong password is an auth error on the host, not retried, and never shown', async () => {
    const r = await service({ FLEETBOOT_SECRET_BMC_IP1: 'not-the-password' }).call('ip1', 'status');
    assert.equal(r.ok, false);
    assert.equal(r.attempts, 1, r.error);
    assert.ok(!r.error!.includes('not-the-password'));
  });
});
