// A counting pass-through in front of a real mirror: the cache's upstream in the debootstrap
// test is this relay on loopback, so "zero upstream bytes" is counted by a server the cache
// does not control (not by the cache's own counters). Redirects are followed here, so every
// byte the cache gets from upstream passes through the relay.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

export class CountingRelay {
  requests: string[] = [];
  bodyBytes = 0;
  private server: http.Server | undefined;

  constructor(readonly target: string) {}

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      this.requests.push(req.url ?? '/');
      const headers: Record<string, string> = { 'user-agent': 'fleetboot-test-relay' };
      for (const h of ['if-modified-since', 'if-none-match', 'range']) if (typeof req.headers[h] === 'string') headers[h] = req.headers[h] as string;
      this.forward(`${this.target.replace(/\/+$/, '')}${req.url}`, headers, res, 5);
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
  }

  private forward(url: string, headers: Record<string, string>, res: http.ServerResponse, redirects: number): void {
    const mod = url.startsWith('https:') ? https : http;
    const up = mod.get(url, { headers }, (u) => {
      const status = u.statusCode ?? 502;
      if ([301, 302, 303, 307, 308].includes(status) && u.headers.location && redirects > 0) {
        u.resume();
        this.forward(new URL(u.headers.location, url).toString(), headers, res, redirects - 1);
        return;
      }
      const out: Record<string, string> = {};
      for (const h of ['content-length', 'content-type', 'last-modified', 'etag', 'content-range']) if (typeof u.headers[h] === 'string') out[h] = u.headers[h] as string;
      res.writeHead(status, out);
      u.on('data', (c: Buffer) => (this.bodyBytes += c.length));
      u.pipe(res);
      u.on('aborted', () => res.destroy());
    });
    up.on('error', () => res.destroy());
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}
