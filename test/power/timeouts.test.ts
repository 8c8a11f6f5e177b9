// A BMC that does not answer is an error on that host within its timeout, never a hang:
// a UDP port that swallows ipmitool's packets, a TCP port that accepts and never speaks (so TLS
// never completes), an HTTPS BMC that trickles a reply forever, an ssh target with no banner.
// Also: retries only where repeating is safe, the concurrency bound, stop() ending calls.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer as createTcp, type Server as TcpServer, type Socket } from 'node:net';
import { createServer as createHttps, type Server as HttpsServer } from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { PowerService } from '../../src/power/service.js';
import { EnvSecrets } from '../../src/power/secrets.js';
import { powerSchema } from '../../src/config/power-schema.js';
import { silentLogger } from '../../src/log.js';
import { ensureTls } from '../../src/web/tls.js';
import type { PowerHost } from '../../src/power/types.js';

describe('unanswering BMCs: errors per host within the timeout, never a hang', { timeout: 5 * 60_000 }, () => {
  let udp: UdpSocket;
  let udpPackets = 0;
  let tcp: TcpServer;
  const held = new Set<Socket>();
  let tcpOpen = 0;
  let trickle: HttpsServer;
  let trickleTimers: NodeJS.Timeout[] = [];
  let dir: string;

  before(async () => {
    udp = createSocket('udp4');
    udp.on('message', () => udpPackets++);
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
    tcp = createTcp((s) => {
      held.add(s);
      tcpOpen++;
      s.on('error', () => undefined);
      s.on('close', () => (held.delete(s), tcpOpen--));
      // read (and drop) what the client sends, so its FIN is seen and 'close' fires
      s.resume();
    });
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', () => r()));
    dir = mkdtempSync(join(tmpdir(), 'fb-power-to-'));
    const tls = ensureTls(dir, ['127.0.0.1']);
    trickle = createHttps({ key: tls.key, cert: tls.cert }, (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('{"a":');
      trickleTimers.push(setInterval(() => res.write(' '), 100));
    });
    await new Promise<void>((r) => trickle.listen(0, '127.0.0.1', () => r()));
  });
  after(async () => {
    for (const t of trickleTimers) clearInterval(t);
    trickleTimers = [];
    for (const s of held) s.destroy();
    trickle.closeAllConnections();
    await new Promise<void>((r) => trickle.close(() => r()));
    await new Promise<void>((r) => tcp.close(() => r()));
    udp.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const svc = (hosts: Record<string, unknown>, concurrency?: number) => {
    const map: Record<string, PowerHost> = {};
    for (const [name, p] of Object.entries(hosts)) map[name] = { name, power: powerSchema.parse(p) };
    return new PowerService({ lookup: (n) => map[n], secrets: new EnvSecrets({ FLEETBOOT_SECRET_X: 'pw' }), log: silentLogger(), backoffMs: 10, concurrency });
  };
  const tcpPort = () => (tcp.address() as AddressInfo).port;

  it('ipmi: a blackholed UDP port is an error after the retries, ipmitool really sent', async () => {
    const port = udp.address().port;
    const r = await svc({ h: { driver: 'ipmi', address: '127.0.0.1', port, user: 'u', passwordSecret: 'X', timeoutSeconds: 2, retries: 1 } }).call('h', 'status');
    assert.equal(r.ok, false);
    assert.ok(r.errorKind === 'timeout' || r.errorKind === 'unreachable', `${r.errorKind}: ${r.error}`);
    assert.equal(r.attempts, 2, 'status is safe to retry');
    assert.ok(udpPackets > 0, 'ipmitool sent RMCP+ packets to the port');
  });

  it('redfish: a port that accepts and never answers (TLS never completes) times out; status retried, cycle not', async () => {
    const hosts = { h: { driver: 'redfish', address: '127.0.0.1', port: tcpPort(), user: 'u', passwordSecret: 'X', timeoutSeconds: 1, retries: 2 } };
    const st = await svc(hosts).call('h', 'status');
    assert.deepEqual([st.ok, st.errorKind, st.attempts], [false, 'timeout', 3], st.error);
    const cyc = await svc(hosts).call('h', 'cycle');
    assert.deepEqual([cyc.ok, cyc.errorKind, cyc.attempts], [false, 'timeout', 1], 'a cycle whose answer was lost may have happened: not repeated');
    await waitFor(() => tcpOpen === 0, 'the driver to close its sockets');
  });

  it('redfish: a reply that trickles forever is cut at the timeout', async () => {
    const port = (trickle.address() as AddressInfo).port;
    const r = await svc({ h: { driver: 'redfish', address: '127.0.0.1', port, insecure: true, timeoutSeconds: 1, retries: 0 } }).call('h', 'status');
    assert.deepEqual([r.ok, r.errorKind], [false, 'timeout'], r.error);
  });

  it('ssh: a target that never sends its banner is an error within the timeout; no ssh left running', async () => {
    const r = await svc({ h: { driver: 'ssh', address: '127.0.0.1', port: tcpPort(), user: 'fb', commands: { status: 'true' }, timeoutSeconds: 2, retries: 0 } }).call('h', 'status');
    assert.equal(r.ok, false);
    assert.ok(r.errorKind === 'timeout' || r.errorKind === 'unreachable', `${r.errorKind}: ${r.error}`);
    await waitFor(() => !execFileSync('ps', ['-eo', 'args']).toString().includes(`-p ${tcpPort()}`), 'the ssh child to be gone');
  });

  it('many dead BMCs: every host gets its own error, at most `concurrency` calls at once', async () => {
    const hosts: Record<string, unknown> = {};
    for (let i = 0; i < 12; i++) hosts[`h${i}`] = { driver: 'redfish', address: '127.0.0.1', port: tcpPort(), timeoutSeconds: 1, retries: 0 };
    const s = svc(hosts, 3);
    let maxInFlight = 0;
    let maxQueued = 0;
    const sampler = setInterval(() => ((maxInFlight = Math.max(maxInFlight, s.inFlight)), (maxQueued = Math.max(maxQueued, s.queued))), 5);
    const res = await s.run(Object.keys(hosts), 'status');
    clearInterval(sampler);
    assert.equal(res.length, 12);
    assert.ok(res.every((r) => !r.ok && r.errorKind === 'timeout'));
    assert.deepEqual(res.map((r) => r.host), Object.keys(hosts), 'results in the order asked');
    // the dead BMC's own count lags (it sees a FIN after the next call connected), so the bound
    // is read from the service; the BMC confirms calls really overlapped
    assert.equal(maxInFlight, 3, 'exactly the bound in flight at the busiest moment');
    assert.ok(maxQueued >= 8, `the rest waited for a slot (max queued ${maxQueued})`);
    assert.equal(s.inFlight + s.queued, 0, 'nothing left behind');
  });

  it('a flood of calls queues no further than maxPending; the rest are refused at once as busy', async () => {
    const map: Record<string, PowerHost> = { h: { name: 'h', power: powerSchema.parse({ driver: 'redfish', address: '127.0.0.1', port: tcpPort(), timeoutSeconds: 1, retries: 0 }) } };
    const s = new PowerService({ lookup: (n) => map[n], secrets: new EnvSecrets({}), log: silentLogger(), maxPending: 3 });
    const res = await Promise.all(Array.from({ length: 10 }, () => s.call('h', 'status')));
    assert.equal(res.filter((r) => r.errorKind === 'busy').length, 7);
    assert.equal(res.filter((r) => r.errorKind === 'timeout').length, 3);
    assert.equal((await s.call('h', 'status')).errorKind, 'timeout', 'accepted again once the queue drained');
  });

  it('stop() ends calls in flight (daemon shutdown) instead of waiting out their timeout', async () => {
    const s = svc({ h: { driver: 'redfish', address: '127.0.0.1', port: tcpPort(), timeoutSeconds: 300, retries: 5 } });
    const p = s.call('h', 'status');
    await waitFor(() => tcpOpen > 0, 'the call to connect');
    s.stop();
    const r = await p;
    assert.deepEqual([r.ok, r.errorKind, r.attempts], [false, 'aborted', 1]);
  });

  it('unknown host, host without power:, manual driver', async () => {
    const s = svc({ m: { driver: 'manual', address: 'rack4-u12', instructions: 'hold the power button for 5 s' } });
    const m = await s.call('m', 'pxe');
    assert.ok(m.ok);
    assert.match(m.instruction!, /^m \(rack4-u12\): boot it from the network once.*hold the power button/);
    assert.equal((await s.call('m', 'status')).state, 'unknown');
    assert.equal((await s.call('nope', 'on')).errorKind, 'unknown-host');
    const none = new PowerService({ lookup: (n) => ({ name: n }), secrets: new EnvSecrets({}), log: silentLogger() });
    assert.equal((await none.call('x', 'on')).errorKind, 'no-power-config');
  });
});

async function waitFor(fn: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
