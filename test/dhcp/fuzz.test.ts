// Fuzz: mutated real packets and random bytes. decode() may only ever throw DecodeError, and
// whatever decodes must go through the engine (both modes) and encode its reply without
// throwing. Seeded PRNG so a failure is reproducible (the seed is in the assertion message).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode, encode, DecodeError, type DhcpPacket } from '../../src/dhcp/codec.js';
import { dhcpConfigSchema } from '../../src/dhcp/config.js';
import { DhcpEngine } from '../../src/dhcp/engine.js';
import { MemoryLeaseStore } from '../../src/dhcp/leases.js';
import * as O from '../../src/dhcp/options.js';
import { classify } from '../../src/dhcp/classify.js';
import { golden } from './golden-packets.js';

function prng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x100000000;
  };
}

const engines = (['full', 'proxy'] as const).map(
  (mode) =>
    new DhcpEngine({
      config: dhcpConfigSchema.parse({ enabled: true, mode, serverAddress: '10.0.2.2', pool: { start: '10.0.2.100', end: '10.0.2.120' }, unknownPolicy: 'discover', dns: ['10.0.2.3'] }),
      serverAddress: '10.0.2.2',
      leases: new MemoryLeaseStore(),
      hosts: { byMac: (m) => (m.endsWith('01') ? { name: 'h1', address: '10.0.2.50' } : undefined) },
      boot: { httpBase: 'http://10.0.2.2:8080', tftpServer: '10.0.2.2' },
      now: () => 5_000_000,
    }),
);

function exercise(p: DhcpPacket, port: number) {
  // every getter on hostile input
  O.getMessageType(p), O.getRequestedIp(p), O.getServerId(p), O.getParamList(p), O.getMaxMessageSize(p);
  O.getVendorClass(p), O.getClientId(p), O.getUserClasses(p), O.getClientArch(p), O.getClientNdi(p);
  O.getClientUuid(p), O.getIpxeEncap(p), O.getRelayAgent(p), O.getHostname(p), classify(p);
  for (const e of engines) {
    const out = e.handle({ packet: p, port, from: { address: '10.0.2.77', port: 68 } });
    if (out.reply) {
      const back = decode(encode(out.reply.packet));
      assert.equal(back.op, 2);
    }
  }
}

test('fuzz: mutated golden packets never crash decode or the engine', () => {
  const seeds = [1, 2, 3, 0xdecafbad];
  let decoded = 0;
  let rejected = 0;
  for (const seed of seeds) {
    const rnd = prng(seed);
    for (const [name, g] of Object.entries(golden)) {
      const orig = Buffer.from(g.hex, 'hex');
      for (let i = 0; i < 400; i++) {
        let b = Buffer.from(orig);
        const flips = 1 + Math.floor(rnd() * 8);
        for (let f = 0; f < flips; f++) {
          // bias mutations into the options area, where the parsing is
          const at = rnd() < 0.8 ? 240 + Math.floor(rnd() * (b.length - 240)) : Math.floor(rnd() * b.length);
          b[at] = Math.floor(rnd() * 256);
        }
        if (rnd() < 0.2) b = b.subarray(0, Math.floor(rnd() * b.length));
        if (rnd() < 0.1) b = Buffer.concat([b, Buffer.from([52, 1, Math.floor(rnd() * 4)])]);
        let p: DhcpPacket;
        try {
          p = decode(b);
        } catch (err) {
          assert.ok(err instanceof DecodeError, `seed ${seed} ${name} #${i}: ${(err as Error).stack}`);
          rejected++;
          continue;
        }
        decoded++;
        try {
          exercise(p, rnd() < 0.5 ? 67 : 4011);
        } catch (err) {
          assert.fail(`seed ${seed} ${name} #${i} (${b.toString('hex')}): ${(err as Error).stack}`);
        }
      }
    }
  }
  assert.ok(decoded > 1000 && rejected > 100, `decoded ${decoded}, rejected ${rejected}`);
});

test('fuzz: random bytes with a valid header and cookie', () => {
  const rnd = prng(42);
  for (let i = 0; i < 3000; i++) {
    const len = 236 + Math.floor(rnd() * 400);
    const b = Buffer.alloc(len);
    for (let j = 0; j < len; j++) b[j] = Math.floor(rnd() * 256);
    b[0] = 1 + Math.floor(rnd() * 2);
    b[2] = Math.floor(rnd() * 17);
    if (len >= 240 && rnd() < 0.9) b.writeUInt32BE(0x63825363, 236);
    try {
      exercise(decode(b), 67);
    } catch (err) {
      assert.ok(err instanceof DecodeError, `#${i} ${b.toString('hex')}: ${(err as Error).stack}`);
    }
  }
});
