// DHCPv4 / BOOTP wire codec (RFC 951, 2131, 2132, 3396). Pure: Buffer in, packet out and back,
// no sockets. Options are kept as raw bytes per code (concatenated per RFC 3396 when a code
// repeats), so a reply can echo what a client sent (82, 97) byte for byte.
import { Opt } from './options.js';

export const MAGIC_COOKIE = 0x63825363;
/** fixed BOOTP header before the cookie */
export const HEADER_LEN = 236;
/**
 * RFC 1542 §3.4 / 2131: a BOOTP/DHCP message is at least 300 bytes. Quirk: some old PXE ROMs
 * and BOOTP relays drop shorter replies, so encode() pads with PAD up to this size.
 */
export const MIN_PACKET = 300;

export interface DhcpPacket {
  op: number; // 1 BOOTREQUEST, 2 BOOTREPLY
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number; // bit 15 = broadcast
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  chaddr: Buffer; // 16 bytes
  sname: string; // at most 63 chars (64 with NUL)
  file: string; // at most 127 chars (128 with NUL)
  /** code -> raw value; insertion order is wire order on encode (53 is always written first) */
  options: Map<number, Buffer>;
  /** true when the magic cookie was present (DHCP rather than plain BOOTP) */
  dhcp?: boolean;
}

export const BROADCAST_FLAG = 0x8000;

export class DecodeError extends Error {
  override name = 'DecodeError';
}

function ip(b: Buffer, off: number): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

function cstr(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.subarray(0, nul < 0 ? b.length : nul).toString('latin1');
}

/** Walks one options area, appending (RFC 3396 concatenation) into `into`. */
function parseArea(area: Buffer, into: Map<number, Buffer[]>, where: string): void {
  let i = 0;
  while (i < area.length) {
    const code = area[i++];
    if (code === Opt.PAD) continue;
    if (code === Opt.END) return;
    if (i >= area.length) throw new DecodeError(`option ${code} in ${where}: missing length`);
    const len = area[i++];
    if (i + len > area.length) throw new DecodeError(`option ${code} in ${where}: length ${len} runs past the end`);
    const list = into.get(code);
    const val = area.subarray(i, i + len);
    if (list) list.push(val);
    else into.set(code, [val]);
    i += len;
  }
  // Quirk: a missing END is tolerated (seen from some embedded clients that stop at the last
  // option); the area boundary ends the list just as well.
}

export function decode(buf: Buffer): DhcpPacket {
  if (buf.length < HEADER_LEN) throw new DecodeError(`packet too short: ${buf.length} bytes`);
  const hlen = buf[2];
  if (hlen > 16) throw new DecodeError(`hlen ${hlen} > 16`);
  const op = buf[0];
  if (op !== 1 && op !== 2) throw new DecodeError(`bad op ${op}`);
  const p: DhcpPacket = {
    op,
    htype: buf[1],
    hlen,
    hops: buf[3],
    xid: buf.readUInt32BE(4),
    secs: buf.readUInt16BE(8),
    flags: buf.readUInt16BE(10),
    ciaddr: ip(buf, 12),
    yiaddr: ip(buf, 16),
    siaddr: ip(buf, 20),
    giaddr: ip(buf, 24),
    chaddr: Buffer.from(buf.subarray(28, 44)),
    sname: '',
    file: '',
    options: new Map(),
    dhcp: false,
  };
  const snameArea = buf.subarray(44, 108);
  const fileArea = buf.subarray(108, 236);
  if (buf.length < HEADER_LEN + 4 || buf.readUInt32BE(HEADER_LEN) !== MAGIC_COOKIE) {
    // plain BOOTP (or garbage after the header): no options
    p.sname = cstr(snameArea);
    p.file = cstr(fileArea);
    return p;
  }
  p.dhcp = true;
  const parts = new Map<number, Buffer[]>();
  parseArea(buf.subarray(HEADER_LEN + 4), parts, 'options');
  // Option overload (52): 1 = file holds options, 2 = sname, 3 = both. RFC 3396 order for
  // concatenation is options, then file, then sname.
  const ov = parts.get(Opt.OVERLOAD)?.[0]?.[0] ?? 0;
  if (ov & 1) parseArea(fileArea, parts, 'file');
  else p.file = cstr(fileArea);
  if (ov & 2) parseArea(snameArea, parts, 'sname');
  else p.sname = cstr(snameArea);
  for (const [code, list] of parts) {
    if (code === Opt.OVERLOAD) continue; // consumed: the packet model has no overload
    p.options.set(code, list.length === 1 ? Buffer.from(list[0]) : Buffer.concat(list));
  }
  return p;
}

function putIp(b: Buffer, off: number, addr: string): void {
  const parts = addr.split('.').map(Number);
  if (parts.length !== 4 || parts.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) throw new Error(`bad IPv4 address ${addr}`);
  for (let i = 0; i < 4; i++) b[off + i] = parts[i];
}

function putStr(b: Buffer, off: number, max: number, s: string, what: string): void {
  const bytes = Buffer.from(s, 'latin1');
  if (bytes.length >= max) throw new Error(`${what} longer than ${max - 1} bytes`);
  bytes.copy(b, off);
}

/** One option on the wire (one TLV per entry); values longer than 255 bytes are split into consecutive instances (RFC 3396). */
function encodeOption(code: number, val: Buffer, out: Buffer[]): void {
  if (val.length === 0) {
    out.push(Buffer.from([code, 0]));
    return;
  }
  for (let i = 0; i < val.length; i += 255) {
    const chunk = val.subarray(i, Math.min(i + 255, val.length));
    out.push(Buffer.concat([Buffer.from([code, chunk.length]), chunk]));
  }
}

/** The fixed header, sname and file fields and the magic cookie (240 bytes). */
export function encodeHeader(p: DhcpPacket): Buffer {
  const head = Buffer.alloc(HEADER_LEN + 4);
  head[0] = p.op;
  head[1] = p.htype;
  head[2] = p.hlen;
  head[3] = p.hops;
  head.writeUInt32BE(p.xid >>> 0, 4);
  head.writeUInt16BE(p.secs & 0xffff, 8);
  head.writeUInt16BE(p.flags & 0xffff, 10);
  putIp(head, 12, p.ciaddr);
  putIp(head, 16, p.yiaddr);
  putIp(head, 20, p.siaddr);
  putIp(head, 24, p.giaddr);
  p.chaddr.copy(head, 28, 0, Math.min(16, p.chaddr.length));
  putStr(head, 44, 64, p.sname, 'sname');
  putStr(head, 108, 128, p.file, 'file');
  head.writeUInt32BE(MAGIC_COOKIE, HEADER_LEN);
  return head;
}

/** The options as wire TLVs in order (53 first; > 255 bytes split per RFC 3396), without END. */
export function optionChunks(p: DhcpPacket): Buffer[] {
  const out: Buffer[] = [];
  // Message type first: RFC 2131 does not require it, but several PXE ROMs scan for 53 at
  // the start of the options area.
  const mt = p.options.get(Opt.MESSAGE_TYPE);
  if (mt) encodeOption(Opt.MESSAGE_TYPE, mt, out);
  for (const [code, val] of p.options) {
    if (code === Opt.MESSAGE_TYPE || code === Opt.PAD || code === Opt.END) continue;
    if (code < 0 || code > 254) throw new Error(`bad option code ${code}`);
    encodeOption(code, val, out);
  }
  return out;
}

/** Pads a finished message to the 300-byte minimum. */
export function padMessage(buf: Buffer): Buffer {
  return buf.length < MIN_PACKET ? Buffer.concat([buf, Buffer.alloc(MIN_PACKET - buf.length)]) : buf;
}

export function encode(p: DhcpPacket): Buffer {
  return padMessage(Buffer.concat([encodeHeader(p), ...optionChunks(p), Buffer.from([Opt.END])]));
}

/** A fresh BOOTREPLY carrying a request's xid/flags/giaddr/chaddr (RFC 2131 table 3). */
export function replyTo(req: DhcpPacket): DhcpPacket {
  return {
    op: 2,
    htype: req.htype,
    hlen: req.hlen,
    hops: 0,
    xid: req.xid,
    secs: 0,
    flags: req.flags,
    ciaddr: '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0',
    giaddr: req.giaddr,
    chaddr: Buffer.from(req.chaddr),
    sname: '',
    file: '',
    options: new Map(),
    dhcp: true,
  };
}

/** An empty BOOTREQUEST, for clients written in tests and tools. */
export function newRequest(mac: string, xid: number): DhcpPacket {
  const chaddr = Buffer.alloc(16);
  Buffer.from(mac.split(':').map((h) => parseInt(h, 16))).copy(chaddr);
  return {
    op: 1, htype: 1, hlen: 6, hops: 0, xid, secs: 0, flags: 0,
    ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0',
    chaddr, sname: '', file: '', options: new Map(), dhcp: true,
  };
}
