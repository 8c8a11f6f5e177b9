// Golden packets: real firmware/client requests (golden-packets.ts, captured) and two
// hand-written ones for firmware we cannot run here (a physical EDK2 NIC ROM, UEFI HTTP boot).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode, encode, newRequest } from '../../src/dhcp/codec.js';
import { classify } from '../../src/dhcp/classify.js';
import {
  getClientArch, getClientNdi, getClientUuid, getIpxeEncap, getMaxMessageSize, getMessageType, getParamList, getServerId,
  getRequestedIp, getUserClasses, getVendorClass, Opt,
} from '../../src/dhcp/options.js';
import { golden } from './golden-packets.js';

const pkt = (name: string) => decode(Buffer.from(golden[name].hex, 'hex'));

test('golden: iPXE ROM (SeaBIOS) DISCOVER', () => {
  const p = pkt('ipxeSeabios');
  assert.equal(p.op, 1);
  assert.equal(p.xid, 0x162bb961);
  assert.equal(p.secs, 4);
  assert.equal(p.flags, 0);
  assert.equal(getMessageType(p), 1);
  assert.equal(getMaxMessageSize(p), 1472);
  assert.deepEqual(getClientArch(p), [0]);
  assert.deepEqual(getClientNdi(p), { type: 1, major: 2, minor: 1 });
  assert.equal(getVendorClass(p), 'PXEClient:Arch:00000:UNDI:002001');
  assert.deepEqual(getUserClasses(p), ['iPXE']); // bare string, not RFC 3004
  assert.ok(getParamList(p).includes(175));
  const enc = getIpxeEncap(p);
  assert.ok(enc && enc.size > 0, 'option 175 sub-options');
  assert.equal(getClientUuid(p)?.type, 0);
  assert.deepEqual(classify(p), {
    mac: '52:54:00:12:34:01', arch: 'bios', kind: 'ipxe', via: 'dhcp',
    vendorClass: 'PXEClient:Arch:00000:UNDI:002001', userClass: 'iPXE', archCode: 0,
  });
});

test('golden: iPXE REQUEST carries server id and requested address', () => {
  const p = pkt('ipxeSeabiosRequest');
  assert.equal(getMessageType(p), 3);
  assert.equal(getServerId(p), '10.0.2.2');
  assert.equal(getRequestedIp(p), '10.0.2.15');
  assert.equal(classify(p).kind, 'ipxe');
});

test('golden: OVMF/EDK2 PXE DISCOVER', () => {
  const p = pkt('edk2Pxe');
  assert.equal(p.flags, 0x8000, 'EDK2 sets the broadcast flag');
  assert.deepEqual(getClientArch(p), [7]);
  assert.equal(getVendorClass(p), 'PXEClient:Arch:00007:UNDI:003000');
  assert.equal(p.options.has(Opt.USER_CLASS), false);
  const c = classify(p);
  assert.equal(c.kind, 'pxe');
  assert.equal(c.arch, 'efi-x64');
  assert.equal(c.mac, '52:54:00:12:34:02');
});

test('golden: OVMF/EDK2 UEFI HTTP boot DISCOVER', () => {
  const p = pkt('edk2Http');
  assert.deepEqual(getClientArch(p), [16]);
  assert.equal(getVendorClass(p), 'HTTPClient:Arch:00016:UNDI:003000');
  const c = classify(p);
  assert.equal(c.kind, 'http-boot');
  assert.equal(c.arch, 'efi-x64');
});

test('golden: busybox udhcpc, dhclient and nmap DISCOVERs are "other"', () => {
  const u = pkt('udhcpc');
  assert.equal(getVendorClass(u), 'udhcp 1.35.0');
  assert.equal(classify(u).kind, 'other');
  assert.equal(classify(u).arch, 'unknown');
  const d = pkt('dhclient');
  assert.equal(getMessageType(d), 1);
  assert.equal(classify(d).kind, 'other');
  assert.equal(classify(d).mac, '52:54:00:cc:00:02');
  const n = pkt('nmap');
  assert.equal(getMessageType(n), 1);
  assert.equal(n.flags, 0x8000);
  assert.equal(classify(n).kind, 'other');
});

for (const name of Object.keys(golden)) {
  test(`golden: ${name} survives decode -> encode -> decode`, () => {
    const raw = Buffer.from(golden[name].hex, 'hex');
    const a = decode(raw);
    const b = decode(encode(a));
    assert.deepEqual({ ...b, options: [...b.options] }, { ...a, options: [...a.options] });
    assert.ok(encode(a).length >= 300);
    // these clients all put 53 first and use no PAD, so our encoding is byte-identical up to END
    assert.equal(encode(a).subarray(0, raw.length).toString('hex'), raw.toString('hex'));
  });
}

// Hand-written: a physical machine's EDK2-based NIC ROM (Intel X710 era firmware reports
// UNDI 3.16) and a UEFI HTTP boot client. Option order as the EDK2 source emits it:
// 53, 57, 55, 97, 94, 93, 60.
function edk2(vendorClass: string, arch: number, mac: string): Buffer {
  const vc = Buffer.from(vendorClass, 'latin1');
  const h =
    '01010600' + '11223344' + '0000' + '8000' + '00'.repeat(16) + mac.replace(/:/g, '') + '00'.repeat(10) +
    '00'.repeat(64 + 128) + '63825363' +
    '350101' + '390205c0' + '37230102030405060c0d0f111216171c28292a2b3233363a3b3c4243618081828384858687' +
    '6111' + '00' + '11'.repeat(16) + '5e03010310' + '5d02' + arch.toString(16).padStart(4, '0') +
    '3c' + vc.length.toString(16).padStart(2, '0') + vc.toString('hex') + 'ff';
  return Buffer.from(h, 'hex');
}

test('golden (hand-written): EDK2 PXE "PXEClient:Arch:00007:UNDI:003016"', () => {
  const p = decode(edk2('PXEClient:Arch:00007:UNDI:003016', 7, 'a0:36:9f:01:02:03'));
  assert.equal(p.xid, 0x11223344);
  assert.deepEqual(getClientNdi(p), { type: 1, major: 3, minor: 16 });
  assert.equal(getClientUuid(p)?.guid, '11'.repeat(16));
  assert.equal(getParamList(p).length, 35);
  assert.deepEqual(classify(p), { mac: 'a0:36:9f:01:02:03', arch: 'efi-x64', kind: 'pxe', via: 'dhcp', vendorClass: 'PXEClient:Arch:00007:UNDI:003016', archCode: 7 });
});

test('golden (hand-written): UEFI HTTP boot "HTTPClient:Arch:00016:UNDI:003000"', () => {
  const p = decode(edk2('HTTPClient:Arch:00016:UNDI:003000', 16, 'a0:36:9f:01:02:04'));
  const c = classify(p);
  assert.equal(c.kind, 'http-boot');
  assert.equal(c.arch, 'efi-x64');
});

test('golden (hand-written): arch only in the vendor class (no option 93)', () => {
  const p = newRequest('00:11:22:33:44:55', 9);
  p.options.set(Opt.MESSAGE_TYPE, Buffer.from([1]));
  p.options.set(Opt.VENDOR_CLASS, Buffer.from('PXEClient:Arch:00011:UNDI:003000'));
  assert.equal(classify(decode(encode(p))).arch, 'efi-arm64');
});
