// Minimal HTTP client for the cache tests: whole responses, or a failure the way apt would see
// it (connection aborted mid-body, or fewer bytes than Content-Length).
import http from 'node:http';

export interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** set when the body did not arrive complete */
  error?: string;
}

export function get(url: string, opts: { method?: string; headers?: Record<string, string>; onData?: (total: number) => void } = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let total = 0;
      let settled = false;
      const finish = (error?: string) => {
        if (settled) return;
        settled = true;
        const body = Buffer.concat(chunks);
        const cl = res.headers['content-length'];
        if (!error && opts.method !== 'HEAD' && cl !== undefined && Number(cl) !== body.length && res.statusCode !== 304) error = `short body: ${body.length} of ${cl}`;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, error });
      };
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        total += c.length;
        opts.onData?.(total);
      });
      res.on('end', () => finish(res.complete ? undefined : 'incomplete'));
      res.on('aborted', () => finish('aborted'));
      res.on('error', (e) => finish(e.message));
      res.on('close', () => finish(res.complete ? undefined : 'closed before complete'));
    });
    req.on('error', reject);
    req.end();
  });
}

/** GET with the request-target sent exactly as given (no URL parsing: "../" and "%2e" reach
 *  the server as written, the way a hostile client sends them). */
export function rawGet(port: number, target: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'GET', path: target, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Polls `cond` until it holds (a condition, never a fixed sleep); fails after `ms`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
