// Table-driven: classification (request -> ClassifiedClient) and loader choice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseLoader, type LoaderInput } from '../../src/boot/loader.js';
import type { Arch, ClientKind } from '../../src/boot/types.js';
import { archFromCode, classify } from '../../src/dhcp/classify.js';
import { newRequest } from '../../src/dhcp/codec.js';
import { Opt, u16 } from '../../src/dhcp/options.js';

const classes: { name: string; vc?: string; arch?: number; uc?: Buffer; o175?: boolean; kind: ClientKind; want: Arch }[] = [
  { name: 'BIOS PXE', vc: 'PXEClient:Arch:00000:UNDI:002001', arch: 0, kind: 'pxe', want: 'bios' },
  { name: 'BIOS PXE 2.0 without 93', vc: 'PXEClient:Arch:00000:UNDI:002001', kind: 'pxe', want: 'bios' },
  { name: 'UEFI x64 PXE', vc: 'PXEClient:Arch:00007:UNDI:003016', arch: 7, kind: 'pxe', want: 'efi-x64' },
  { name: 'UEFI x64 PXE, arch 9 quirk', vc: 'PXEClient:Arch:00009:UNDI:003000', arch: 9, kind: 'pxe', want: 'efi-x64' },
  { name: 'UEFI ia32 PXE', vc: 'PXEClient:Arch:00006:UNDI:003000', arch: 6, kind: 'pxe', want: 'efi-ia32' },
  { name: 'UEFI arm64 PXE', vc: 'PXEClient:Arch:00011:UNDI:003000', arch: 11, kind: 'pxe', want: 'efi-arm64' },
  { name: 'UEFI x64 PXE, arch only in 60', vc: 'PXEClient:Arch:00007:UNDI:003000', kind: 'pxe', want: 'efi-x64' },
  { name: 'UEFI HTTP x64', vc: 'HTTPClient:Arch:00016:UNDI:003000', arch: 16, kind: 'http-boot', want: 'efi-x64' },
  { name: 'UEFI HTTP arm64', vc: 'HTTPClient:Arch:00019:UNDI:003000', arch: 19, kind: 'http-boot', want: 'efi-arm64' },
  { name: 'iPXE by user class', vc: 'PXEClient:Arch:00000:UNDI:002001', arch: 0, uc: Buffer.from('iPXE'), kind: 'ipxe', want: 'bios' },
  { name: 'iPXE by option 175 only', arch: 7, o175: true, kind: 'ipxe', want: 'efi-x64' },
  { name: 'iPXE user class RFC 3004 form', arch: 7, uc: Buffer.from([4, 0x69, 0x50, 0x58, 0x45]), kind: 'ipxe', want: 'efi-x64' },
  { name: 'udhcpc', vc: 'udhcp 1.35.0', kind: 'other', want: 'unknown' },
  { name: 'no options', kind: 'other', want: 'unknown' },
  { name: 'unknown arch code', vc: 'PXEClient:Arch:00099:UNDI:003000', arch: 99, kind: 'pxe', want: 'unknown' },
];

for (const c of classes) {
  test(`classify: ${c.name}`, () => {
    const p = newRequest('52:54:00:AB:cd:01', 1);
    p.options.set(Opt.MESSAGE_TYPE, Buffer.from([1]));
    if (c.vc) p.options.set(Opt.VENDOR_CLASS, Buffer.from(c.vc));
    if (c.arch !== undefined) p.options.set(Opt.CLIENT_ARCH, u16(c.arch));
    if (c.uc) p.options.set(Opt.USER_CLASS, c.uc);
    if (c.o175) p.options.set(Opt.IPXE_ENCAP, Buffer.from([0x13, 1, 1]));
    const got = classify(p);
    assert.equal(got.kind, c.kind);
    assert.equal(got.arch, c.want);
    assert.equal(got.mac, '52:54:00:ab:cd:01');
    assert.equal(got.via, 'dhcp');
  });
}

test('classify: archFromCode covers the HTTP variants', () => {
  assert.equal(archFromCode(0x0f), 'efi-ia32');
  assert.equal(archFromCode(0x14), 'bios');
  assert.equal(archFromCode(undefined), 'unknown');
});

const base: Omit<LoaderInput, 'client'> = { known: true, unknownPolicy: 'ignore', tftpServer: '10.0.0.1', httpBase: 'http://10.0.0.1:8080/' };
type Row = { name: string; kind: ClientKind; arch: Arch; known?: boolean; policy?: LoaderInput['unknownPolicy']; files?: LoaderInput['files']; action: string; file?: string; protocol?: string; vc?: string; dc?: number };
const loaders: Row[] = [
  { name: 'BIOS PXE -> undionly.kpxe by TFTP', kind: 'pxe', arch: 'bios', action: 'boot', file: 'undionly.kpxe', protocol: 'tftp', vc: 'PXEClient', dc: 8 },
  { name: 'unknown-arch PXE -> BIOS loader', kind: 'pxe', arch: 'unknown', action: 'boot', file: 'undionly.kpxe', protocol: 'tftp' },
  { name: 'UEFI x64 PXE -> snponly.efi by TFTP', kind: 'pxe', arch: 'efi-x64', action: 'boot', file: 'snponly.efi', protocol: 'tftp', vc: 'PXEClient', dc: 8 },
  { name: 'UEFI x64 PXE, configured file name', kind: 'pxe', arch: 'efi-x64', files: { efiX64: 'ipxe.efi' }, action: 'boot', file: 'ipxe.efi' },
  { name: 'UEFI arm64 PXE', kind: 'pxe', arch: 'efi-arm64', action: 'boot', file: 'snponly-arm64.efi' },
  { name: 'UEFI ia32 PXE', kind: 'pxe', arch: 'efi-ia32', action: 'boot', file: 'snponly-ia32.efi' },
  { name: 'UEFI HTTP boot -> ipxe.efi URL', kind: 'http-boot', arch: 'efi-x64', action: 'boot', file: 'http://10.0.0.1:8080/assets/ipxe.efi', protocol: 'http', vc: 'HTTPClient' },
  { name: 'UEFI HTTP boot arm64', kind: 'http-boot', arch: 'efi-arm64', action: 'boot', file: 'http://10.0.0.1:8080/assets/ipxe-arm64.efi' },
  { name: 'UEFI HTTP boot ia32: nothing to offer', kind: 'http-boot', arch: 'efi-ia32', action: 'address-only' },
  { name: 'iPXE -> boot.ipxe (never an iPXE binary again)', kind: 'ipxe', arch: 'bios', action: 'boot', file: 'http://10.0.0.1:8080/boot.ipxe?mac=${netX/mac}', protocol: 'http' },
  { name: 'iPXE on UEFI -> boot.ipxe too', kind: 'ipxe', arch: 'efi-x64', action: 'boot', file: 'http://10.0.0.1:8080/boot.ipxe?mac=${netX/mac}' },
  { name: 'ordinary client -> address only', kind: 'other', arch: 'unknown', action: 'address-only' },
  { name: 'unknown MAC, ignore', kind: 'pxe', arch: 'bios', known: false, policy: 'ignore', action: 'ignore' },
  { name: 'unknown MAC, address-only', kind: 'pxe', arch: 'bios', known: false, policy: 'address-only', action: 'address-only' },
  { name: 'unknown MAC, discover -> loader', kind: 'pxe', arch: 'efi-x64', known: false, policy: 'discover', action: 'boot', file: 'snponly.efi' },
  { name: 'unknown MAC, discover, iPXE -> script', kind: 'ipxe', arch: 'efi-x64', known: false, policy: 'discover', action: 'boot', file: 'http://10.0.0.1:8080/boot.ipxe?mac=${netX/mac}' },
  { name: 'unknown MAC, discover, OS -> address only', kind: 'other', arch: 'unknown', known: false, policy: 'discover', action: 'address-only' },
];

for (const r of loaders) {
  test(`loader: ${r.name}`, () => {
    const got = chooseLoader({ ...base, client: { kind: r.kind, arch: r.arch }, known: r.known ?? true, unknownPolicy: r.policy ?? 'ignore', files: r.files });
    assert.equal(got.action, r.action);
    if (got.action !== 'boot') return;
    if (r.file) assert.equal(got.file, r.file);
    if (r.protocol) assert.equal(got.protocol, r.protocol);
    if (r.vc) assert.equal(got.vendorClass, r.vc);
    if (r.dc !== undefined) assert.equal(got.pxeDiscoveryControl, r.dc);
    if (got.protocol === 'tftp') assert.equal(got.nextServer, '10.0.0.1');
    else assert.equal(got.nextServer, undefined);
    // the loop breaker: an iPXE client never gets a file that is an iPXE binary
    if (r.kind === 'ipxe') assert.doesNotMatch(got.file, /\.(efi|kpxe|pxe)$/);
  });
}
