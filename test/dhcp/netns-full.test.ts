// Full mode against real clients in network namespaces (root required; names fbdhcp1-*).
// The server runs as a separate node process inside the server namespace (fixtures/serve-dhcp.js
// via `ip netns exec`): a process cannot switch namespaces per thread from Node, and a separate
// process also gives the restart test a real stop/start of the same SQLite file.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Lab, fixture, requireTools, serveDhcp, metricValue, type Served } from './netns.js';
import { needsRoot } from '../helpers/root.js';

const SRV = '10.77.0.1';
const KNOWN_MAC = '52:54:00:aa:00:01';

describe('dhcp full mode with real clients (netns)', { skip: needsRoot('network namespaces') }, () => {
  const lab = new Lab('fbdhcp1');
  let dir = '';
  let server: Served | undefined;
  const spec = () => ({
    config: {
      enabled: true, mode: 'full', serverAddress: SRV, pool: { start: '10.77.0.100', end: '10.77.0.199' },
      router: SRV, dns: [SRV], domain: 'lab.test', leaseSeconds: 600, unknownPolicy: 'discover',
    },
    db: join(dir, 'state.sqlite'),
    hosts: { [KNOWN_MAC]: { name: 'alpha', address: '10.77.0.11' } },
    boot: { httpBase: `http://${SRV}:8080`, tftpServer: SRV },
  });
  // udhcpc calls this script; it appends the variables we check to a file
  const udhcpc = (extra: string[] = []) => {
    const out = join(dir, `udhcpc-${Date.now()}.env`);
    const script = join(dir, 'udhcpc.sh');
    writeFileSync(script, `#!/bin/sh\n[ "$1" = bound ] && env | grep -E '^(ip|subnet|router|dns|domain|lease|hostname|boot_file|siaddr|serverid)=' > ${out}\nexit 0\n`);
    chmodSync(script, 0o755);
    lab.exec('cli', 'busybox', ['udhcpc', '-i', 'eth0', '-f', '-q', '-n', '-t', '5', '-T', '1', '-s', script, ...extra], { allowFail: true, timeout: 30_000 });
    assert.ok(existsSync(out), 'udhcpc did not get a lease');
    return Object.fromEntries(readFileSync(out, 'utf8').trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  };

  before(async () => {
    requireTools('busybox', 'dhclient', 'nmap', 'perfdhcp', 'ip');
    dir = mkdtempSync(join(tmpdir(), 'fbdhcp1-'));
    lab.setup([{ name: 'srv', addr: `${SRV}/24` }, { name: 'cli', mac: KNOWN_MAC }, { name: 'tool', addr: '10.77.0.50/24', mac: '52:54:00:aa:00:50' }]);
    server = await serveDhcp(lab, 'srv', spec());
  });

  after(async () => {
    await server?.stop().catch(() => undefined);
    await lab.teardown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('busybox udhcpc (known MAC) gets its reservation, DNS, domain and hostname', () => {
    const env = udhcpc();
    assert.equal(env.ip, '10.77.0.11');
    assert.equal(env.subnet, '255.255.255.0');
    assert.equal(env.router, SRV);
    assert.equal(env.dns.trim(), SRV);
    assert.equal(env.domain, 'lab.test');
    assert.equal(env.hostname, 'alpha');
    assert.equal(env.lease, '600');
    assert.equal(env.serverid, SRV);
    assert.equal(env.boot_file ?? '', '', 'an OS client gets no boot file');
  });

  it('udhcpc posing as UEFI x64 PXE (options 60 and 93) gets snponly.efi from us', () => {
    const env = udhcpc(['-V', 'PXEClient:Arch:00007:UNDI:003016', '-x', '93:0007']);
    assert.equal(env.ip, '10.77.0.11');
    assert.equal(env.boot_file, 'snponly.efi');
    assert.equal(env.siaddr, SRV);
  });

  it('udhcpc with user class iPXE gets the boot.ipxe URL (no chain-load loop)', () => {
    lab.setMac('cli', '52:54:00:aa:00:07');
    const env = udhcpc(['-x', '77:69505845', '-x', '93:0000']);
    assert.match(env.ip, /^10\.77\.0\.1\d\d$/);
    assert.equal(env.boot_file, `http://${SRV}:8080/boot.ipxe?mac=\${netX/mac}`);
  });

  it('ISC dhclient (unknown MAC) gets a pool lease', async () => {
    lab.setMac('cli', '52:54:00:bb:00:02');
    const out = join(dir, 'dhclient.env');
    const script = join(dir, 'dhclient.sh');
    writeFileSync(script, `#!/bin/sh\n[ "$reason" = BOUND ] && env | grep -E '^(reason|new_ip_address|new_domain_name_servers|new_routers|new_dhcp_lease_time)=' > ${out}\nexit 0\n`);
    chmodSync(script, 0o755);
    const p = lab.spawn('cli', 'dhclient', ['-d', '-1', '-sf', script, '-lf', join(dir, 'dhclient.leases'), '-pf', join(dir, 'dhclient.pid'), 'eth0']);
    try {
      for (let i = 0; i < 100 && !existsSync(out); i++) await new Promise((r) => setTimeout(r, 100));
    } finally {
      await lab.kill(p);
    }
    assert.ok(existsSync(out), 'dhclient did not reach BOUND');
    const env = readFileSync(out, 'utf8');
    assert.match(env, /new_ip_address=10\.77\.0\.1\d\d/);
    assert.match(env, /new_domain_name_servers=10\.77\.0\.1/);
    assert.match(env, /new_dhcp_lease_time=600/);
  });

  it('nmap broadcast-dhcp-discover sees our offer', () => {
    // nmap's script needs an IPv4 address on the interface, so it runs from the "tool" node
    const out = lab.exec('tool', 'nmap', ['--script', 'broadcast-dhcp-discover', '--script-args', 'broadcast-dhcp-discover.timeout=3', '-e', 'eth0'], { timeout: 60_000 });
    assert.match(out, /IP Offered: 10\.77\.0\.1\d\d/);
    assert.match(out, /Server Identifier: 10\.77\.0\.1\b/);
    assert.match(out, /Domain Name Server: 10\.77\.0\.1\b/);
  });

  it('perfdhcp as a relay (giaddr) with options 60/93 completes its exchanges', () => {
    // perfdhcp sets giaddr to its own address and expects the reply on port 67 (relay)
    const out = lab.exec('tool', 'perfdhcp', ['-4', '-l', '10.77.0.50', '-R', '30', '-n', '30', '-r', '30', '-d', '2',
      '-o', `60,${Buffer.from('PXEClient:Arch:00007:UNDI:003016').toString('hex')}`, '-o', '93,0007', SRV], { allowFail: true, timeout: 60_000 });
    const acks = /Statistics for: REQUEST-ACK\*+\s+sent packets: (\d+)\s+received packets: (\d+)/.exec(out);
    assert.ok(acks, out);
    assert.ok(Number(acks[2]) >= 25, `REQUEST-ACK received ${acks[2]} of 30\n${out}`);
    assert.match(out, /rejected leases: 0/);
  });

  it('malformed and near-valid junk is counted, reaches the engine, and does not crash the server', async () => {
    // mostly Ethernet-typed requests with the cookie and almost-right options (fixtures/junk.ts),
    // so they get past decode into classification, the engine and reply building
    const n0 = server!.out.all.length;
    const out = lab.exec('tool', process.execPath, [fixture('junk'), SRV, '67', '400', '7', '10.77.0']);
    assert.match(out, /sent 400/);
    // the exec blocked this process; a crash shows only once the exit is reaped: poll a while
    for (let i = 0; i < 20 && server!.proc.exitCode === null && server!.proc.signalCode === null; i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(server!.proc.exitCode, null, `server exited: ${server!.err.all.join('\n')}`);
    assert.equal(server!.proc.signalCode, null);
    await server!.out.waitFor(/"mac":"52:54:00:ff:00:0\d"/, 5000);
    const recs = server!.out.json().slice(n0).filter((l) => typeof l.mac === 'string' && (l.mac as string).startsWith('52:54:00:ff:00:'));
    const decisions = new Set(recs.map((l) => l.decision));
    assert.ok(decisions.size >= 4, `junk reached only ${[...decisions].join(', ')}`);
    assert.ok([...decisions].some((d) => d === 'offer' || d === 'ack' || d === 'nak' || d === 'inform'), `no junk was answered: ${[...decisions].join(', ')}`);
    assert.ok(!server!.out.all.slice(n0).some((l) => l.includes('request handling failed') || l.includes('reply encoding failed')), 'no handler errors');
    // and it still serves a real client
    const env = udhcpc();
    assert.match(env.ip, /^10\.77\.0\.1\d\d$/);
  });

  it('leases survive a restart (same SQLite file)', async () => {
    const metrics = await server!.stop();
    server = undefined;
    assert.ok(metricValue(metrics, 'fleetboot_dhcp_malformed_total') > 0);
    assert.ok(metricValue(metrics, 'fleetboot_dhcp_replies_total', { type: 'ack' }) >= 30);
    assert.ok(metricValue(metrics, 'fleetboot_dhcp_decisions_total', { decision: 'offer' }) > 0);
    const db = new Database(join(dir, 'state.sqlite'), { readonly: true });
    const bound = db.prepare(`SELECT ip, mac FROM leases WHERE state = 'bound'`).all() as { ip: string; mac: string }[];
    db.close();
    const dh = bound.find((l) => l.mac === '52:54:00:bb:00:02');
    assert.ok(dh, 'dhclient lease stored');
    server = await serveDhcp(lab, 'srv', spec());
    // the dhclient MAC comes back (udhcpc this time) and gets the same address
    lab.setMac('cli', '52:54:00:bb:00:02');
    assert.equal(udhcpc().ip, dh.ip);
    // a new MAC gets none of the addresses bound before the restart
    lab.setMac('cli', '52:54:00:bb:00:03');
    const fresh = udhcpc().ip;
    assert.ok(!bound.some((l) => l.ip === fresh), `${fresh} was already bound`);
    // (execFileSync blocked the event loop: give the log pipe a moment to be read)
    await server.out.waitFor(/"discovered":\{"mac":"52:54:00:bb:00:03"/, 5000);
    const rec = server.out.json().find((r) => r.mac === '52:54:00:bb:00:03' && r.decision === 'ack');
    assert.ok(rec, 'decision logged with mac/xid/kind/ip');
    assert.equal(rec.ip, fresh);
    assert.equal(rec.kind, 'other');
    assert.match(String(rec.xid), /^0x[0-9a-f]{8}$/);
  });
});
