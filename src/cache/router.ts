// /mirror/<repo>/<path>: the HTTP face of the package cache. Cached files are served with
// Last-Modified/ETag, conditional requests, ranges (ranges.ts) and HEAD, from the descriptor
// the cache opened and checked; files being downloaded are streamed as they arrive (whole
// body, ranges ignored — allowed by RFC 9110). apt sends If-Modified-Since for index files on
// every update, so 304s keep a warm fleet quiet.
import { Router, type Request, type Response } from 'express';
import { etagOf } from '../http/assets.js';
import type { PackageCache, OpenResult } from './cache.js';
import { checkArchivePath, contentType } from './paths.js';
import { UpstreamError } from './upstream.js';
import { ifRangeAllows, parseRanges, sendBody } from './ranges.js';

export function createMirrorRouter(cache: PackageCache): Router {
  const r = Router();
  r.get('/:repo/*path', (req, res) => handle(cache, req, res));
  return r;
}

async function handle(cache: PackageCache, req: Request, res: Response): Promise<void> {
  const repo = req.params.repo as string;
  const raw = ([] as string[]).concat((req.params as Record<string, string | string[]>).path ?? []).join('/');
  const format = cache.repoFormat(repo);
  const path = format && checkArchivePath(raw, format);
  if (!path) {
    res.status(404).type('text/plain').send('not found\n');
    return;
  }
  let got: OpenResult;
  try {
    got = await cache.open(repo, path);
  } catch (e) {
    const timeout = e instanceof UpstreamError && e.timeout;
    res.status(timeout ? 504 : 502).type('text/plain').send(`upstream error: ${(e as Error).message}\n`);
    return;
  }
  if (got.type === 'status') {
    const s = got.status;
    res.status(s === 404 || s === 410 ? 404 : s === 503 ? 503 : 502).type('text/plain').send(`upstream status ${s}\n`);
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
    // body bytes of a miss came from upstream: counted there, not as cache bytes
    await download.pipeTo(res);
    return;
  }
  const { fh, size, mtimeMs, state } = got;
  const etag = etagOf(size, mtimeMs);
  const lastModified = new Date(mtimeMs).toUTCString();
  // refreshed: a held index's new version, fetched whole before it was served
  res.setHeader('X-Cache', state === 'stale' ? 'STALE' : state === 'refreshed' ? 'MISS' : 'HIT');
  if (state === 'stale') {
    // RFC 7234 warn-codes: 110 "Response is Stale", 111 "Revalidation Failed"
    res.setHeader('Warning', ['110 fleetboot "Response is Stale"', '111 fleetboot "Revalidation Failed"']);
  }
  res.setHeader('ETag', etag);
  res.setHeader('Last-Modified', lastModified);
  res.setHeader('Accept-Ranges', 'bytes');
  const inm = req.headers['if-none-match'];
  const ims = req.headers['if-modified-since'];
  const notModified = inm
    ? inm === '*' || inm.split(',').map((s) => s.trim().replace(/^W\//, '')).includes(etag)
    : ims !== undefined && !Number.isNaN(Date.parse(ims)) && Math.floor(mtimeMs / 1000) <= Date.parse(ims) / 1000;
  if (notModified) {
    await fh.close();
    res.status(304).end();
    return;
  }
  const ifRange = req.get('if-range');
  let ranges = parseRanges(req.headers.range, size);
  if (ranges && !ifRangeAllows(ifRange, etag, lastModified)) ranges = null;
  if (ranges === 'unsatisfiable') {
    // a Range If-Range does not allow is ignored, 416 included
    if (ifRangeAllows(ifRange, etag, lastModified)) {
      await fh.close();
      res.setHeader('Content-Range', `bytes */${size}`);
      res.status(416).end();
      return;
    }
    ranges = null;
  }
  res.status(200);
  const body = req.method === 'HEAD' ? null : await cache.hot.get(`${repo}/${path}`, got, fh).catch(() => null);
  await sendBody(fh, res, size, ranges, contentType(path), (n) => state !== 'refreshed' && cache.inc('bytesFromCache', n), req.method === 'HEAD', body);
}
