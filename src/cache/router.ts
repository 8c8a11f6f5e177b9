// /mirror/<repo>/<path>: the HTTP face of the package cache. Cached files are served with
// Last-Modified/ETag, conditional requests, single ranges and HEAD; files being downloaded are
// streamed as they arrive (whole body, ranges ignored — allowed by RFC 9110). apt sends
// If-Modified-Since for index files on every update, so 304s keep a warm fleet quiet.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Router, type Request, type Response } from 'express';
import { etagOf, parseRange } from '../http/assets.js';
import type { PackageCache } from './cache.js';
import { checkArchivePath, contentType } from './paths.js';
import { UpstreamError } from './upstream.js';

export function createMirrorRouter(cache: PackageCache): Router {
  const r = Router();
  r.get('/:repo/*path', (req, res) => handle(cache, req, res));
  return r;
}

async function handle(cache: PackageCache, req: Request, res: Response): Promise<void> {
  const repo = req.params.repo as string;
  const raw = ([] as string[]).concat((req.params as Record<string, string | string[]>).path ?? []).join('/');
  const path = checkArchivePath(raw);
  if (!path || !cache.repoNames().includes(repo)) {
    res.status(404).type('text/plain').send('not found\n');
    return;
  }
  let got;
  try {
    got = await cache.open(repo, path);
  } catch (e) {
    const timeout = e instanceof UpstreamError && e.timeout;
    res.status(timeout ? 504 : 502).type('text/plain').send(`upstream error: ${(e as Error).message}\n`);
    return;
  }
  if (got.type === 'status') {
    res.status(got.status === 404 || got.status === 410 ? 404 : 502).type('text/plain').send(`upstream status ${got.status}\n`);
    return;
  }
  res.setHeader('Content-Type', contentType(path));
  if (got.type === 'download') {
    const { download, meta } = got;
    res.setHeader('X-Cache', 'MISS');
    if (meta.size !== undefined) res.setHeader('Content-Length', String(meta.size));
    if (meta.lastModified) res.setHeader('Last-Modified', meta.lastModified);
    if (req.method === 'HEAD') {
      download.leave(); // the download goes on and fills the cache
      res.end();
      return;
    }
    res.status(200);
    res.flushHeaders();
    const n = await download.pipeTo(res);
    // body bytes of a miss came from upstream: counted there, not as cache bytes
    void n;
    return;
  }
  await serveFile(cache, req, res, got.file, got.state);
}

async function serveFile(cache: PackageCache, req: Request, res: Response, file: string, state: 'fresh' | 'revalidated' | 'stale'): Promise<void> {
  const st = await stat(file).catch(() => null);
  if (!st) {
    res.status(503).type('text/plain').send('cached file vanished; retry\n');
    return;
  }
  const etag = etagOf(st.size, st.mtimeMs);
  res.setHeader('X-Cache', state === 'stale' ? 'STALE' : 'HIT');
  if (state === 'stale') {
    // RFC 7234 warn-codes: 110 "Response is Stale", 111 "Revalidation Failed"
    res.setHeader('Warning', ['110 fleetboot "Response is Stale"', '111 fleetboot "Revalidation Failed"']);
  }
  res.setHeader('ETag', etag);
  res.setHeader('Last-Modified', new Date(st.mtimeMs).toUTCString());
  res.setHeader('Accept-Ranges', 'bytes');
  const inm = req.headers['if-none-match'];
  const ims = req.headers['if-modified-since'];
  const notModified = inm
    ? inm === '*' || inm.split(',').map((s) => s.trim().replace(/^W\//, '')).includes(etag)
    : ims !== undefined && !Number.isNaN(Date.parse(ims)) && Math.floor(st.mtimeMs / 1000) <= Date.parse(ims) / 1000;
  if (notModified) {
    res.status(304).end();
    return;
  }
  let range = parseRange(req.headers.range, st.size);
  const ifRange = req.headers['if-range'];
  if (range && ifRange && ifRange !== etag && ifRange !== new Date(st.mtimeMs).toUTCString()) range = null;
  if (range === 'unsatisfiable') {
    res.setHeader('Content-Range', `bytes */${st.size}`);
    res.status(416).end();
    return;
  }
  const start = range ? range.start : 0;
  const end = range ? range.end : st.size - 1;
  if (range) {
    res.status(206);
    res.setHeader('Content-Range', `bytes ${start}-${end}/${st.size}`);
  }
  res.setHeader('Content-Length', String(st.size === 0 ? 0 : end - start + 1));
  if (req.method === 'HEAD' || st.size === 0) {
    res.end();
    return;
  }
  const s = createReadStream(file, { start, end, highWaterMark: 256 * 1024 });
  s.on('data', (c) => cache.inc('bytesFromCache', (c as Buffer).length));
  s.on('error', (e) => res.destroy(e));
  s.pipe(res);
}
