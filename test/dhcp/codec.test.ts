import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode, encode, newRequest, replyTo, DecodeError, MIN_PACKET, HEADER_LEN, MAGIC_COOKIE } from '../../src/dhcp/codec.js';
import {
  Opt, MessageType, getMessageType, getParamList, getClientArch, getUserClasses, getVendorClass, getRelayAgent, getClientNdi,
  getClientUuid, getIpxeEncap, getMaxMessageSize, getClientId, getRequestedIp, getServerId, pxeVendorOptions, decodeSubOptions,
  encodeSubOptions, ipToBuf, macOf,
} from '../../src/dhcp/options.js';

function sample() {
  const p = newRequest('52:54:00:12:34:56', 0xdeadbeef);
  p.secs = 4;
  p.flags = 0x8000;
  p.hops = 1;
  p.ciaddr = '10.0.0.5';
  p.giaddr = '10.0.0.254';
  p.sname = 'boot-server';
  p.file = 'pxelinux.0';
  p.options.set(Opt.MESSAGE_TYPE, Buffer.from([MessageType.REQUEST]));
  p.options.set(Opt.REQUESTED_IP, ipToBuf('10.0.0.9'));
  p.options.set(Opt.SERVER_ID, ipToBuf('10.0.0.1'));
  p.options.set(Opt.PARAM_LIST, Buffer.from([1, 3, 6, 15, 66, 67, 175]));
  p.options.set(Opt.MAX_SIZE, Buffer.from([0x05, 0xc0]));
  p.options.set(Opt.CLIENT_ID, Buffer.from('0152540012345 6'.replace(' ', ''), 'hex'));
  p.options.set(Opt.RELAY_AGENT, encodeSubOptions([[1, Buffer.from('port7')], [2, Buffer.from('sw1')]], false));
  return p;
}

test('codec: round trip keeps every header field and option', () => {
  const p = sample();
  const back = decode(encode(p));
  for (const k of ['op', 'htype', 'hlen', 'hops', 'xid', 'secs', 'flags', 'ciaddr', 'yiaddr', 'siaddr', 'giaddr', 'sname', 'file'] as const) {
    assert.deepEqual(back[k], p[k], k);
  }
  assert.deepEqual(back.chaddr, p.chaddr);
  assert.deepEqual([...back.options.keys()].sort(), [...p.options.keys()].sort());
  for (const [k, v] of p.options) assert.deepEqual(back.options.get(k), v, `option ${k}`);
  assert.equal(getMessageType(back), MessageType.REQUEST);
  assert.equal(getRequestedIp(back), '10.0.0.9');
  assert.equal(getServerId(back), '10.0.0.1');
  assert.deepEqual(getParamList(back), [1, 3, 6, 15, 66, 67, 175]);
  assert.equal(getMaxMessageSize(back), 1472);
  assert.equal(getClientId(back), '01525400123456');
  assert.equal(getRelayAgent(back)?.get(1)?.toString(), 'port7');
  assert.equal(macOf(back), '52:54:00:12:34:56');
});

test('codec: message type is written first and END terminates', () => {
  const p = newRequest('52:54:00:00:00:01', 1);
  p.options.set(Opt.HOSTNAME, Buffer.from('x'));
  p.options.set(Opt.MESSAGE_TYPE, Buffer.from([1]));
  const b = encode(p);
  assert.equal(b.readUInt32BE(HEADER_LEN), MAGIC_COOKIE);
  assert.deepEqual([...b.subarray(240, 243)], [53, 1, 1]);
  assert.deepEqual([...b.subarray(243, 247)], [12, 1, 0x78, 255]);
});

test('codec: replies are padded to the 300-byte BOOTP minimum', () => {
  const r = replyTo(sample());
  r.options.set(Opt.MESSAGE_TYPE, Buffer.from([MessageType.OFFER]));
  const b = encode(r);
  assert.equal(b.length, MIN_PACKET);
  assert.equal(decode(b).op, 2);
  // a large reply is not truncated
  r.options.set(Opt.DOMAIN, Buffer.alloc(200, 0x61));
  assert.ok(encode(r).length > MIN_PACKET);
});

test('codec: RFC 3396 long options are split on encode and concatenated on decode', () => {
  const p = newRequest('52:54:00:00:00:02', 2);
  p.options.set(Opt.MESSAGE_TYPE, Buffer.from([1]));
  const long = Buffer.alloc(600);
  for (let i = 0; i < long.length; i++) long[i] = i & 0xff;
  p.options.set(Opt.VENDOR_SPECIFIC, long);
  const b = encode(p);
  // 600 = 255 + 255 + 90: three instances of option 43
  let count = 0;
  for (let i = 240; i < b.length && b[i] !== 255; ) {
    if (b[i] === 43) count++;
    i += 2 + b[i + 1];
  }
  assert.equal(count, 3);
  assert.deepEqual(decode(b).options.get(Opt.VENDOR_SPECIFIC), long);
});

test('codec: split instances that are not adjacent still concatenate (RFC 3396 §6)', () => {
  const p = newRequest('52:54:00:00:00:03', 3);
  const b = Buffer.concat([encode(p).subarray(0, 240), Buffer.from([53, 1, 1, 77, 2, 0x61, 0x62, 12, 1, 0x68, 77, 1, 0x63, 255])]);
  assert.equal(decode(b).options.get(Opt.USER_CLASS)?.toString(), 'abc');
});

test('codec: option overload (52) pulls options out of file and sname', () => {
  const p = newRequest('52:54:00:00:00:04', 4);
  const base = encode(p);
  const buf = Buffer.alloc(240 + 12);
  base.copy(buf, 0, 0, 240);
  // options area: 53=1, 52=3 (both), 60 first part, END
  Buffer.from([53, 1, 1, 52, 1, 3, 60, 3, 0x50, 0x58, 0x45, 255]).copy(buf, 240);
  // file area (108..235) carries the rest of 60 and option 12; sname (44..107) carries 61
  Buffer.from([60, 6, 0x43, 0x6c, 0x69, 0x65, 0x6e, 0x74, 12, 2, 0x68, 0x31, 255]).copy(buf, 108);
  Buffer.from([61, 2, 1, 2, 255]).copy(buf, 44);
  const d = decode(buf.subarray(0, 252));
  assert.equal(getVendorClass(d), 'PXEClient');
  assert.equal(d.options.get(Opt.HOSTNAME)?.toString(), 'h1');
  assert.deepEqual(d.options.get(Opt.CLIENT_ID), Buffer.from([1, 2]));
  assert.equal(d.file, '');
  assert.equal(d.sname, '');
  assert.equal(d.options.has(Opt.OVERLOAD), false);
});

test('codec: plain BOOTP (no cookie) decodes with no options', () => {
  const b = encode(sample()).subarray(0, HEADER_LEN);
  const d = decode(b);
  assert.equal(d.dhcp, false);
  assert.equal(d.options.size, 0);
  assert.equal(d.file, 'pxelinux.0');
});

test('codec: malformed input raises DecodeError', () => {
  assert.throws(() => decode(Buffer.alloc(10)), DecodeError);
  const b = encode(sample());
  const badHlen = Buffer.from(b);
  badHlen[2] = 17;
  assert.throws(() => decode(badHlen), DecodeError);
  const badOp = Buffer.from(b);
  badOp[0] = 3;
  assert.throws(() => decode(badOp), DecodeError);
  const trunc = Buffer.concat([b.subarray(0, 240), Buffer.from([53, 1, 1, 60, 40, 1, 2])]);
  assert.throws(() => decode(trunc), DecodeError);
  const noLen = Buffer.concat([b.subarray(0, 240), Buffer.from([53, 1, 1, 60])]);
  assert.throws(() => decode(noLen), DecodeError);
});

test('codec: a missing END is tolerated', () => {
  const b = Buffer.concat([encode(newRequest('52:54:00:00:00:05', 5)).subarray(0, 240), Buffer.from([53, 1, 3])]);
  assert.equal(getMessageType(decode(b)), 3);
});

test('options: PXE option 43 carries discovery control 8 and an END', () => {
  const b = pxeVendorOptions();
  assert.deepEqual([...b], [6, 1, 8, 255]);
  assert.equal(decodeSubOptions(b)?.get(6)?.[0], 8);
  assert.equal(decodeSubOptions(Buffer.from([6, 5, 1])), undefined);
  assert.throws(() => encodeSubOptions([[1, Buffer.alloc(256)]]));
});

test('options: typed getters reject bad lengths instead of throwing', () => {
  const p = newRequest('52:54:00:00:00:06', 6);
  p.options.set(Opt.CLIENT_ARCH, Buffer.from([0]));
  p.options.set(Opt.CLIENT_NDI, Buffer.from([1, 2]));
  p.options.set(Opt.CLIENT_UUID, Buffer.from([0, 1]));
  p.options.set(Opt.REQUESTED_IP, Buffer.from([10, 0]));
  p.options.set(Opt.MAX_SIZE, Buffer.from([1]));
  assert.equal(getClientArch(p), undefined);
  assert.equal(getClientNdi(p), undefined);
  assert.equal(getClientUuid(p), undefined);
  assert.equal(getRequestedIp(p), undefined);
  assert.equal(getMaxMessageSize(p), undefined);
  assert.equal(getMessageType(p), undefined);
});

test('options: user class accepts RFC 3004 lists and bare iPXE strings', () => {
  const p = newRequest('52:54:00:00:00:07', 7);
  p.options.set(Opt.USER_CLASS, Buffer.from('iPXE'));
  assert.deepEqual(getUserClasses(p), ['iPXE']);
  p.options.set(Opt.USER_CLASS, Buffer.from([4, 0x69, 0x50, 0x58, 0x45, 2, 0x61, 0x62]));
  assert.deepEqual(getUserClasses(p), ['iPXE', 'ab']);
  p.options.set(Opt.IPXE_ENCAP, Buffer.from([0x10, 1, 1, 0x13, 1, 1]));
  assert.equal(getIpxeEncap(p)?.get(0x13)?.[0], 1);
});
