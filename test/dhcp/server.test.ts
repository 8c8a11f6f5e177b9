// DhcpServer lifecycle without namespaces: the constructor does no I/O, a bind failure leaves
// nothing bound, and packets through the real socket path are decoded, answered and counted.
// Uses 127.0.0.1 only (no privileges needed, no traffic elsewhere).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { Registry } from 'prom-client';
import { newRequest, encode, decode } from '../../src/dhcp/codec.js';
import { dhcpConfigSchema } from '../../src/dhcp/config.js';
import { MemoryLeaseStore } from '../../src/dhcp/leases.js';
import { DhcpServer } from '../../src/dhcp/server.js';
import { Opt } from '../../src/dhcp/options.js';
import { silentLogger } from '../../src/log.js';
import { sendRawUdp } from '../tftp/raw-udp.js';
import { needsRoot } from '../helpers/root.js';

function make(port: number, socketFactory?: () => dgram.Socket) {
  const registry = new Registry();
  const server = new DhcpServer({
    config: dhcpConfigSchema.parse({
      enabled: true, serverAddress: '127.0.0.1', listen: '127.0.0.1', port, clientPort: port + 1, netmask: '255.0.0.0',
      pool: { start: '127.0.1.1', end: '127.0.1.50' }, unknownPolicy: 'address-only',
    }),
    log: silentLogger(), registry, leases: new MemoryLeaseStore(), hosts: { byMac: () => undefined },
    boot: { httpBase: 'http://127.0.0.1:8080', tftpServer: '127.0.0.1' }, socketFactory,
  });
  return { server, registry };
}

test('server: constructor does no I/O', () => {
  let made = 0;
  make(40067, () => (made++, dgram.createSocket('udp4')));
  assert.equal(made, 0);
});

test('server: answers over UDP, counts malformed input, survives it', async () => {
  const port = 40000 + Math.floor(Math.random() * 10000);
  const { server, registry } = make(port);
  await server.start();
  const client = dgram.createSocket('udp4');
  try {
    await new Promise<void>((r) => client.bind(port + 1, '127.0.0.1', r));
    const got = new Promise<Buffer>((r, j) => {
      const t = setTimeout(() => j(new Error('no reply within 5 s')), 5000);
      client.once('message', (m) => (clearTimeout(t), r(m)));
    });
    for (const junk of [Buffer.alloc(3), Buffer.alloc(300, 0xff)]) client.send(junk, port, '127.0.0.1');
    const d = newRequest('52:54:00:12:00:01', 77);
    d.ciaddr = '127.0.0.1'; // unicast reply to ciaddr:clientPort, where this client listens (a broadcast would leave loopback)
    d.options.set(Opt.MESSAGE_TYPE, Buffer.from([8])); // INFORM
    client.send(encode(d), port, '127.0.0.1');
    const reply = decode(await got);
    assert.equal(reply.xid, 77);
    assert.equal(reply.op, 2);
    const m = await registry.getSingleMetricAsString('fleetboot_dhcp_malformed_total');
    assert.match(m, /fleetboot_dhcp_malformed_total 2/);
    assert.match(await registry.getSingleMetricAsString('fleetboot_dhcp_decisions_total'), /decision="inform"} 1/);
  } finally {
    client.close();
    await server.stop();
  }
});

test('server: a bind failure rejects start() and releases the sockets that did bind', async () => {
  // proxy mode binds port 67's stand-in first, then the 4011 stand-in: block the second one
  const blocker = dgram.createSocket('udp4');
  await new Promise<void>((r) => blocker.bind(0, '127.0.0.1', r));
  const proxyPort = blocker.address().port;
  const port = 40000 + Math.floor(Math.random() * 10000);
  const server = new DhcpServer({
    config: dhcpConfigSchema.parse({ enabled: true, mode: 'proxy', serverAddress: '127.0.0.1', listen: '127.0.0.1', port, proxyPort }),
    log: silentLogger(), registry: new Registry(), leases: new MemoryLeaseStore(), hosts: { byMac: () => undefined },
    boot: { httpBase: 'http://127.0.0.1:8080', tftpServer: '127.0.0.1' },
    socketFactory: () => dgram.createSocket({ type: 'udp4' }), // no SO_REUSEADDR: a second bind conflicts
  });
  try {
    await assert.rejects(server.start(), /EADDRINUSE/);
    // the first port was bound and must be free again: an exclusive bind succeeds
    const probe = dgram.createSocket('udp4');
    await new Promise<void>((res, rej) => (probe.once('error', rej), probe.bind(port, '127.0.0.1', () => res())));
    probe.close();
  } finally {
    await server.stop(); // idempotent after a failed start; closes anything a broken start() left
    blocker.close();
  }
});

function proxyServer(socketFactory?: () => dgram.Socket) {
  const port = 40000 + Math.floor(Math.random() * 10000);
  const registry = new Registry();
  const server = new DhcpServer({
    config: dhcpConfigSchema.parse({ enabled: true, mode: 'proxy', serverAddress: '127.0.0.1', listen: '127.0.0.1', port, proxyPort: port + 2, clientPort: port + 1, netmask: '255.0.0.0' }),
    log: silentLogger(), registry, leases: new MemoryLeaseStore(), hosts: { byMac: () => ({ name: 'pxe1' }) },
    boot: { httpBase: 'http://127.0.0.1:8080', tftpServer: '127.0.0.1' }, socketFactory,
  });
  return { server, registry, proxyPort: port + 2 };
}

/** A UEFI PXE client's boot-server REQUEST (what it sends to 4011 once it has an address). */
function pxe4011(xid: number): Buffer {
  const p = newRequest('52:54:00:12:00:09', xid);
  p.ciaddr = '127.0.0.1';
  p.options.set(Opt.MESSAGE_TYPE, Buffer.from([3]));
  p.options.set(Opt.VENDOR_CLASS, Buffer.from('PXEClient:Arch:00007:UNDI:003016'));
  p.options.set(Opt.CLIENT_ARCH, Buffer.from([0, 7]));
  return encode(p);
}

async function ask4011(proxyPort: number, xid: number, waitMs = 5000): Promise<Buffer> {
  const c = dgram.createSocket('udp4');
  await new Promise<void>((r) => c.bind(0, '127.0.0.1', r));
  try {
    const got = new Promise<Buffer>((r, j) => {
      const t = setTimeout(() => j(new Error(`no reply within ${waitMs} ms`)), waitMs);
      c.once('message', (m) => (clearTimeout(t), r(m)));
    });
    c.send(pxe4011(xid), proxyPort, '127.0.0.1');
    return await got;
  } finally {
    c.close();
  }
}

test('server (proxy): a 4011 request from UDP source port 0 is dropped, not answered; the server keeps serving', { skip: needsRoot('raw sockets') }, async () => {
  // real port-0 datagrams (raw socket, loopback, root): the answer would go to the source
  // port, and dgram's send() throws for port 0 — before the fix, out of the socket handler
  const { server, registry, proxyPort } = proxyServer();
  await server.start();
  try {
    await sendRawUdp(proxyPort, [pxe4011(1), pxe4011(2)]);
    for (let i = 0; i < 100 && !/ignore-source-port-0"} 2/.test(await registry.getSingleMetricAsString('fleetboot_dhcp_decisions_total')); i++) await new Promise((r) => setTimeout(r, 10));
    assert.match(await registry.getSingleMetricAsString('fleetboot_dhcp_decisions_total'), /decision="ignore-source-port-0"} 2/);
    const reply = decode(await ask4011(proxyPort, 3));
    assert.equal(reply.xid, 3);
    assert.equal(reply.options.get(Opt.BOOTFILE)?.toString(), 'snponly.efi');
  } finally {
    await server.stop();
  }
});

test('server: a reply whose send() throws synchronously is counted as a send error; the next one is answered', async () => {
  let throwNext = 0;
  const factory = () => {
    const s = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    const send = s.send.bind(s) as (...a: unknown[]) => void;
    (s as unknown as { send: (...a: unknown[]) => void }).send = (...a: unknown[]) => {
      if (throwNext > 0 && throwNext--) throw Object.assign(new RangeError('Port should be > 0 and < 65536'), { code: 'ERR_SOCKET_BAD_PORT' });
      send(...a);
    };
    return s;
  };
  const { server, registry, proxyPort } = proxyServer(factory);
  await server.start();
  try {
    throwNext = 1;
    await assert.rejects(ask4011(proxyPort, 4, 500), /no reply/);
    assert.match(await registry.getSingleMetricAsString('fleetboot_dhcp_send_errors_total'), /fleetboot_dhcp_send_errors_total 1/);
    assert.equal(decode(await ask4011(proxyPort, 5)).xid, 5);
  } finally {
    await server.stop();
  }
});

test('server (proxy): only network-boot clients are reported as discovered, not the other devices on the LAN', async () => {
  const port = 40000 + Math.floor(Math.random() * 10000);
  const seen: string[] = [];
  const server = new DhcpServer({
    config: dhcpConfigSchema.parse({ enabled: true, mode: 'proxy', serverAddress: '127.0.0.1', listen: '127.0.0.1', port, proxyPort: port + 2, clientPort: port + 1, netmask: '255.0.0.0', unknownPolicy: 'discover' }),
    log: silentLogger(), registry: new Registry(), leases: new MemoryLeaseStore(), hosts: { byMac: () => undefined },
    boot: { httpBase: 'http://127.0.0.1:8080', tftpServer: '127.0.0.1' }, onDiscovered: (c) => seen.push(c.mac),
  });
  await server.start();
  try {
    // a laptop's DISCOVER (no PXE vendor class): ignored, and not recorded
    const laptop = newRequest('52:54:00:77:00:01', 11);
    laptop.options.set(Opt.MESSAGE_TYPE, Buffer.from([1]));
    laptop.options.set(Opt.VENDOR_CLASS, Buffer.from('android-dhcp-14'));
    const c = dgram.createSocket('udp4');
    await new Promise<void>((r) => c.bind(0, '127.0.0.1', r));
    c.send(encode(laptop), port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 100));
    c.close();
    assert.deepEqual(seen, []);
    // an unknown UEFI PXE client asking the boot server: answered and recorded
    const reply = decode(await ask4011(port + 2, 12));
    assert.equal(reply.xid, 12);
    assert.deepEqual(seen, ['52:54:00:12:00:09']);
  } finally {
    await server.stop();
  }
});

test('server: with only `interface`, its address and netmask are used (lo: 127.0.0.1/8)', async () => {
  const port = 40000 + Math.floor(Math.random() * 10000);
  const registry = new Registry();
  const server = new DhcpServer({
    config: dhcpConfigSchema.parse({ enabled: true, interface: 'lo', listen: '127.0.0.1', port, clientPort: port + 1, pool: { start: '127.0.1.1', end: '127.0.1.50' }, unknownPolicy: 'address-only' }),
    log: silentLogger(), registry, leases: new MemoryLeaseStore(), hosts: { byMac: () => undefined },
    boot: { httpBase: 'http://127.0.0.1:8080', tftpServer: '127.0.0.1' },
  });
  await server.start();
  const client = dgram.createSocket('udp4');
  try {
    assert.equal(server.serverAddress, '127.0.0.1');
    assert.equal(server.netmask, '255.0.0.0');
    // 127.1.2.3 is off a /24 around 127.0.0.1 (the old default: dropped as off-subnet), on the /8
    await new Promise<void>((r) => client.bind(port + 1, '127.1.2.3', r));
    const got = new Promise<Buffer>((r, j) => {
      const t = setTimeout(() => j(new Error('no reply within 5 s')), 5000);
      client.once('message', (m) => (clearTimeout(t), r(m)));
    });
    const d = newRequest('52:54:00:12:00:02', 78);
    d.ciaddr = '127.1.2.3';
    d.options.set(Opt.MESSAGE_TYPE, Buffer.from([8])); // INFORM
    client.send(encode(d), port, '127.0.0.1');
    const reply = decode(await got);
    assert.equal(reply.xid, 78);
    assert.deepEqual([...reply.options.get(Opt.SUBNET_MASK)!], [255, 0, 0, 0]);
  } finally {
    client.close();
    await server.stop();
  }
});

test('server: a pool that spans subnets of the interface mask fails start()', async () => {
  const server = new DhcpServer({
    config: dhcpConfigSchema.parse({ enabled: true, interface: 'lo', listen: '127.0.0.1', port: 40000 + Math.floor(Math.random() * 10000), pool: { start: '127.0.1.1', end: '128.0.0.5' } }),
    log: silentLogger(), registry: new Registry(), leases: new MemoryLeaseStore(), hosts: { byMac: () => undefined },
    boot: { httpBase: 'http://127.0.0.1:8080', tftpServer: '127.0.0.1' },
  });
  await assert.rejects(server.start(), /spans more than one subnet of 255\.0\.0\.0/);
  await server.stop();
});
