// The decision engine without sockets: full mode (reservations, pool, lease life cycle, relay)
// and proxy mode, plus lease persistence across a reopen of the same SQLite file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode, encode, newRequest, type DhcpPacket } from '../../src/dhcp/codec.js';
import { dhcpConfigSchema, type DhcpConfigInput } from '../../src/dhcp/config.js';
import { DhcpEngine, type Outcome } from '../../src/dhcp/engine.js';
import { MemoryLeaseStore, SqliteLeaseStore, type LeaseStore } from '../../src/dhcp/leases.js';
import { bufToIp, getLeaseTime, getServerId, ipToBuf, MessageType, Opt, u16 } from '../../src/dhcp/options.js';
import { openDatabase } from '../../src/store/db.js';

const KNOWN = '52:54:00:aa:00:01';
const KNOWN_DYN = '52:54:00:aa:00:02';
const hosts = new Map([
  [KNOWN, { name: 'alpha.lab', address: '10.9.0.11' }],
  [KNOWN_DYN, { name: 'beta' }],
]);

function setup(cfg: Partial<DhcpConfigInput> = {}, leases: LeaseStore = new MemoryLeaseStore()) {
  const clock = { t: 1_000_000 };
  const config = dhcpConfigSchema.parse({
    enabled: true, serverAddress: '10.9.0.1', pool: { start: '10.9.0.100', end: '10.9.0.109' },
    router: '10.9.0.1', dns: ['10.9.0.2'], domain: 'lab.test', unknownPolicy: 'discover', ...cfg,
  });
  const engine = new DhcpEngine({
    config, serverAddress: '10.9.0.1', leases,
    hosts: { byMac: (m) => hosts.get(m), reserved: (ip) => ip === '10.9.0.100' },
    boot: { httpBase: 'http://10.9.0.1:8080', tftpServer: '10.9.0.1' }, now: () => clock.t,
  });
  const send = (p: DhcpPacket, port = 67, from = { address: '0.0.0.0', port: 68 }): Outcome =>
    engine.handle({ packet: decode(encode(p)), port, from });
  return { engine, leases, clock, send, config };
}

function msg(mac: string, type: number, extra: (p: DhcpPacket) => void = () => {}): DhcpPacket {
  const p = newRequest(mac, 0x1234);
  p.options.set(Opt.MESSAGE_TYPE, Buffer.from([type]));
  extra(p);
  return p;
}
const pxe = (arch: number) => (p: DhcpPacket) => {
  p.options.set(Opt.VENDOR_CLASS, Buffer.from(`PXEClient:Arch:${String(arch).padStart(5, '0')}:UNDI:003000`));
  p.options.set(Opt.CLIENT_ARCH, u16(arch));
  p.options.set(Opt.CLIENT_UUID, Buffer.concat([Buffer.from([0]), Buffer.alloc(16, 7)]));
};
const ipxe = (p: DhcpPacket) => {
  p.options.set(Opt.USER_CLASS, Buffer.from('iPXE'));
  p.options.set(Opt.CLIENT_ARCH, u16(0));
};
const req = (ip: string, sid?: string) => (p: DhcpPacket) => {
  p.options.set(Opt.REQUESTED_IP, ipToBuf(ip));
  if (sid) p.options.set(Opt.SERVER_ID, ipToBuf(sid));
};
const opt = (o: Outcome, code: number) => o.reply?.packet.options.get(code);

test('engine: known host with reservation, UEFI PXE: offer with boot info', () => {
  const { send } = setup();
  const o = send(msg(KNOWN, MessageType.DISCOVER, pxe(7)));
  assert.equal(o.decision, 'offer');
  assert.equal(o.unknown, false);
  const r = o.reply!;
  assert.equal(r.packet.yiaddr, '10.9.0.11');
  assert.deepEqual(r.to, { address: '255.255.255.255', port: 68 });
  assert.equal(r.packet.siaddr, '10.9.0.1');
  assert.equal(r.packet.file, 'snponly.efi');
  assert.equal(opt(o, Opt.BOOTFILE)?.toString(), 'snponly.efi');
  assert.equal(opt(o, Opt.VENDOR_CLASS)?.toString(), 'PXEClient');
  assert.deepEqual([...opt(o, Opt.VENDOR_SPECIFIC)!], [6, 1, 8, 255]);
  assert.deepEqual(opt(o, Opt.CLIENT_UUID), Buffer.concat([Buffer.from([0]), Buffer.alloc(16, 7)]));
  assert.equal(opt(o, Opt.HOSTNAME)?.toString(), 'alpha');
  assert.equal(bufToIp(opt(o, Opt.DNS)!), '10.9.0.2');
  assert.equal(opt(o, Opt.DOMAIN)?.toString(), 'lab.test');
  assert.equal(getLeaseTime(r.packet), 3600);
  assert.equal(getServerId(r.packet), '10.9.0.1');
  assert.equal(r.packet.xid, 0x1234);
});

test('engine: full DORA for an unknown iPXE client (discover policy) binds a pool lease', () => {
  const { send, leases, clock } = setup();
  const off = send(msg('52:54:00:bb:00:01', MessageType.DISCOVER, ipxe));
  assert.equal(off.decision, 'offer');
  assert.equal(off.unknown, true);
  const ip = off.reply!.packet.yiaddr;
  assert.notEqual(ip, '10.9.0.100', 'reserved address skipped');
  assert.equal(off.reply!.packet.file, 'http://10.9.0.1:8080/boot.ipxe?mac=${netX/mac}');
  assert.deepEqual([...opt(off, Opt.IPXE_ENCAP)!], [176, 1, 1], 'no-pxedhcp: iPXE need not wait for ProxyDHCP');
  assert.equal(leases.byIp(ip)?.state, 'offered');
  const ack = send(msg('52:54:00:bb:00:01', MessageType.REQUEST, (p) => (ipxe(p), req(ip, '10.9.0.1')(p))));
  assert.equal(ack.decision, 'ack');
  assert.equal(ack.reply!.packet.yiaddr, ip);
  const l = leases.byIp(ip)!;
  assert.equal(l.state, 'bound');
  assert.equal(l.expiresAt, clock.t + 3600_000);
});

test('engine: unknown-MAC policies', () => {
  const mac = '52:54:00:bb:00:02';
  const ig = setup({ unknownPolicy: 'ignore' }).send(msg(mac, MessageType.DISCOVER, pxe(0)));
  assert.equal(ig.decision, 'ignore-unknown');
  assert.equal(ig.reply, undefined);
  assert.equal(ig.unknown, true);
  const ao = setup({ unknownPolicy: 'address-only' }).send(msg(mac, MessageType.DISCOVER, pxe(0)));
  assert.equal(ao.decision, 'offer');
  assert.equal(ao.reply!.packet.file, '');
  assert.equal(opt(ao, Opt.VENDOR_CLASS), undefined);
  const di = setup({ unknownPolicy: 'discover' }).send(msg(mac, MessageType.DISCOVER, pxe(0)));
  assert.equal(di.reply!.packet.file, 'undionly.kpxe');
});

test('engine: an ordinary client of a known host gets an address and no boot info', () => {
  const o = setup().send(msg(KNOWN_DYN, MessageType.DISCOVER));
  assert.equal(o.decision, 'offer');
  assert.equal(o.reply!.packet.file, '');
  assert.equal(opt(o, Opt.BOOTFILE), undefined);
  assert.equal(opt(o, Opt.HOSTNAME)?.toString(), 'beta');
});

test('engine: REQUEST for another server frees our offer; wrong address is NAKed', () => {
  const { send, leases } = setup();
  const mac = '52:54:00:bb:00:03';
  const ip = send(msg(mac, MessageType.DISCOVER)).reply!.packet.yiaddr;
  assert.equal(send(msg(mac, MessageType.REQUEST, req(ip, '10.9.0.254'))).decision, 'ignore-other-server');
  assert.equal(leases.byIp(ip), undefined);
  const nak = send(msg(mac, MessageType.REQUEST, req('10.9.0.200', '10.9.0.1')));
  assert.equal(nak.decision, 'nak');
  assert.equal(nak.reply!.packet.yiaddr, '0.0.0.0');
  assert.deepEqual(nak.reply!.to, { address: '255.255.255.255', port: 68 });
  // a reserved host asking for a pool address is moved back to its reservation
  assert.equal(send(msg(KNOWN, MessageType.REQUEST, req('10.9.0.105'))).decision, 'nak');
});

test('engine: INIT-REBOOT: free address ACKed, foreign network NAKed, silent when not authoritative', () => {
  const { send } = setup();
  assert.equal(send(msg('52:54:00:bb:00:04', MessageType.REQUEST, req('10.9.0.107'))).decision, 'ack');
  assert.equal(send(msg('52:54:00:bb:00:05', MessageType.REQUEST, req('10.9.0.107'))).decision, 'nak', 'taken by 04');
  assert.equal(send(msg('52:54:00:bb:00:05', MessageType.REQUEST, req('192.168.1.5'))).decision, 'nak');
  const quiet = setup({ authoritative: false }).send(msg('52:54:00:bb:00:05', MessageType.REQUEST, req('192.168.1.5')));
  assert.equal(quiet.decision, 'ignore-not-ours');
});

test('engine: RENEW unicasts to ciaddr; RELEASE keeps the address for the same MAC', () => {
  const { send, leases, clock } = setup();
  const mac = '52:54:00:bb:00:06';
  const ip = send(msg(mac, MessageType.DISCOVER)).reply!.packet.yiaddr;
  send(msg(mac, MessageType.REQUEST, req(ip, '10.9.0.1')));
  clock.t += 1000_000;
  const renew = send(msg(mac, MessageType.REQUEST, (p) => (p.ciaddr = ip)));
  assert.equal(renew.decision, 'ack');
  assert.deepEqual(renew.reply!.to, { address: ip, port: 68 });
  assert.equal(renew.reply!.packet.ciaddr, ip);
  assert.equal(leases.byIp(ip)!.expiresAt, clock.t + 3600_000);
  const rel = send(msg(mac, MessageType.RELEASE, (p) => ((p.ciaddr = ip), p.options.set(Opt.SERVER_ID, ipToBuf('10.9.0.1')))));
  assert.equal(rel.decision, 'release');
  assert.equal(rel.reply, undefined);
  assert.ok(leases.byIp(ip)!.expiresAt <= clock.t);
  assert.equal(send(msg(mac, MessageType.DISCOVER)).reply!.packet.yiaddr, ip);
});

test('engine: DECLINE takes the address out of the pool', () => {
  const { send, leases } = setup();
  const mac = '52:54:00:bb:00:07';
  const ip = send(msg(mac, MessageType.DISCOVER)).reply!.packet.yiaddr;
  assert.equal(send(msg(mac, MessageType.DECLINE, req(ip, '10.9.0.1'))).decision, 'decline');
  assert.equal(leases.byIp(ip)!.state, 'declined');
  assert.notEqual(send(msg(mac, MessageType.DISCOVER)).reply!.packet.yiaddr, ip);
});

test('engine: INFORM answers to ciaddr without a lease', () => {
  const o = setup().send(msg(KNOWN_DYN, MessageType.INFORM, (p) => (p.ciaddr = '10.9.0.50')));
  assert.equal(o.decision, 'inform');
  assert.equal(o.reply!.packet.yiaddr, '0.0.0.0');
  assert.equal(getLeaseTime(o.reply!.packet), undefined);
  assert.deepEqual(o.reply!.to, { address: '10.9.0.50', port: 68 });
});

test('engine: relayed requests go back to the relay with option 82 echoed', () => {
  const { send } = setup({ router: undefined });
  const o82 = Buffer.from([1, 3, 0x61, 0x62, 0x63]);
  const o = send(msg('52:54:00:bb:00:08', MessageType.DISCOVER, (p) => ((p.giaddr = '10.9.0.254'), (p.hops = 1), p.options.set(Opt.RELAY_AGENT, o82))), 67, { address: '10.9.0.254', port: 67 });
  assert.equal(o.decision, 'offer');
  assert.deepEqual(o.reply!.to, { address: '10.9.0.254', port: 67 });
  assert.equal(o.reply!.packet.giaddr, '10.9.0.254');
  assert.deepEqual(opt(o, Opt.RELAY_AGENT), o82);
  assert.equal(bufToIp(opt(o, Opt.ROUTER)!), '10.9.0.254', 'router defaults to the relay');
  const nak = send(msg('52:54:00:bb:00:08', MessageType.REQUEST, (p) => ((p.giaddr = '10.9.0.254'), req('10.9.0.250', '10.9.0.1')(p))));
  assert.equal(nak.decision, 'nak');
  assert.equal(nak.reply!.packet.flags & 0x8000, 0x8000, 'NAK via relay sets broadcast');
  const other = send(msg('52:54:00:bb:00:09', MessageType.DISCOVER, (p) => (p.giaddr = '172.16.0.1')));
  assert.equal(other.decision, 'ignore-relay-subnet');
});

test('engine: the pool runs out politely', () => {
  const { send } = setup({ pool: { start: '10.9.0.100', end: '10.9.0.102' } });
  const got = [1, 2, 3].map((i) => send(msg(`52:54:00:cc:00:0${i}`, MessageType.DISCOVER)));
  assert.deepEqual(got.map((o) => o.decision), ['offer', 'offer', 'ignore-pool-exhausted']);
  assert.deepEqual(got.slice(0, 2).map((o) => o.reply!.packet.yiaddr).sort(), ['10.9.0.101', '10.9.0.102']);
});

test('engine: offers expire and the address returns to the pool', () => {
  const { send, clock } = setup({ pool: { start: '10.9.0.101', end: '10.9.0.101' } });
  assert.equal(send(msg('52:54:00:cc:01:01', MessageType.DISCOVER)).decision, 'offer');
  assert.equal(send(msg('52:54:00:cc:01:02', MessageType.DISCOVER)).decision, 'ignore-pool-exhausted');
  clock.t += 61_000;
  assert.equal(send(msg('52:54:00:cc:01:02', MessageType.DISCOVER)).decision, 'offer');
});

test('engine: a URL longer than the file field goes in option 67 only', () => {
  const { send } = setup({ loader: { ipxeScript: `boot.ipxe?${'x'.repeat(150)}` } });
  const o = send(msg(KNOWN, MessageType.DISCOVER, ipxe));
  assert.equal(o.reply!.packet.file, '');
  assert.match(opt(o, Opt.BOOTFILE)!.toString(), /^http:\/\/10\.9\.0\.1:8080\/boot\.ipxe\?x{150}$/);
  assert.ok(encode(o.reply!.packet).length > 300);
});

test('engine: proxy mode answers PXE on 67 and 4011, ignores the rest', () => {
  const { send } = setup({ mode: 'proxy', pool: undefined });
  const off = send(msg(KNOWN, MessageType.DISCOVER, pxe(7)));
  assert.equal(off.decision, 'proxy-offer');
  const r = off.reply!.packet;
  assert.equal(r.yiaddr, '0.0.0.0');
  assert.equal(r.siaddr, '10.9.0.1');
  assert.equal(r.file, 'snponly.efi');
  assert.equal(opt(off, Opt.VENDOR_CLASS)?.toString(), 'PXEClient');
  assert.equal(getLeaseTime(r), undefined);
  assert.equal(opt(off, Opt.SUBNET_MASK), undefined);
  assert.deepEqual(off.reply!.to, { address: '255.255.255.255', port: 68 });
  // iPXE: offer must still say PXEClient, or iPXE does not treat it as proxyDHCP
  const io = send(msg(KNOWN, MessageType.DISCOVER, ipxe));
  assert.equal(opt(io, Opt.VENDOR_CLASS)?.toString(), 'PXEClient');
  assert.match(io.reply!.packet.file, /boot\.ipxe/);
  // the REQUEST to the site's DHCP server is not ours
  assert.equal(send(msg(KNOWN, MessageType.REQUEST, (p) => (pxe(7)(p), req('10.9.0.77', '10.9.0.3')(p)))).decision, 'ignore-proxy');
  // boot-server request on 4011, unicast from the configured client
  const ack = send(msg(KNOWN, MessageType.REQUEST, (p) => (pxe(7)(p), (p.ciaddr = '10.9.0.77'))), 4011, { address: '10.9.0.77', port: 68 });
  assert.equal(ack.decision, 'proxy-ack');
  assert.deepEqual(ack.reply!.to, { address: '10.9.0.77', port: 68 });
  assert.equal(ack.reply!.packet.file, 'snponly.efi');
  assert.equal(ack.reply!.packet.options.get(Opt.MESSAGE_TYPE)![0], MessageType.ACK);
  assert.equal(send(msg(KNOWN, MessageType.DISCOVER)).decision, 'ignore-not-pxe');
  assert.equal(setup({ mode: 'proxy', pool: undefined, unknownPolicy: 'ignore' }).send(msg('52:54:00:dd:00:01', MessageType.DISCOVER, pxe(0))).decision, 'ignore-unknown');
});

test('engine: non-requests, non-Ethernet and BOOTP are ignored', () => {
  const { send } = setup();
  const reply = msg(KNOWN, MessageType.OFFER);
  reply.op = 2;
  assert.equal(send(reply).decision, 'ignore-not-request');
  const ib = msg(KNOWN, MessageType.DISCOVER);
  ib.htype = 32;
  ib.hlen = 16;
  assert.equal(send(ib).decision, 'ignore-not-ethernet');
  const bootp = msg(KNOWN, MessageType.DISCOVER);
  bootp.options.clear();
  assert.equal(send(bootp).decision, 'ignore-bootp');
  assert.equal(send(msg(KNOWN, MessageType.ACK)).decision, 'ignore-type');
});

test('leases: SQLite leases survive closing and reopening the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fbdhcp-'));
  try {
    const file = join(dir, 'state.sqlite');
    let db = openDatabase(file);
    const a = setup({}, new SqliteLeaseStore(db));
    const mac = '52:54:00:ee:00:01';
    const ip = a.send(msg(mac, MessageType.DISCOVER)).reply!.packet.yiaddr;
    assert.equal(a.send(msg(mac, MessageType.REQUEST, req(ip, '10.9.0.1'))).decision, 'ack');
    db.close();
    db = openDatabase(file);
    const store = new SqliteLeaseStore(db);
    assert.equal(store.byMac(mac)?.ip, ip);
    assert.equal(store.byMac(mac)?.state, 'bound');
    const b = setup({}, store);
    assert.equal(b.send(msg(mac, MessageType.DISCOVER)).reply!.packet.yiaddr, ip, 'same address after restart');
    assert.notEqual(b.send(msg('52:54:00:ee:00:02', MessageType.DISCOVER)).reply!.packet.yiaddr, ip, 'not given to another MAC');
    assert.equal(store.list().length, 2);
    assert.equal(store.purge(Number.MAX_SAFE_INTEGER), 2);
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('leases: offers stay in memory; a REQUEST after a restart still gets its ACK', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fbdhcp-'));
  try {
    const file = join(dir, 'state.sqlite');
    let db = openDatabase(file);
    const a = setup({}, new SqliteLeaseStore(db));
    const mac = '52:54:00:ee:01:01';
    const ip = a.send(msg(mac, MessageType.DISCOVER)).reply!.packet.yiaddr;
    assert.equal(a.leases.byIp(ip)?.state, 'offered');
    assert.equal(a.leases.list().length, 1);
    assert.equal((db.prepare('SELECT COUNT(*) AS n FROM leases').get() as { n: number }).n, 0, 'offer not written');
    db.close();
    db = openDatabase(file);
    const b = setup({}, new SqliteLeaseStore(db));
    const ack = b.send(msg(mac, MessageType.REQUEST, req(ip, '10.9.0.1')));
    assert.equal(ack.decision, 'ack');
    assert.equal((db.prepare(`SELECT state FROM leases WHERE ip = ?`).get(ip) as { state: string }).state, 'bound');
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
