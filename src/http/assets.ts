// Serves boot assets (kernels, initrds, loaders) with ETag, conditional requests and single
// byte ranges. iPXE and curl resume and probe with Range; UEFI HTTP boot issues HEAD first.
// Every path goes through the realpath Jail: no "..", no encoded traversal, no symlink escape.
// The jail's verdicts, stats and small files' bytes are kept between requests (asset-cache.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, Response } from 'express';
import { logPath, type Logger } from '../log.js';
import { AssetCache, type AssetEntry, type Lookup } from './asset-cache.js';
import { sendRange, writeBytes } from './send-range.js';

export function etagOf(size: number, mtimeMs: number): string {
  return `"${size.toString(16)}-${Math.floor(mtimeMs).toString(16)}"`;
}

/** Parses a single "bytes=a-b" / "bytes=a-" / "bytes=-n" range. null: ignore header (serve whole);
 *  'unsatisfiable': 416. Multiple ranges are served as the whole file (allowed by RFC 9110). */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | null | 'unsatisfiable' {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return null;
  const [, a, b] = m;
  if (a === '' && b === '') return null;
  let start: number, end: number;
  if (a === '') {
    const n = Number(b);
    if (n === 0) return 'unsatisfiable';
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
    if (b !== '' && Number(b) < start) return null; // invalid: ignore
  }
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

/** bodies up to this are written at once; larger ones wait for the turn's write budget */
const SMALL_BODY = 256 * 1024;
let shared: AssetCache | undefined;

/**
 * The /assets cache of `root`, shared by the lean route and the express route. HTTP keeps the
 * bytes of files up to 64 MiB (256 MiB in all, least recently used out): kernels and initrds
 * in a reinstall wave are then one socket write each, with no read per request
 * (docs/performance.md).
 */
export function assetCacheFor(root: string): AssetCache {
  if (!shared || shared.root !== root) shared = new AssetCache(root, { maxBodyBytes: 64 * 1024 * 1024, maxTotalBodyBytes: 256 * 1024 * 1024 });
  return shared;
}

/** `cacheFor`: the cache of a root; by default the boot assets' shared one (assetCacheFor) */
export function assetsHandler(getRoot: () => string, log: Logger, cacheFor: (root: string) => AssetCache = assetCacheFor) {
  return async (req: Request, res: Response): Promise<void> => {
    const cache = cacheFor(getRoot());
    // express has already percent-decoded params; req.params.path is the list of segments
    const raw = ([] as string[]).concat((req.params as Record<string, string | string[]>).path ?? []).join('/');
    await serveAsset(cache, raw, req, res, log);
  };
}

/**
 * Answers one asset request from the cache's entry (see asset-cache.ts for what is kept).
 * Synchronous when the entry and the bytes are in memory (no promise, no microtask: the 60 KiB
 * hot path, docs/performance.md); a promise when it must resolve the path or read the file.
 */
export function serveAsset(cache: AssetCache, raw: string, req: IncomingMessage, res: ServerResponse, log: Logger, retried = false): void | Promise<void> {
  const r = cache.lookup(raw);
  if (r instanceof Promise) return r.then((x) => answer(cache, x, raw, req, res, log, retried));
  return answer(cache, r, raw, req, res, log, retried);
}

function answer(cache: AssetCache, r: Lookup, raw: string, req: IncomingMessage, res: ServerResponse, log: Logger, retried: boolean): void | Promise<void> {
  if (!r.ok) {
    if (r.reason === 'unavailable') {
      // out of descriptors or memory is not "no such file": firmware must retry, not give up
      log.warn({ ip: (req as Partial<Request>).ip ?? req.socket.remoteAddress, path: logPath(req.url ?? '') }, 'asset request: out of descriptors or memory, answered 503');
      res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': '5' }).end('server busy, try again\n');
      return;
    }
    if (r.reason === 'invalid' || r.reason === 'outside') log.warn({ ip: (req as Partial<Request>).ip ?? req.socket.remoteAddress, path: logPath(req.url ?? ''), reason: r.reason }, 'asset request refused');
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': '10' }).end('not found\n');
    return;
  }
  const e = r.entry;
  // an entry's size and mtime never change (a changed file gets a new entry): format once
  const etag = (e.etag ??= etagOf(e.size, e.mtimeMs));
  const headers: Record<string, string> = {
    ETag: etag,
    'Last-Modified': (e.lastModified ??= new Date(e.mtimeMs).toUTCString()),
    'Accept-Ranges': 'bytes',
    'Cache-Control': 'public, max-age=300',
    'Content-Type': 'application/octet-stream',
  };
  const inm = req.headers['if-none-match'];
  if (inm && (inm === '*' || inm.split(',').map((s) => s.trim().replace(/^W\//, '')).includes(etag))) {
    res.writeHead(304, headers).end();
    return;
  }
  let range = parseRange(req.headers.range, e.size);
  const ifRange = req.headers['if-range'];
  if (range && ifRange && ifRange !== etag) range = null; // changed since: send it all
  if (range === 'unsatisfiable') {
    headers['Content-Range'] = `bytes */${e.size}`;
    res.writeHead(416, headers).end();
    return;
  }
  const start = range ? range.start : 0;
  const end = range ? range.end : e.size - 1;
  if (range) headers['Content-Range'] = `bytes ${start}-${end}/${e.size}`;
  headers['Content-Length'] = String(e.size === 0 ? 0 : end - start + 1);
  const status = range ? 206 : 200;
  if (req.method === 'HEAD' || e.size === 0) {
    res.writeHead(status, headers).end();
    return;
  }
  if (e.body) {
    const bytes = range ? e.body.subarray(start, end + 1) : e.body;
    res.writeHead(status, headers);
    if (bytes.length <= SMALL_BODY) return void res.end(bytes);
    // a kernel or initrd from memory: one write when the turn's write budget allows
    return writeBytes(res, bytes).then((sent) => void (sent && res.end()));
  }
  return sendFile(cache, e, raw, req, res, log, retried, status, headers, start, end);
}

async function sendFile(cache: AssetCache, e: AssetEntry, raw: string, req: IncomingMessage, res: ServerResponse, log: Logger, retried: boolean, status: number, headers: Record<string, string>, start: number, end: number): Promise<void> {
  const fh = await cache.openChecked(raw, e);
  if (!fh) {
    // replaced since it was resolved: look it up afresh (once; a file that keeps changing
    // under us is a 503 rather than a loop)
    if (!retried) return serveAsset(cache, raw, req, res, log, true);
    res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': '1' }).end('asset changing, retry\n');
    return;
  }
  try {
    res.writeHead(status, headers);
    await sendRange(fh, res, start, end);
  } catch (err) {
    log.error({ err, path: e.path }, 'asset read failed');
  } finally {
    await fh.close().catch(() => {});
  }
}
