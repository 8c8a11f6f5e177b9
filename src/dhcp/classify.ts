// Who is asking: firmware PXE (BIOS/UEFI), UEFI HTTP boot, iPXE, or an ordinary DHCP client.
// Pure: a decoded request in, the shared ClassifiedClient out (plus what we saw, for logs and
// the discovered table).
import type { Arch, ClassifiedClient, ClientKind } from '../boot/types.js';
import type { DhcpPacket } from './codec.js';
import { getClientArch, getUserClasses, getVendorClass, macOf, Opt } from './options.js';

export type DhcpClient = ClassifiedClient & {
  vendorClass?: string;
  userClass?: string;
  /** first IANA processor type from option 93 (or the vendor class string) */
  archCode?: number;
};

/**
 * IANA "Processor Architecture Types" (RFC 4578 §2.1 + later registrations).
 * Quirk: RFC 4578 listed 7 as "EFI BC" and 9 as "EFI x86-64"; EDK2/OVMF and nearly every x64
 * UEFI sends 7, but some older HP and Dell firmware send 9, so both mean x64.
 */
export function archFromCode(code: number | undefined): Arch {
  switch (code) {
    case 0x00: // x86 BIOS
    case 0x14: // PC/AT BIOS boot from HTTP
      return 'bios';
    case 0x06: // x86 UEFI
    case 0x0f: // x86 UEFI HTTP
      return 'efi-ia32';
    case 0x07: // x64 UEFI
    case 0x09: // see quirk above
    case 0x10: // x64 UEFI HTTP
      return 'efi-x64';
    case 0x0b: // ARM 64-bit UEFI
    case 0x13: // ARM 64-bit UEFI HTTP
      return 'efi-arm64';
    default:
      return 'unknown';
  }
}

/** "PXEClient:Arch:00007:UNDI:003016" -> 7 (the arch field is decimal, PXE spec 2.1). */
export function archCodeFromVendorClass(vc: string | undefined): number | undefined {
  const m = vc && /^(?:PXEClient|HTTPClient):Arch:(\d{5})/.exec(vc);
  return m ? Number(m[1]) : undefined;
}

export function classify(p: DhcpPacket): DhcpClient {
  const mac = macOf(p) ?? p.chaddr.subarray(0, Math.min(p.hlen, 16)).toString('hex');
  const vendorClass = getVendorClass(p);
  const classes = getUserClasses(p);
  const userClass = classes.length ? classes.join(',') : undefined;
  // Option 93 is authoritative; fall back to the arch in the vendor class because some
  // firmware (older Broadcom/Realtek UNDI ROMs) send 60 but omit 93.
  const archCode = getClientArch(p)?.[0] ?? archCodeFromVendorClass(vendorClass);
  let kind: ClientKind;
  // iPXE first: it also sends "PXEClient:..." in option 60, but it can do HTTP and scripts.
  // 175 is iPXE's encapsulated-options space; user class "iPXE" is set by every iPXE build.
  if (p.options.has(Opt.IPXE_ENCAP) || classes.includes('iPXE')) kind = 'ipxe';
  else if (vendorClass?.startsWith('HTTPClient')) kind = 'http-boot';
  else if (vendorClass?.startsWith('PXEClient')) kind = 'pxe';
  else kind = 'other';
  const out: DhcpClient = { mac, arch: archFromCode(archCode), kind, via: 'dhcp' };
  if (vendorClass !== undefined) out.vendorClass = vendorClass;
  if (userClass !== undefined) out.userClass = userClass;
  if (archCode !== undefined) out.archCode = archCode;
  if (p.ciaddr !== '0.0.0.0') out.ip = p.ciaddr;
  return out;
}
