// DHCP option codes and typed views over the raw option bytes the codec keeps. Options stay
// raw (Buffer per code) so unknown or oddly-formed options from firmware survive a round trip;
// getters here interpret them and return undefined rather than throwing on bad lengths.
import type { DhcpPacket } from './codec.js';

export const Opt = {
  PAD: 0,
  SUBNET_MASK: 1,
  ROUTER: 3,
  DNS: 6,
  HOSTNAME: 12,
  DOMAIN: 15,
  BROADCAST: 28,
  VENDOR_SPECIFIC: 43,
  REQUESTED_IP: 50,
  LEASE_TIME: 51,
  OVERLOAD: 52,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAM_LIST: 55,
  MESSAGE: 56,
  MAX_SIZE: 57,
  RENEWAL: 58,
  REBINDING: 59,
  VENDOR_CLASS: 60,
  CLIENT_ID: 61,
  TFTP_SERVER: 66,
  BOOTFILE: 67,
  USER_CLASS: 77,
  RELAY_AGENT: 82,
  CLIENT_ARCH: 93,
  CLIENT_NDI: 94,
  CLIENT_UUID: 97,
  IPXE_ENCAP: 175,
  END: 255,
} as const;

export const MessageType = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
} as const;

const TYPE_NAMES = ['', 'discover', 'offer', 'request', 'decline', 'ack', 'nak', 'release', 'inform'];

export function messageTypeName(t: number | undefined): string {
  return t !== undefined && t >= 1 && t <= 8 ? TYPE_NAMES[t] : 'unknown';
}

// ---- value encoders (for replies) ----

export function ipToBuf(ip: string): Buffer {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) throw new Error(`bad IPv4 address ${ip}`);
  return Buffer.from(parts);
}

export function ipsToBuf(ips: string[]): Buffer {
  return Buffer.concat(ips.map(ipToBuf));
}

export function bufToIp(b: Buffer, off = 0): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

export function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n & 0xffff);
  return b;
}

/** Encodes sub-options (code, len, value)... for option 43 / 82 / 175. Values > 255 bytes are refused. */
export function encodeSubOptions(subs: Iterable<[number, Buffer]>, withEnd = true): Buffer {
  const parts: Buffer[] = [];
  for (const [code, val] of subs) {
    if (val.length > 255) throw new Error(`sub-option ${code} longer than 255 bytes`);
    parts.push(Buffer.from([code, val.length]), val);
  }
  if (withEnd) parts.push(Buffer.from([Opt.END]));
  return Buffer.concat(parts);
}

/** Parses sub-options; stops at END, skips PAD; returns undefined when a length runs past the end. */
export function decodeSubOptions(b: Buffer): Map<number, Buffer> | undefined {
  const out = new Map<number, Buffer>();
  let i = 0;
  while (i < b.length) {
    const code = b[i++];
    if (code === Opt.PAD) continue;
    if (code === Opt.END) break;
    if (i >= b.length) return undefined;
    const len = b[i++];
    if (i + len > b.length) return undefined;
    out.set(code, b.subarray(i, i + len));
    i += len;
  }
  return out;
}

/** PXE vendor options (option 43 when option 60 is "PXEClient"), PXE spec 2.1 table 2-1. */
export const PxeSub = {
  DISCOVERY_CONTROL: 6,
  BOOT_SERVERS: 8,
  BOOT_MENU: 9,
  MENU_PROMPT: 10,
  BOOT_ITEM: 71,
} as const;

/**
 * Option 43 for PXE clients. Discovery control bit 3 (value 8) = "boot the file in this
 * offer; do not run PXE boot-server discovery": without it Intel/EDK2 ROMs wait for further
 * proxy offers and try multicast/broadcast discovery, which costs ~3 s per boot.
 */
export function pxeVendorOptions(opts: { discoveryControl?: number } = {}): Buffer {
  return encodeSubOptions([[PxeSub.DISCOVERY_CONTROL, Buffer.from([opts.discoveryControl ?? 8])]]);
}

// ---- typed getters ----

function raw(p: DhcpPacket, code: number): Buffer | undefined {
  return p.options.get(code);
}

function str(b: Buffer | undefined): string | undefined {
  if (!b) return undefined;
  // some ROMs NUL-terminate strings (counted in the length); drop trailing NULs
  let end = b.length;
  while (end > 0 && b[end - 1] === 0) end--;
  return b.subarray(0, end).toString('latin1');
}

export function getMessageType(p: DhcpPacket): number | undefined {
  const b = raw(p, Opt.MESSAGE_TYPE);
  return b && b.length >= 1 ? b[0] : undefined;
}

function ipOpt(p: DhcpPacket, code: number): string | undefined {
  const b = raw(p, code);
  return b && b.length === 4 ? bufToIp(b) : undefined;
}

export const getRequestedIp = (p: DhcpPacket) => ipOpt(p, Opt.REQUESTED_IP);
export const getServerId = (p: DhcpPacket) => ipOpt(p, Opt.SERVER_ID);

export function getParamList(p: DhcpPacket): number[] {
  const b = raw(p, Opt.PARAM_LIST);
  return b ? [...b] : [];
}

export function getMaxMessageSize(p: DhcpPacket): number | undefined {
  const b = raw(p, Opt.MAX_SIZE);
  return b && b.length === 2 ? b.readUInt16BE(0) : undefined;
}

export const getVendorClass = (p: DhcpPacket) => str(raw(p, Opt.VENDOR_CLASS));
export const getHostname = (p: DhcpPacket) => str(raw(p, Opt.HOSTNAME));

export function getClientId(p: DhcpPacket): string | undefined {
  const b = raw(p, Opt.CLIENT_ID);
  return b && b.length > 0 ? b.toString('hex') : undefined;
}

/**
 * User classes (77). RFC 3004 says: a list of (len, data) items. Quirk: iPXE and Windows send
 * the bare string ("iPXE") without the length prefix; when the bytes do not parse as an
 * RFC 3004 list exactly, the whole value is taken as one class.
 */
export function getUserClasses(p: DhcpPacket): string[] {
  const b = raw(p, Opt.USER_CLASS);
  if (!b || b.length === 0) return [];
  const items: string[] = [];
  let i = 0;
  while (i < b.length) {
    const len = b[i];
    if (len === 0 || i + 1 + len > b.length) return [str(b) ?? ''];
    items.push(b.subarray(i + 1, i + 1 + len).toString('latin1'));
    i += 1 + len;
  }
  return items;
}

/** Client system architectures (93): a list of 16-bit IANA processor types. */
export function getClientArch(p: DhcpPacket): number[] | undefined {
  const b = raw(p, Opt.CLIENT_ARCH);
  if (!b || b.length < 2 || b.length % 2 !== 0) return undefined;
  const out: number[] = [];
  for (let i = 0; i < b.length; i += 2) out.push(b.readUInt16BE(i));
  return out;
}

/** Client network device interface (94): type 1 = UNDI, then major/minor version. */
export function getClientNdi(p: DhcpPacket): { type: number; major: number; minor: number } | undefined {
  const b = raw(p, Opt.CLIENT_NDI);
  return b && b.length === 3 ? { type: b[0], major: b[1], minor: b[2] } : undefined;
}

/** Client machine identifier (97): type 0 + 16-byte GUID. */
export function getClientUuid(p: DhcpPacket): { type: number; guid: string } | undefined {
  const b = raw(p, Opt.CLIENT_UUID);
  return b && b.length === 17 ? { type: b[0], guid: b.subarray(1).toString('hex') } : undefined;
}

/** iPXE encapsulated options (175): presence marks iPXE; sub-options carry its feature flags. */
export function getIpxeEncap(p: DhcpPacket): Map<number, Buffer> | undefined {
  const b = raw(p, Opt.IPXE_ENCAP);
  return b ? (decodeSubOptions(b) ?? new Map()) : undefined;
}

/** Relay agent information (82): circuit-id (1), remote-id (2), ... */
export function getRelayAgent(p: DhcpPacket): Map<number, Buffer> | undefined {
  const b = raw(p, Opt.RELAY_AGENT);
  return b ? decodeSubOptions(b) : undefined;
}

export function getLeaseTime(p: DhcpPacket): number | undefined {
  const b = raw(p, Opt.LEASE_TIME);
  return b && b.length === 4 ? b.readUInt32BE(0) : undefined;
}

/** MAC from chaddr for Ethernet (htype 1, hlen 6), lower-case colon form; undefined otherwise. */
export function macOf(p: DhcpPacket): string | undefined {
  if (p.htype !== 1 || p.hlen !== 6) return undefined;
  return [...p.chaddr.subarray(0, 6)].map((x) => x.toString(16).padStart(2, '0')).join(':');
}
