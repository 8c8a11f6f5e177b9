// Range requests on cached files (RFC 9110 §14): one range -> 206 with Content-Range; several
// -> 206 multipart/byteranges (up to MAX_PARTS, ranges served in the order asked, overlapping
// ones merged); a syntactically invalid Range header is ignored (200, whole file); a valid one
// none of whose ranges overlaps the file -> 416 with "Content-Range: bytes */size".
// If-Range (only a strong ETag or the exact Last-Modified date) decides whether ranges apply.
import { randomBytes } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { writeBytes, writeRange } from '../http/send-range.js';

export interface ByteRange {
  start: number;
  end: number; // inclusive
}

const MAX_PARTS = 16;


/** null: ignore the header (serve 200); 'unsatisfiable': 416; else the ranges to send. */
export function parseRanges(header: string | undefined, size: number): ByteRange[] | null | 'unsatisfiable' {
  if (!header) return null;
  const m = /^\s*bytes\s*=\s*(.+)$/i.exec(header);
  if (!m) return null; // another unit: ignored
  const specs = m[1].split(',').map((x) => x.trim()).filter(Boolean);
  if (specs.length === 0 || specs.length > 100) return null;
  const out: ByteRange[] = [];
  for (const spec of specs) {
    const r = /^(\d*)-(\d*)$/.exec(spec);
    if (!r || (r[1] === '' && r[2] === '')) return null;
    if (r[1] === '') {
      const n = Number(r[2]);
      if (n > 0 && size > 0) out.push({ start: Math.max(0, size - n), end: size - 1 });
      continue;
    }
    const start = Number(r[1]);
    if (r[2] !== '' && Number(r[2]) < start) return null; // last < first: the whole header is invalid
    if (start >= size) continue; // this one is unsatisfiable; others may not be
    out.push({ start, end: r[2] === '' ? size - 1 : Math.min(Number(r[2]), size - 1) });
  }
  if (out.length === 0) return 'unsatisfiable';
  // merge overlapping or adjacent ranges (keeps the first-asked order otherwise)
  const merged: ByteRange[] = [];
  for (const r of out) {
    const o = merged.find((x) => r.start <= x.end + 1 && x.start <= r.end + 1);
    if (o) (o.start = Math.min(o.start, r.start)), (o.end = Math.max(o.end, r.end));
    else merged.push({ ...r });
  }
  return merged.length > MAX_PARTS ? null : merged;
}

/** Does If-Range allow the Range? A weak ETag never matches (RFC 9110 §13.1.5). */
export function ifRangeAllows(ifRange: string | undefined, etag: string, lastModified: string): boolean {
  if (!ifRange) return true;
  const v = ifRange.trim();
  if (v.startsWith('W/')) return false;
  if (v.startsWith('"')) return v === etag;
  return v === lastModified;
}

/** One range of the file to res from reusable buffers (src/http/send-range.ts); rejects when
 *  the client went away, so the caller destroys rather than ends the response. */
async function pipeRange(fh: FileHandle, res: ServerResponse, r: ByteRange, onBytes: (n: number) => void, body: Buffer | null): Promise<void> {
  if (body) {
    if (!(await writeBytes(res, body.subarray(r.start, r.end + 1)))) throw new Error('client went away');
    onBytes(r.end - r.start + 1);
    return;
  }
  if (!(await writeRange(fh, res, r.start, r.end, onBytes))) throw new Error('client went away');
}

/** Sends the body (whole file, one range or multipart) from an open descriptor — or from
 *  `body`, its bytes already in memory (hot-bodies.ts) — then closes the descriptor. */
export async function sendBody(fh: FileHandle, res: ServerResponse, size: number, ranges: ByteRange[] | null, type: string, onBytes: (n: number) => void, head: boolean, body: Buffer | null = null): Promise<void> {
  try {
    if (!ranges || ranges.length === 1) {
      const r = ranges?.[0] ?? { start: 0, end: size - 1 };
      if (ranges) {
        res.statusCode = 206;
        res.setHeader('Content-Range', `bytes ${r.start}-${r.end}/${size}`);
      }
      res.setHeader('Content-Length', String(size === 0 ? 0 : r.end - r.start + 1));
      if (head || size === 0) return void res.end();
      await pipeRange(fh, res, r, onBytes, body);
      res.end();
      return;
    }
    const boundary = randomBytes(12).toString('hex');
    const heads = ranges.map((r) => Buffer.from(`\r\n--${boundary}\r\nContent-Type: ${type}\r\nContent-Range: bytes ${r.start}-${r.end}/${size}\r\n\r\n`));
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const length = heads.reduce((n, h, i) => n + h.length + ranges[i].end - ranges[i].start + 1, tail.length);
    res.statusCode = 206;
    res.setHeader('Content-Type', `multipart/byteranges; boundary=${boundary}`);
    res.setHeader('Content-Length', String(length));
    if (head) return void res.end();
    for (let i = 0; i < ranges.length; i++) {
      res.write(heads[i]);
      await pipeRange(fh, res, ranges[i], onBytes, body);
    }
    res.end(tail);
  } catch (e) {
    res.destroy(e as Error);
  } finally {
    await fh.close().catch(() => {});
  }
}
