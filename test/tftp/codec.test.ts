import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode, encode, dataHeader, type Packet } from '../../src/tftp/codec.js';
import { negotiate } from '../../src/tftp/options.js';
import { NetasciiSource, BufferSource } from '../../src/tftp/source.js';
import { tftpConfigSchema } from '../../src/tftp/config.js';
import { rng } from './client.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const z = (s: string) => Buffer.from(s + '\0', 'latin1');

test('codec: golden packets decode and re-encode byte for byte', () => {
  const golden: Array<[Buffer, Packet]> = [
    // EDK2's size probe: RRQ "snponly.efi" octet tsize 0
    [Buffer.concat([hex('0001'), z('snponly.efi'), z('octet'), z('tsize'), z('0')]), { op: 'rrq', filename: 'snponly.efi', mode: 'octet', options: [['tsize', '0']] }],
    // its real request
    [
      Buffer.concat([hex('0001'), z('snponly.efi'), z('octet'), z('blksize'), z('1468'), z('windowsize'), z('4')]),
      { op: 'rrq', filename: 'snponly.efi', mode: 'octet', options: [['blksize', '1468'], ['windowsize', '4']] },
    ],
    [Buffer.concat([hex('0002'), z('up.bin'), z('netascii')]), { op: 'wrq', filename: 'up.bin', mode: 'netascii', options: [] }],
    [hex('0003 0001 68656c6c6f'), { op: 'data', block: 1, data: Buffer.from('hello') }],
    [hex('0003 ffff'), { op: 'data', block: 65535, data: Buffer.alloc(0) }],
    [hex('0004 0000'), { op: 'ack', block: 0 }],
    [hex('0004 abcd'), { op: 'ack', block: 0xabcd }],
    [Buffer.concat([hex('0005 0008'), z('tsize probe')]), { op: 'error', code: 8, message: 'tsize probe' }],
    [Buffer.concat([hex('0006'), z('tsize'), z('33554432'), z('blksize'), z('1468')]), { op: 'oack', options: [['tsize', '33554432'], ['blksize', '1468']] }],
  ];
  for (const [bytes, packet] of golden) {
    const d = decode(bytes);
    assert.ok(d.ok, `decodes ${bytes.toString('hex')}`);
    assert.deepEqual(d.packet, packet);
    assert.deepEqual(encode(packet), bytes, `encodes ${packet.op}`);
  }
  assert.deepEqual(dataHeader(0x1234), hex('0003 1234'));
});

test('codec: random packets round-trip', () => {
  const r = rng(7);
  const word = () => Array.from({ length: 1 + Math.floor(r() * 12) }, () => String.fromCharCode(1 + Math.floor(r() * 254))).join('');
  for (let i = 0; i < 500; i++) {
    const kind = Math.floor(r() * 5);
    const options = Array.from({ length: Math.floor(r() * 4) }, () => [word(), r() < 0.2 ? '' : word()] as [string, string]);
    const p: Packet =
      kind === 0
        ? { op: r() < 0.5 ? 'rrq' : 'wrq', filename: word(), mode: word(), options }
        : kind === 1
          ? { op: 'data', block: Math.floor(r() * 65536), data: Buffer.from(word(), 'latin1') }
          : kind === 2
            ? { op: 'ack', block: Math.floor(r() * 65536) }
            : kind === 3
              ? { op: 'error', code: Math.floor(r() * 9), message: r() < 0.2 ? '' : word() }
              : { op: 'oack', options };
    const d = decode(encode(p));
    assert.ok(d.ok);
    assert.deepEqual(d.packet, p);
  }
});

test('codec: malformed input is a result, never an exception', () => {
  const bad = [
    Buffer.alloc(0),
    hex('00'), // the 1-byte datagram that crashes the npm tftp package
    hex('ff'),
    hex('0000'), // opcode 0
    hex('0007'), // unknown opcode
    hex('0001'), // RRQ without filename
    Buffer.concat([hex('0001'), Buffer.from('file')]), // no NUL
    Buffer.concat([hex('0001'), z('file')]), // no mode
    Buffer.concat([hex('0001'), z('file'), Buffer.from('oct')]), // truncated mode
    Buffer.concat([hex('0001'), z(''), z('octet')]), // empty filename
    Buffer.concat([hex('0001'), z('file'), z('octet'), z('blksize')]), // option without value
    Buffer.concat([hex('0001'), z('file'), z('octet'), z('blksize'), Buffer.from('14')]), // truncated value
    hex('0003 00'), // short DATA
    hex('0004 00'), // short ACK
    hex('0005 00'), // short ERROR
    Buffer.concat([hex('0006'), z('tsize')]), // OACK option without value
  ];
  for (const b of bad) {
    const d = decode(b);
    assert.equal(d.ok, false, `rejects ${b.toString('hex')}`);
  }
  // lenient where real stacks are sloppy: NUL padding after a request, padded ACK, unterminated error text
  assert.ok(decode(Buffer.concat([hex('0001'), z('f'), z('octet'), Buffer.alloc(6)])).ok);
  assert.deepEqual(decode(hex('0004 0005 0000')), { ok: true, packet: { op: 'ack', block: 5 } });
  assert.deepEqual(decode(Buffer.concat([hex('0005 0001'), Buffer.from('gone')])), { ok: true, packet: { op: 'error', code: 1, message: 'gone' } });
  // every prefix of every golden-ish packet and random garbage: no throw
  const r = rng(3);
  for (let i = 0; i < 5000; i++) {
    const b = Buffer.from(Array.from({ length: Math.floor(r() * 64) }, () => (r() < 0.3 ? 0 : Math.floor(r() * 256))));
    if (r() < 0.5 && b.length >= 2) b[0] = 0, (b[1] = 1 + Math.floor(r() * 6));
    assert.doesNotThrow(() => decode(b));
  }
  assert.throws(() => encode({ op: 'ack', block: 65536 }), RangeError);
  assert.throws(() => encode({ op: 'error', code: 0, message: 'a\0b' }), RangeError);
});

test('options: RFC 2347/2348/2349/7440 negotiation', () => {
  const limits = { maxBlksize: 1468, maxWindowsize: 64, timeoutMs: 1000 };
  // nothing accepted -> no OACK; unknown options ignored
  let n = negotiate([['multicast', ''], ['rollover', '0'], ['blksize', 'abc']], limits, 100);
  assert.deepEqual(n.accepted, []);
  assert.equal(n.blksize, 512);
  // capped by config, case kept, first duplicate wins, tsize answered with the size
  n = negotiate([['BLKSIZE', '65464'], ['blksize', '8'], ['tsize', '0'], ['windowsize', '500'], ['timeout', '3']], limits, 33554432);
  assert.deepEqual(n.accepted, [['BLKSIZE', '1468'], ['tsize', '33554432'], ['windowsize', '64'], ['timeout', '3']]);
  assert.equal(n.blksize, 1468);
  assert.equal(n.windowsize, 64);
  assert.equal(n.timeoutMs, 3000);
  // out-of-range values are ignored, not clamped up
  n = negotiate([['blksize', '7'], ['timeout', '0'], ['timeout', '256'], ['windowsize', '0']], limits, 1);
  assert.deepEqual(n.accepted, []);
  n = negotiate([['blksize', '70000']], { ...limits, maxBlksize: 65464 }, 1);
  assert.deepEqual(n.accepted, [['blksize', '65464']]);
});

test('config: defaults', () => {
  const c = tftpConfigSchema.parse({});
  assert.deepEqual(c, { enabled: true, port: 69, maxBlksize: 1468, maxWindowsize: 64, timeoutMs: 1000, retries: 6, maxTransfers: 256 });
  assert.equal(tftpConfigSchema.safeParse({ maxBlksize: 65465 }).success, false);
  assert.equal(tftpConfigSchema.safeParse({ bogus: 1 }).success, false);
});

test('netascii: LF -> CRLF, CR -> CR NUL, streamed in order with release', async () => {
  const raw = Buffer.from('a\nb\rc\r\nd');
  assert.deepEqual(NetasciiSource.convert(raw), Buffer.from('a\r\nb\r\0c\r\0\r\nd'));
  const big = Buffer.from('x\n'.repeat(100_000));
  const s = new NetasciiSource(new BufferSource(big));
  const out: Buffer[] = [];
  for (let off = 0; ; off += 512) {
    const b = await s.read(off, 512);
    out.push(Buffer.from(b));
    s.release(off);
    if (b.length < 512) break;
  }
  assert.deepEqual(Buffer.concat(out), Buffer.from('x\r\n'.repeat(100_000)));
});
