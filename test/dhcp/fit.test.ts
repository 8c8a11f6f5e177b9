// Replies within the client's maximum message size (option 57; 576-byte datagrams without
// it): option overload into file/sname first, then optional options dropped; through the
// real server socket path as well.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { Registry } from 'prom-client';
import { decode, encode, newRequest, replyTo, type DhcpPacket } from '../../src/dhcp/codec.js';
import { dhcpConfigSchema } from '../../src/dhcp/config.js';
import { OPTIONAL_REPLY_OPTIONS } from '../../src/dhcp/engine.js';
import { fitReply, maxReplyLength } from '../../src/dhcp/fit.js';
import { MemoryLeaseStore } from '../../src/dhcp/leases.js';
import { DhcpServer } from '../../src/dhcp/server.js';
import { ipToBuf, ipsToBuf, Opt, u16, u32 } from '../../src/dhcp/options.js';
import { silentLogger } from '../../src/log.js';

const req = (max?: number) => {
  const p = newRequest('52:54:00:12:34:56', 9);
  if (max !== undefined) p.options.set(Opt.MAX_SIZE, u16(max));
  return p;
};

function bigReply(urlLen: number, relayLen: number): DhcpPacket {
  const r = replyTo(req());
  r.yiaddr = '10.0.0.5';
  r.options.set(Opt.MESSAGE_TYPE, Buffer.from([5]));
  r.options.set(Opt.SERVER_ID, ipToBuf('10.0.0.1'));
  r.options.set(Opt.LEASE_TIME, u32(3600));
  r.options.set(Opt.RENEWAL, u32(1800));
  r.options.set(Opt.REBINDING, u32(3150));
  r.options.set(Opt.SUBNET_MASK, ipToBuf('255.255.255.0'));
  r.options.set(Opt.ROUTER, ipToBuf('10.0.0.1'));
  r.options.set(Opt.DNS, ipsToBuf(['10.0.0.2', '10.0.0.3', '10.0.0.4']));
  r.options.set(Opt.DOMAIN, Buffer.from('provisioning.example.test'));
  r.options.set(Opt.HOSTNAME, Buffer.from('a-rather-long-host-name-0042'));
  r.options.set(Opt.BROADCAST, ipToBuf('10.0.0.255'));
  r.options.set(Opt.BOOTFILE, Buffer.from(`http://10.0.0.1:8080/${'x'.repeat(urlLen - 21)}`));
  r.options.set(Opt.RELAY_AGENT, Buffer.alloc(relayLen, 7));
  return r;
}

const optionsOf = (b: Buffer) => decode(b).options;

test('fit: the maximum is option 57 minus IP/UDP headers; absent or illegal (< 576) means 548', () => {
  assert.equal(maxReplyLength(req()), 548);
  assert.equal(maxReplyLength(req(1500)), 1472);
  assert.equal(maxReplyLength(req(576)), 548);
  assert.equal(maxReplyLength(req(300)), 548);
});

test('fit: a reply that fits is encoded as is', () => {
  const r = bigReply(40, 10);
  const f = fitReply(r, 548, OPTIONAL_REPLY_OPTIONS);
  assert.deepEqual(f, { buf: encode(r), overload: 0, dropped: [], fits: true });
});

test('fit: too big for 548 bytes -> options overload into file and sname, nothing lost', () => {
  const r = bigReply(230, 60);
  assert.ok(encode(r).length > 548, `test reply is ${encode(r).length} bytes`);
  const f = fitReply(r, 548, OPTIONAL_REPLY_OPTIONS);
  assert.equal(f.fits, true);
  assert.ok(f.buf.length <= 548, `${f.buf.length}`);
  assert.ok(f.overload > 0);
  assert.deepEqual(f.dropped, []);
  const back = decode(f.buf);
  assert.deepEqual(new Map([...back.options].sort()), new Map([...r.options].sort()), 'every option survives (52 is consumed by decode)');
  assert.equal(back.options.get(Opt.MESSAGE_TYPE)![0], 5);
  assert.equal(f.buf[240], Opt.MESSAGE_TYPE, '53 stays first in the options field');
  // a client that allows 1500 gets the plain encoding
  assert.equal(fitReply(r, 1472, OPTIONAL_REPLY_OPTIONS).overload, 0);
});

test('fit: when overload is not enough, optional options go, least important first', () => {
  const r = bigReply(250, 118);
  const f = fitReply(r, 548, OPTIONAL_REPLY_OPTIONS);
  assert.equal(f.fits, true);
  assert.ok(f.buf.length <= 548);
  assert.ok(f.dropped.length > 0);
  assert.deepEqual(f.dropped, OPTIONAL_REPLY_OPTIONS.filter((c) => r.options.has(c)).slice(0, f.dropped.length), 'dropped in priority order');
  const back = optionsOf(f.buf);
  for (const c of f.dropped) assert.equal(back.has(c), false);
  for (const c of [Opt.MESSAGE_TYPE, Opt.SERVER_ID, Opt.LEASE_TIME, Opt.SUBNET_MASK, Opt.ROUTER, Opt.DNS, Opt.BOOTFILE, Opt.RELAY_AGENT]) assert.deepEqual(back.get(c), r.options.get(c), `option ${c} kept`);
});

test('fit: an essential option that cannot fit is sent anyway and reported', () => {
  const r = bigReply(600, 10);
  const f = fitReply(r, 548, OPTIONAL_REPLY_OPTIONS);
  assert.equal(f.fits, false);
  assert.equal(optionsOf(f.buf).get(Opt.BOOTFILE)?.length, 600);
});

test('server: an iPXE reply with a long boot URL stays within 548 bytes for a client without option 57', async () => {
  const port = 40000 + Math.floor(Math.random() * 10000);
  const base = `http://127.0.0.1:8080/${'p'.repeat(200)}`;
  const server = new DhcpServer({
    config: dhcpConfigSchema.parse({
      enabled: true, serverAddress: '127.0.0.1', listen: '127.0.0.1', port, clientPort: port + 1, netmask: '255.0.0.0',
      pool: { start: '127.0.1.1', end: '127.0.1.50' }, router: '127.0.0.1', dns: ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'], domain: 'provisioning.example.test',
    }),
    log: silentLogger(), registry: new Registry(), leases: new MemoryLeaseStore(), hosts: { byMac: () => ({ name: 'a-rather-long-host-name-0042' }) },
    boot: { httpBase: base, tftpServer: '127.0.0.1' },
  });
  await server.start();
  const c = dgram.createSocket('udp4');
  try {
    await new Promise<void>((r) => c.bind(port + 1, '127.0.1.9', r));
    const ask = async (max?: number) => {
      const got = new Promise<Buffer>((r, j) => {
        const t = setTimeout(() => j(new Error('no reply')), 5000);
        c.once('message', (m) => (clearTimeout(t), r(m)));
      });
      const d = req(max);
      d.ciaddr = '127.0.1.9';
      d.options.set(Opt.MESSAGE_TYPE, Buffer.from([8])); // INFORM: answered to ciaddr
      d.options.set(Opt.USER_CLASS, Buffer.from('iPXE'));
      c.send(encode(d), port, '127.0.0.1');
      return got;
    };
    const small = await ask();
    assert.ok(small.length <= 548, `reply is ${small.length} bytes`);
    const opts = decode(small).options;
    assert.equal(opts.get(Opt.BOOTFILE)?.toString(), `${base}/boot.ipxe?mac=\${netX/mac}`);
    assert.equal(opts.get(Opt.DOMAIN)?.toString(), 'provisioning.example.test', 'fitted by overload, nothing dropped');
    const large = await ask(1500);
    assert.ok(large.length > 548, 'a client that allows more gets the plain reply');
  } finally {
    c.close();
    await server.stop();
  }
});
