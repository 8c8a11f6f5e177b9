// Renders boot answers as iPXE scripts and PXELINUX configs. Pure string building.
import { basename } from 'node:path';

export interface RenderedBoot {
  kernelUrl: string;
  initrdUrl: string;
  cmdline: string;
  title: string;
}

/** iPXE needs `initrd=<name>` on the kernel line for EFI-stub kernels to find the initrd under
 *  UEFI (harmless on BIOS); the name is the basename iPXE gives the downloaded initrd. */
export function ipxeInstallScript(b: RenderedBoot): string {
  return [
    '#!ipxe',
    `echo fleetboot: ${b.title}`,
    `kernel ${b.kernelUrl} initrd=${basename(b.initrdUrl)} ${b.cmdline}`.trimEnd(),
    `initrd ${b.initrdUrl}`,
    'boot || goto failed',
    ':failed',
    'echo fleetboot: boot failed, retrying in 10 s',
    'sleep 10',
    'reboot',
    '',
  ].join('\n');
}

/**
 * Local boot. `exit 1` hands control back to the firmware, which moves to the next boot device;
 * under SeaBIOS and most UEFI firmware that is the disk. Some BIOS PXE stacks hang after an
 * NBP exits, so `sanboot` (boot drive 0x80 directly) is offered as the alternative.
 *
 * Firmware quirk (EDK2/OVMF BdsDxe, seen in the image-uefi e2e): a boot option that returns
 * EFI_SUCCESS makes the boot manager stop walking BootOrder and open its menu (UiApp), so a
 * plain `exit` (status 0, passed up by iPXE as EFI_SUCCESS) left a freshly installed machine
 * in the firmware setup screen instead of booting its disk. A non-zero status comes back as
 * an EFI error, and the firmware tries the next entry. BIOS ROMs ignore the status.
 */
export function ipxeLocalScript(reason: string, mode: 'exit' | 'sanboot'): string {
  const lines = ['#!ipxe', `echo fleetboot: local boot (${reason.replace(/[\r\n]/g, ' ')})`];
  if (mode === 'sanboot') lines.push('sanboot --no-describe --drive 0x80 || exit 1');
  else lines.push('exit 1');
  return lines.join('\n') + '\n';
}

/** Served over TFTP as `boot.ipxe` to iPXE builds that ask for a script by name: hands over to
 *  HTTP, where the per-MAC decision is made (${netX/mac}: the booting NIC, see loader.ts). */
export function ipxeChainScript(httpBase: string): string {
  // `exit 1` when the chain fails: the firmware tries its next boot entry (see ipxeLocalScript)
  return ['#!ipxe', `chain ${httpBase}/boot.ipxe?mac=\${netX/mac} || exit 1`, ''].join('\n');
}

/** PXELINUX paths are relative to the TFTP root, which is the boot-assets directory. */
export function pxelinuxInstall(b: { kernel: string; initrd: string; cmdline: string; title: string }): string {
  return [
    'DEFAULT fleetboot',
    'PROMPT 0',
    'TIMEOUT 0',
    'LABEL fleetboot',
    `  MENU LABEL ${b.title}`,
    `  KERNEL ${b.kernel}`,
    `  INITRD ${b.initrd}`,
    `  APPEND ${b.cmdline}`,
    '',
  ].join('\n');
}

export function pxelinuxLocal(): string {
  return ['DEFAULT local', 'PROMPT 0', 'TIMEOUT 0', 'LABEL local', '  LOCALBOOT 0', ''].join('\n');
}
