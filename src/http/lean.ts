// The two hot boot routes answered before express: GET/HEAD /assets/<path> and GET
// /boot.ipxe. In a boot storm these are nearly all the HTTP traffic, and express's per-request
// setup and router walk cost more than the answers themselves (docs/performance.md: a minimal
// express app served a 60 KiB buffer at roughly half the rate of a bare node:http handler).
// Only the plain, common shapes are taken here; anything else — another method, a malformed
// or repeated parameter, a trailing slash, trust-proxy mode (req.ip then comes from
// X-Forwarded-For) — falls through to the express app, which stays the reference behaviour
// and serves the same handlers. Counted in the same fleetboot_http_* metrics under the same
// route labels as the express routes.
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { httpMeter } from './http-meter.js';
import type { Logger } from '../log.js';
import type { BootService } from '../boot/service.js';
import type { ConfigHolder } from '../config/holder.js';
import { normaliseMac } from '../config/holder.js';
import { assetCacheFor, serveAsset } from './assets.js';
import { archFrom } from './boot.js';

export interface LeanDeps {
  holder: ConfigHolder;
  boot: BootService;
  registry: Registry;
  log: Logger;
}

/** Wraps the express app: the hot routes first, everything else to `app`. */
export function leanRoutes(app: RequestListener, d: LeanDeps): RequestListener {
  const log = d.log.child({ subsystem: 'http' });
  const meter = httpMeter(d.registry);
  const count = (req: IncomingMessage, res: ServerResponse, route: string) => {
    const t0 = performance.now();
    res.once('finish', () => meter.record(route, req.method ?? '', res.statusCode, (performance.now() - t0) / 1000));
  };

  return (req, res) => {
    const url = req.url ?? '';
    const method = req.method;
    if ((method === 'GET' || method === 'HEAD') && url.startsWith('/assets/') && !d.holder.config.http.trustProxy) {
      const raw = assetPath(url);
      if (raw !== null) {
        const root = d.holder.config.paths.assets;
        const cache = assetCacheFor(root);
        count(req, res, '/assets/*path');
        try {
          serveAsset(cache, raw, req, res, log)?.catch((err) => fail(log, res, err));
        } catch (err) {
          fail(log, res, err);
        }
        return;
      }
    } else if (method === 'GET' && (url === '/boot.ipxe' || url.startsWith('/boot.ipxe?')) && !d.holder.config.http.trustProxy) {
      const q = new URLSearchParams(url.slice('/boot.ipxe'.length + 1));
      // a repeated key means something else to express's parser (an array): leave it to express
      if (q.getAll('mac').length === 1 && q.getAll('platform').length <= 1 && q.getAll('buildarch').length <= 1) {
        count(req, res, '/boot.ipxe');
        bootIpxe(d.boot, q, req, res).catch((err) => fail(log, res, err));
        return;
      }
    }
    app(req, res);
  };
}

/** /assets/<segments> percent-decoded per segment (as express does); null: let express decide */
function assetPath(url: string): string | null {
  const q = url.indexOf('?');
  const path = url.slice('/assets/'.length, q < 0 ? undefined : q);
  if (path === '' || path.endsWith('/')) return null;
  try {
    return path.split('/').map(decodeURIComponent).join('/');
  } catch {
    return null; // malformed escape: express answers it
  }
}

function send(res: ServerResponse, status: number, body: string, extra: Record<string, string> = {}): void {
  const b = Buffer.from(body);
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(b.length), ...extra }).end(b);
}

async function bootIpxe(boot: BootService, q: URLSearchParams, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const mac = normaliseMac(q.get('mac') ?? '');
  if (!mac) return send(res, 400, '#!ipxe\necho fleetboot: missing or malformed ?mac=\nexit\n');
  const { script } = await boot.ipxeBatched({ mac, arch: archFrom(q.get('platform') ?? undefined, q.get('buildarch') ?? undefined), kind: 'ipxe', via: 'http', ip: req.socket.remoteAddress });
  if (script === null) return send(res, 404, 'not found\n');
  send(res, 200, script, { 'Cache-Control': 'no-store' });
}

function fail(log: Logger, res: ServerResponse, err: unknown): void {
  log.error({ err }, 'unhandled HTTP error');
  if (!res.headersSent) send(res, 500, 'internal error\n');
  else res.destroy();
}
