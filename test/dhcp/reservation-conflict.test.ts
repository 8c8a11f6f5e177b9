// A reservation whose address another MAC still holds (the inventory changed under a running
// lease, e.g. a reload gave host alpha an address a pool client or a former host has): the
// reserved host must not get that address while the other lease lives — two hosts would
// share it. It gets a pool address meanwhile; the holder is NAKed at its next renewal; once
// the lease is gone the reserved host is moved onto its reservation. Through the real socket
// path, the conflict is logged at warn and counted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { decode, encode, newRequest, type DhcpPacket } from '../../src/dhcp/codec.js';
import { dhcpConfigSchema } from '../../src/dhcp/config.js';
import { DhcpEngine } from '../../src/dhcp/engine.js';
import { MemoryLeaseStore } from '../../src/dhcp/leases.js';
import { DhcpServer } from '../../src/dhcp/server.js';
import { ipToBuf, MessageType, Opt } from '../../src/dhcp/options.js';

const ALPHA = '52:54:00:aa:00:01';
const HOLDER = '52:54:00:cc:00:09';
const RESERVED = '10.9.0.11';

function msg(mac: string, type: number, extra: (p: DhcpPacket) => void = () => {}): DhcpPacket {
  const p = newRequest(mac, 0x4242);
  p.options.set(Opt.MESSAGE_TYPE, Buffer.from([type]));
  extra(p);
  return p;
}
const req = (ip: string, sid?: string) => (p: DhcpPacket) => {
  p.options.set(Opt.REQUESTED_IP, ipToBuf(ip));
  if (sid) p.options.set(Opt.SERVER_ID, ipToBuf(sid));
};

test('engine: a reserved address leased to another MAC is not handed out until that lease ends', () => {
  const clock = { t: 1_000_000 };
  const leases = new MemoryLeaseStore();
  // HOLDER was given 10.9.0.11 before the inventory reserved it for alpha
  leases.put({ ip: RESERVED, mac: HOLDER, state: 'bound', expiresAt: clock.t + 600_000, updatedAt: clock.t });
  const engine = new DhcpEngine({
    config: dhcpConfigSchema.parse({ enabled: true, serverAddress: '10.9.0.1', pool: { start: '10.9.0.100', end: '10.9.0.109' }, unknownPolicy: 'discover' }),
    serverAddress: '10.9.0.1', leases,
    hosts: { byMac: (m) => (m === ALPHA ? { name: 'alpha', address: RESERVED } : undefined), reserved: (ip) => ip === RESERVED },
    boot: { httpBase: 'http://10.9.0.1:8080', tftpServer: '10.9.0.1' }, now: () => clock.t,
  });
  const send = (p: DhcpPacket) => engine.handle({ packet: decode(encode(p)), port: 67, from: { address: '0.0.0.0', port: 68 } });

  const off = send(msg(ALPHA, MessageType.DISCOVER));
  assert.equal(off.decision, 'offer');
  const tmp = off.reply!.packet.yiaddr;
  assert.notEqual(tmp, RESERVED, 'the held address is not offered');
  assert.match(tmp, /^10\.9\.0\.10\d$/, 'a pool address meanwhile');
  assert.deepEqual(off.conflict, { reserved: RESERVED, heldBy: HOLDER, state: 'bound', until: clock.t + 600_000 });
  assert.match(off.reason, /held by 52:54:00:cc:00:09/);
  // asking for the reserved address while it is held: NAK, never an ACK of a shared address
  assert.equal(send(msg(ALPHA, MessageType.DISCOVER, req(RESERVED))).reply!.packet.yiaddr, tmp);
  assert.equal(send(msg(ALPHA, MessageType.REQUEST, req(RESERVED))).decision, 'nak');
  const ack = send(msg(ALPHA, MessageType.REQUEST, req(tmp, '10.9.0.1')));
  assert.equal(ack.decision, 'ack');
  assert.equal(ack.reply!.packet.yiaddr, tmp);
  assert.equal(leases.byIp(RESERVED)?.mac, HOLDER, "the holder's lease is untouched");
  // the holder renews: the address is reserved for someone else now -> NAK (it rediscovers)
  const renew = send(msg(HOLDER, MessageType.REQUEST, (p) => (p.ciaddr = RESERVED)));
  assert.equal(renew.decision, 'nak');
  // the holder's lease ends (RELEASE here; expiry works the same)
  assert.equal(send(msg(HOLDER, MessageType.RELEASE, (p) => (p.ciaddr = RESERVED))).decision, 'release');
  // alpha's next renewal of the pool address is NAKed, which moves it onto its reservation
  assert.equal(send(msg(ALPHA, MessageType.REQUEST, (p) => (p.ciaddr = tmp))).decision, 'nak');
  const back = send(msg(ALPHA, MessageType.DISCOVER));
  assert.equal(back.reply!.packet.yiaddr, RESERVED);
  assert.equal(back.conflict, undefined);
  assert.equal(send(msg(ALPHA, MessageType.REQUEST, req(RESERVED, '10.9.0.1'))).decision, 'ack');
});

test('engine: with the pool full, a reserved host in conflict gets silence, not a shared address', () => {
  const leases = new MemoryLeaseStore();
  leases.put({ ip: RESERVED, mac: HOLDER, state: 'bound', expiresAt: 2_000_000, updatedAt: 0 });
  const engine = new DhcpEngine({
    config: dhcpConfigSchema.parse({ enabled: true, mode: 'full', serverAddress: '10.9.0.1', pool: { start: '10.9.0.100', end: '10.9.0.100' }, unknownPolicy: 'ignore' }),
    serverAddress: '10.9.0.1', leases,
    hosts: { byMac: (m) => (m === ALPHA ? { name: 'alpha', address: RESERVED } : undefined), reserved: (ip) => ip === RESERVED },
    boot: { httpBase: 'http://10.9.0.1:8080', tftpServer: '10.9.0.1' }, now: () => 1_000_000,
  });
  leases.put({ ip: '10.9.0.100', mac: '52:54:00:dd:00:01', state: 'bound', expiresAt: 2_000_000, updatedAt: 0 }); // pool full
  const o = engine.handle({ packet: decode(encode(msg(ALPHA, MessageType.DISCOVER))), port: 67, from: { address: '0.0.0.0', port: 68 } });
  assert.equal(o.decision, 'ignore-reservation-conflict');
  assert.equal(o.reply, undefined);
});

test('server: a reservation conflict is logged at warn with both MACs and counted', async () => {
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({ write: (c, _e, cb) => (String(c).split('\n').filter(Boolean).forEach((l) => logs.push(JSON.parse(l))), cb()) });
  const port = 40000 + Math.floor(Math.random() * 10000);
  const registry = new Registry();
  const leases = new MemoryLeaseStore();
  leases.put({ ip: '127.0.0.11', mac: HOLDER, state: 'bound', expiresAt: Date.now() + 600_000, updatedAt: Date.now() });
  const server = new DhcpServer({
    config: dhcpConfigSchema.parse({ enabled: true, serverAddress: '127.0.0.1', listen: '127.0.0.1', port, clientPort: port + 1, netmask: '255.0.0.0', pool: { start: '127.0.1.1', end: '127.0.1.9' } }),
    log: pino({ level: 'info' }, sink), registry, leases,
    hosts: { byMac: (m) => (m === ALPHA ? { name: 'alpha', address: '127.0.0.11' } : undefined), reserved: (ip) => ip === '127.0.0.11' },
    boot: { httpBase: 'http://127.0.0.1:8080', tftpServer: '127.0.0.1' },
  });
  await server.start();
  // alpha renews a pool address it got meanwhile (ciaddr set: the ACK is unicast to it)
  const c = dgram.createSocket('udp4');
  try {
    await new Promise<void>((r) => c.bind(port + 1, '127.0.1.3', r));
    const got = new Promise<Buffer>((r, j) => {
      const t = setTimeout(() => j(new Error('no reply')), 5000);
      c.once('message', (m) => (clearTimeout(t), r(m)));
    });
    c.send(encode(msg(ALPHA, MessageType.REQUEST, (p) => (p.ciaddr = '127.0.1.3'))), port, '127.0.0.1');
    assert.equal(decode(await got).yiaddr, '127.0.1.3');
    const warn = logs.find((l) => l.level === 40 && l.heldBy === HOLDER);
    assert.ok(warn, 'conflict logged at warn');
    assert.equal(warn.mac, ALPHA);
    assert.equal(warn.reserved, '127.0.0.11');
    assert.match(await registry.getSingleMetricAsString('fleetboot_dhcp_decisions_total'), /decision="reservation-conflict"} 1/);
  } finally {
    c.close();
    await server.stop();
  }
});
