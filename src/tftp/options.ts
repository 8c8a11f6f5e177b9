// Option negotiation for read requests: RFC 2347 (framework), 2348 (blksize), 2349 (timeout,
// tsize), 7440 (windowsize). Pure function of (request options, limits, file size).
//
// RFC 2347: options we do not know, or whose value is invalid, are silently left out of the
// OACK (not an error); if nothing is accepted no OACK is sent and DATA 1 starts the transfer.
// Option names are case-insensitive; the first occurrence of a duplicated option wins.
import type { OptionList } from './codec.js';

export interface Limits {
  maxBlksize: number;
  maxWindowsize: number;
  /** our timeout when the client does not set one */
  timeoutMs: number;
}

export interface Negotiated {
  blksize: number;
  windowsize: number;
  timeoutMs: number;
  /** options to put in the OACK, in the client's order; empty = no OACK */
  accepted: OptionList;
  /** what the client asked, for logs */
  requested: Record<string, string>;
}

export const BLKSIZE_MIN = 8;
export const BLKSIZE_MAX = 65464;

/** Strict decimal integer: "0x10", "1e3", " 5" and "" are not numbers in TFTP option values. */
function int(v: string): number | undefined {
  if (!/^\d{1,10}$/.test(v)) return undefined;
  return Number(v);
}

export function negotiate(options: OptionList, limits: Limits, fileSize: number): Negotiated {
  const requested: Record<string, string> = {};
  for (const [k, v] of options) {
    const name = k.toLowerCase();
    if (!(name in requested)) requested[name] = v;
  }
  const out: Negotiated = { blksize: 512, windowsize: 1, timeoutMs: limits.timeoutMs, accepted: [], requested };
  const seen = new Set<string>();
  for (const [k, v] of options) {
    const name = k.toLowerCase();
    if (seen.has(name)) continue;
    seen.add(name);
    const n = int(v);
    if (n === undefined) continue;
    switch (name) {
      case 'blksize':
        // RFC 2348: valid 8..65464; the server may answer with a smaller value than asked.
        if (n < BLKSIZE_MIN) break;
        out.blksize = Math.min(n, BLKSIZE_MAX, limits.maxBlksize);
        out.accepted.push([k, String(out.blksize)]);
        break;
      case 'tsize':
        // RFC 2349: a reader sends 0 and we answer the size. Any value is accepted in a RRQ.
        out.accepted.push([k, String(fileSize)]);
        break;
      case 'timeout':
        // RFC 2349: 1..255 seconds, echoed unchanged, used as our retransmission timeout.
        if (n < 1 || n > 255) break;
        out.timeoutMs = n * 1000;
        out.accepted.push([k, String(n)]);
        break;
      case 'windowsize':
        // RFC 7440: 1..65535; we may answer smaller.
        if (n < 1 || n > 65535) break;
        out.windowsize = Math.min(n, limits.maxWindowsize);
        out.accepted.push([k, String(out.windowsize)]);
        break;
      default:
        break; // unknown (multicast, rollover, utimeout, ...): ignored per RFC 2347
    }
  }
  return out;
}
