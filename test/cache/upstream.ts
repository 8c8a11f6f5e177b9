// A loopback "Debian mirror" for tests and the benchmark: serves a directory with
// Last-Modified/If-Modified-Since, counts requests and body bytes, and injects faults per path:
// slow drip, a gate (send part, wait for release), dropped connection mid-body, wrong bytes,
// error statuses, no answer at all, an HTML page. Directories are answered the way an
// autoindex mirror (Apache, nginx) answers them: "dir" -> 301 to "dir/", "dir/" -> an HTML
// listing.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createReadStream, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export type Fault =
  | { kind: 'status'; status: number }
  | { kind: 'drop'; afterBytes: number; chunked?: boolean }
  | { kind: 'corrupt' }
  | { kind: 'hang' }
  | { kind: 'slow'; bytesPerSec: number }
  | { kind: 'gate'; afterBytes: number; release: Promise<void> }
  | { kind: 'html' };

export class Upstream {
  requests: string[] = [];
  /** conditional headers per request, in order */
  headers: { path: string; ims?: string; inm?: string | string[] }[] = [];
  bodyBytes = 0;
  faults = new Map<string, Fault>();
  /** applies to every path without its own fault */
  allFault: Fault | undefined;
  private server: http.Server | undefined;
  private sockets = new Set<Socket>();
  port = 0;

  constructor(readonly root: string) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  countFor(path: string): number {
    return this.requests.filter((p) => p === path).length;
  }

  async start(port = 0): Promise<void> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (s) => (this.sockets.add(s), s.on('close', () => this.sockets.delete(s))));
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server?.close(r));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\/+/, '');
    this.headers.push({ path, ims: req.headers['if-modified-since'], inm: req.headers['if-none-match'] });
    this.requests.push(path);
    const fault = this.faults.get(path) ?? this.allFault;
    if (fault?.kind === 'hang') return; // never answer
    if (fault?.kind === 'status') {
      res.writeHead(fault.status).end('fault\n');
      return;
    }
    if (fault?.kind === 'html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<html><body>Please log in to the network</body></html>\n');
      return;
    }
    const file = join(this.root, path);
    let st;
    try {
      st = statSync(file);
    } catch {
      res.writeHead(404).end('not found\n');
      return;
    }
    if (st.isDirectory()) {
      if (!path.endsWith('/') && path !== '') {
        res.writeHead(301, { location: `/${path}/`, 'content-type': 'text/html' }).end(`<a href="/${path}/">moved</a>\n`);
        return;
      }
      const list = readdirSync(file).map((n) => `<a href="${n}">${n}</a>`).join('\n');
      res.writeHead(200, { 'content-type': 'text/html;charset=UTF-8' }).end(`<html><head><title>Index of /${path}</title></head><body><pre>${list}</pre></body></html>\n`);
      return;
    }
    const lm = new Date(Math.floor(st.mtimeMs / 1000) * 1000).toUTCString();
    const ims = req.headers['if-modified-since'];
    if (ims && Date.parse(ims) >= Math.floor(st.mtimeMs / 1000) * 1000) {
      res.writeHead(304, { 'last-modified': lm }).end();
      return;
    }
    const chunked = fault?.kind === 'drop' && fault.chunked;
    res.writeHead(200, { ...(chunked ? {} : { 'content-length': st.size }), 'last-modified': lm, 'content-type': 'application/octet-stream' });
    let sent = 0;
    for await (const c of createReadStream(file, { highWaterMark: 16 * 1024 })) {
      let chunk = c as Buffer;
      if (fault?.kind === 'corrupt') chunk = Buffer.from(chunk.map((b) => b ^ 0x5a));
      if (fault?.kind === 'drop' && sent + chunk.length > fault.afterBytes) {
        res.write(chunk.subarray(0, fault.afterBytes - sent));
        this.bodyBytes += fault.afterBytes - sent;
        await new Promise((r) => setTimeout(r, 20));
        res.socket?.destroy();
        return;
      }
      if (fault?.kind === 'gate' && sent < fault.afterBytes && sent + chunk.length >= fault.afterBytes) {
        const head = fault.afterBytes - sent;
        res.write(chunk.subarray(0, head));
        this.bodyBytes += head;
        sent += head;
        chunk = chunk.subarray(head);
        await fault.release;
      }
      if (fault?.kind === 'slow') await new Promise((r) => setTimeout(r, (chunk.length / fault.bytesPerSec) * 1000));
      if (res.destroyed) return;
      this.bodyBytes += chunk.length;
      sent += chunk.length;
      if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
    }
    res.end();
  }
}
