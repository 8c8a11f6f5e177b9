// Which boot loader a DHCP client gets. Pure: (classified client, known?, policy, addresses)
// in, what to put in the DHCP reply out. The chain is: firmware PXE -> iPXE binary by TFTP,
// UEFI HTTP boot -> iPXE binary by HTTP, iPXE -> our boot.ipxe script by HTTP. The last rule
// is what breaks the chain-loading loop: iPXE (including QEMU's NIC option ROM, which *is*
// iPXE) must never be handed an iPXE binary again.
import type { ClassifiedClient } from './types.js';

export type UnknownPolicy = 'ignore' | 'discover' | 'address-only';

export interface LoaderFiles {
  /** TFTP file for BIOS PXE ROMs */
  bios: string;
  /** TFTP file for UEFI x64 PXE (snponly uses the firmware's SNP driver: works on any NIC) */
  efiX64: string;
  efiIa32: string;
  efiArm64: string;
  /** path under httpBase for UEFI HTTP boot, per architecture */
  httpX64: string;
  httpArm64: string;
  /**
   * path (and query) under httpBase that iPXE fetches. iPXE expands ${netX/mac} to the MAC of
   * the most recently opened network device — the one it booted from. Not ${net0/mac}: that is
   * the first NIC on the bus, so a BIOS host booting from its second NIC was decided by the
   * wrong MAC ("unknown: local boot"; the e2e bios-2nic mode checks this).
   */
  ipxeScript: string;
}

export const defaultLoaderFiles: LoaderFiles = {
  bios: 'undionly.kpxe',
  efiX64: 'snponly.efi',
  efiIa32: 'snponly-ia32.efi',
  efiArm64: 'snponly-arm64.efi',
  httpX64: 'assets/ipxe.efi',
  httpArm64: 'assets/ipxe-arm64.efi',
  ipxeScript: 'boot.ipxe?mac=${netX/mac}',
};

export interface LoaderInput {
  client: Pick<ClassifiedClient, 'kind' | 'arch'>;
  known: boolean;
  unknownPolicy: UnknownPolicy;
  /** next-server for TFTP loaders */
  tftpServer: string;
  /** e.g. "http://10.0.0.1:8080" (no trailing slash needed) */
  httpBase: string;
  files?: Partial<LoaderFiles>;
}

export type LoaderChoice =
  | { action: 'ignore'; reason: string }
  | { action: 'address-only'; reason: string }
  | {
      action: 'boot';
      protocol: 'tftp' | 'http';
      file: string;
      /** siaddr / option 66 (TFTP only) */
      nextServer?: string;
      /** option 60 to put in the reply: PXE and HTTP-boot firmware ignore offers without it */
      vendorClass?: 'PXEClient' | 'HTTPClient';
      /** PXE option 43 sub-option 6; 8 = "boot this file, no boot-server discovery" */
      pxeDiscoveryControl?: number;
      reason: string;
    };

function join(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

export function chooseLoader(input: LoaderInput): LoaderChoice {
  const f = { ...defaultLoaderFiles, ...input.files };
  const { kind, arch } = input.client;
  if (!input.known) {
    if (input.unknownPolicy === 'ignore') return { action: 'ignore', reason: 'unknown MAC, policy ignore' };
    if (input.unknownPolicy === 'address-only') return { action: 'address-only', reason: 'unknown MAC, policy address-only' };
  }
  const who = input.known ? 'known' : 'unknown (discover)';
  switch (kind) {
    case 'other':
      // an installed OS or an installer's own DHCP client: it must not be redirected to boot
      return { action: 'address-only', reason: `${who}: not a network-boot client` };
    case 'ipxe':
      return { action: 'boot', protocol: 'http', file: join(input.httpBase, f.ipxeScript), reason: `${who}: iPXE -> boot script` };
    case 'http-boot': {
      if (arch === 'efi-ia32' || arch === 'bios') return { action: 'address-only', reason: `${who}: HTTP boot on ${arch}: no loader configured` };
      const path = arch === 'efi-arm64' ? f.httpArm64 : f.httpX64;
      return { action: 'boot', protocol: 'http', file: join(input.httpBase, path), vendorClass: 'HTTPClient', reason: `${who}: UEFI HTTP boot -> iPXE by HTTP` };
    }
    case 'pxe': {
      // Quirk: PXE 2.0 BIOS ROMs predate option 93 and send no architecture; 'unknown' is
      // treated as BIOS because every UEFI PXE implementation sends 93.
      const file = arch === 'efi-x64' ? f.efiX64 : arch === 'efi-ia32' ? f.efiIa32 : arch === 'efi-arm64' ? f.efiArm64 : f.bios;
      return {
        action: 'boot',
        protocol: 'tftp',
        file,
        nextServer: input.tftpServer,
        vendorClass: 'PXEClient',
        pxeDiscoveryControl: 8,
        reason: `${who}: PXE ${arch} -> iPXE by TFTP`,
      };
    }
  }
}
