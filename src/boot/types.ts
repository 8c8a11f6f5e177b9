// Shared vocabulary of the boot path. DHCP classifies a client; the boot decision (decide.ts)
// maps (client, host record, runtime state) to an answer; DHCP/TFTP/HTTP only render it.

/** Firmware architecture as reported by DHCP option 93 (RFC 4578 / IANA processor types). */
export type Arch = 'bios' | 'efi-ia32' | 'efi-x64' | 'efi-arm64' | 'unknown';

/** What kind of network boot program is asking. */
export type ClientKind =
  | 'pxe' //        firmware PXE ROM (BIOS or UEFI PxeBcDxe): can only do TFTP
  | 'http-boot' //  UEFI HTTP boot (vendor class "HTTPClient"): wants an http:// URL
  | 'ipxe' //       iPXE (user class "iPXE" or option 175): can fetch our boot.ipxe script
  | 'other'; //     any other DHCP client (an installer, an OS): address only

export interface ClassifiedClient {
  mac: string; // lower-case, colon separated: "52:54:00:12:34:56"
  arch: Arch;
  kind: ClientKind;
  /** Where the request came in, for logs and discovery records. */
  via: 'dhcp' | 'tftp' | 'http';
  ip?: string;
}

export type InstallState =
  | 'marked'
  | 'booting'
  | 'installing'
  | 'rebooting' // installer finished, waiting for the installed system's first-boot "up"
  | 'done'
  | 'failed'
  | 'stalled'
  | 'cancelled';

/** Runtime facts about a host the decision needs (from SQLite). */
export interface HostBootState {
  reinstallMarked: boolean;
  /** The open install run for this host, if any (state marked/booting/installing/stalled). */
  run?: { id: number; token: string; state: InstallState };
}

/** Host record as the decision sees it (inventory host merged with its role). */
export interface BootHost {
  name: string;
  role: string;
  kernel: string; // path under boot-assets, e.g. "debian-12/linux"
  initrd: string;
  cmdline: string; // already rendered (variables substituted)
  /** answer-file (default): the role's kernel/initrd; image: fleetboot's installer environment */
  installer?: 'answer-file' | 'image';
  /** image roles: the id of the role's newest image, if one is built */
  imageId?: string;
  /** image roles: boot-assets/fleetboot-installer/{vmlinuz,initrd.img} are there */
  installerEnv?: boolean;
}

export type BootAnswer =
  | { action: 'install'; host: string; role: string; kernel: string; initrd: string; cmdline: string; runId: number }
  | { action: 'local'; host: string; reason: string; /** the installer was due but cannot be served */ refused?: boolean }
  | { action: 'discovery'; kernel: string; initrd: string; cmdline: string }
  | { action: 'silence'; reason: string };
