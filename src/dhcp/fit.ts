// Fitting a reply into the client's maximum DHCP message size (RFC 2132 §9.10, option 57).
// Pure. A client that sends no 57 must still accept 576-byte IP datagrams (RFC 2131 §2), i.e.
// a 548-byte DHCP message. Our replies are normally far smaller; long boot URLs (option 67),
// a relay's option 82 echoed back, and domain/hostname can push them over. Then, in order:
//  1. option overload (52, RFC 2131 §4.1): options that do not fit the options field move into
//     the unused `file` (128 bytes) and `sname` (64 bytes) fields;
//  2. optional options are dropped, least important first, retrying the overload each time.
// An option is never split across fields here (RFC 3396 would allow it, but ROMs that do not
// implement 3396 would then see a truncated value).
import { encode, encodeHeader, HEADER_LEN, optionChunks, padMessage, type DhcpPacket } from './codec.js';
import { getMaxMessageSize, Opt } from './options.js';

/** RFC 2131 §2: every client accepts a 576-byte IP datagram (minus 20 IP + 8 UDP). */
export const DEFAULT_MAX_MESSAGE = 576 - 28;

/** The largest reply `req`'s sender accepts: option 57 (which counts IP+UDP headers; values below 576 are illegal and ignored), else 548. */
export function maxReplyLength(req: DhcpPacket): number {
  const m = getMaxMessageSize(req);
  return m !== undefined && m >= 576 ? m - 28 : DEFAULT_MAX_MESSAGE;
}

export interface Fitted {
  buf: Buffer;
  /** option 52 value used (0 = none; 1 file, 2 sname, 3 both) */
  overload: number;
  /** options left out, in the order they were dropped */
  dropped: number[];
  /** false: still over the limit after everything (sent anyway; the caller logs it) */
  fits: boolean;
}

const FILE_OFF = 108;
const SNAME_OFF = 44;

/** Places whole TLVs into options / file / sname; undefined when they do not fit. */
function overloaded(p: DhcpPacket, max: number): { buf: Buffer; overload: number } | undefined {
  const chunks = optionChunks(p);
  // main area: what is left after header+cookie, minus 52 itself (3 bytes) and END
  let mainRoom = max - (HEADER_LEN + 4) - 3 - 1;
  const areas = [
    { use: p.file === '', room: 128 - 1, bit: 1, parts: [] as Buffer[] }, // -1: each area ends with END
    { use: p.sname === '', room: 64 - 1, bit: 2, parts: [] as Buffer[] },
  ];
  // Options bigger than the file/sname areas (and 53, which stays first) must be in the
  // options field: placed first. The rest fill the remaining space first-fit in RFC 3396
  // concatenation order (options, file, sname). Only an option longer than 255 bytes has
  // several TLVs; all but its last are 257 bytes (options field), so no later piece of a value
  // can land before an earlier one.
  const largest = Math.max(...areas.filter((a) => a.use).map((a) => a.room), 0);
  const inMain = new Set<number>();
  chunks.forEach((c, i) => {
    if (i === 0 || c.length > largest) {
      inMain.add(i);
      mainRoom -= c.length;
    }
  });
  if (mainRoom < 0) return undefined;
  for (let i = 0; i < chunks.length; i++) {
    const c = chunks[i];
    if (inMain.has(i)) continue;
    if (c.length <= mainRoom) {
      inMain.add(i);
      mainRoom -= c.length;
      continue;
    }
    const a = areas.find((x) => x.use && c.length <= x.room);
    if (!a) return undefined;
    a.parts.push(c);
    a.room -= c.length;
  }
  const main = chunks.filter((_, i) => inMain.has(i)); // wire order kept
  const ov = areas.reduce((n, a) => n | (a.parts.length ? a.bit : 0), 0);
  if (!ov) return undefined;
  const head = encodeHeader({ ...p, file: ov & 1 ? '' : p.file, sname: ov & 2 ? '' : p.sname });
  for (const [a, off, len] of [[areas[0], FILE_OFF, 128], [areas[1], SNAME_OFF, 64]] as const) {
    if (!a.parts.length) continue;
    const body = Buffer.concat([...a.parts, Buffer.from([Opt.END])]);
    head.fill(0, off, off + len);
    body.copy(head, off);
  }
  // 53 first, then 52, then the rest of the main area
  const [first, ...rest] = main;
  return { buf: padMessage(Buffer.concat([head, first, Buffer.from([Opt.OVERLOAD, 1, ov]), ...rest, Buffer.from([Opt.END])])), overload: ov };
}

/** Encodes `p` within `max` bytes (see the file comment); `droppable` lists optional options, least important first. */
export function fitReply(p: DhcpPacket, max: number, droppable: readonly number[]): Fitted {
  const work: DhcpPacket = { ...p, options: new Map(p.options) };
  const dropped: number[] = [];
  const queue = droppable.filter((c) => work.options.has(c));
  for (;;) {
    const plain = encode(work);
    if (plain.length <= max) return { buf: plain, overload: 0, dropped, fits: true };
    const o = overloaded(work, max);
    if (o) return { ...o, dropped, fits: true };
    const next = queue.shift();
    if (next === undefined) return { buf: plain, overload: 0, dropped, fits: false };
    work.options.delete(next);
    dropped.push(next);
  }
}
