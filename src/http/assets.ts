// Serves boot assets (kernels, initrds, loaders) with ETag, conditional requests and single
// byte ranges. iPXE and curl resume and probe with Range; UEFI HTTP boot issues HEAD first.
// Every path goes through the realpath Jail: no "..", no encoded traversal, no symlink escape.
import { createReadStream } from 'node:fs';
import type { Request, Response } from 'express';
import { Jail } from '../jail.js';
import { isResourceError } from '../errors.js';
import type { Logger } from '../log.js';

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

export function assetsHandler(getRoot: () => string, log: Logger) {
  let jail: Jail | undefined;
  return async (req: Request, res: Response): Promise<void> => {
    const root = getRoot();
    if (!jail || jail.root !== root) jail = new Jail(root);
    // express has already percent-decoded params; req.params.path is the list of segments
    const raw = ([] as string[]).concat((req.params as Record<string, string | string[]>).path ?? []).join('/');
    const r = await jail.resolve(raw);
    if (!r.ok) {
      if (r.reason === 'unavailable') {
        log.warn({ ip: req.ip, path: req.originalUrl }, 'asset request: out of descriptors or memory, answered 503');
        res.status(503).set('Retry-After', '5').type('text/plain').send('server busy, try again\n');
        return;
      }
      if (r.reason === 'invalid' || r.reason === 'outside') log.warn({ ip: req.ip, path: req.originalUrl, reason: r.reason }, 'asset request refused');
      res.status(404).type('text/plain').send('not found\n');
      return;
    }
    const etag = etagOf(r.size, r.mtimeMs);
    res.setHeader('ETag', etag);
    res.setHeader('Last-Modified', new Date(r.mtimeMs).toUTCString());
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.type('application/octet-stream');
    const inm = req.headers['if-none-match'];
    if (inm && (inm === '*' || inm.split(',').map((s) => s.trim().replace(/^W\//, '')).includes(etag))) {
      res.status(304).end();
      return;
    }
    let range = parseRange(req.headers.range, r.size);
    const ifRange = req.headers['if-range'];
    if (range && ifRange && ifRange !== etag) range = null; // changed since: send it all
    if (range === 'unsatisfiable') {
      res.setHeader('Content-Range', `bytes */${r.size}`);
      res.status(416).end();
      return;
    }
    const start = range ? range.start : 0;
    const end = range ? range.end : r.size - 1;
    if (range) {
      res.status(206);
      res.setHeader('Content-Range', `bytes ${start}-${end}/${r.size}`);
    }
    res.setHeader('Content-Length', String(r.size === 0 ? 0 : end - start + 1));
    if (req.method === 'HEAD' || r.size === 0) {
      res.end();
      return;
    }
    const stream = createReadStream(r.path, { start, end, highWaterMark: 256 * 1024 });
    stream.on('error', (e) => {
      log.error({ err: e, path: r.path }, 'asset read failed');
      // failing to open (out of descriptors) happens before any byte: say "try again"
      if (!res.headersSent && isResourceError(e)) {
        res.removeHeader('Content-Length');
        return void res.status(503).set('Retry-After', '5').type('text/plain').send('server busy, try again\n');
      }
      res.destroy(e);
    });
    stream.pipe(res);
  };
}
