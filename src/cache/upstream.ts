// The upstream HTTP client: Node's own http/https (no dependency), keep-alive agents, a timeout
// that covers connect, headers and every silence mid-body, and a few redirects (some mirrors
// send http -> https or to a nearby host; a redirect to "path/" is not followed: it means
// "directory"). The body is handed back as the raw stream.
import http from 'node:http';
import https from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';

export interface UpstreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: IncomingMessage;
}

export interface FetchOptions {
  headers?: Record<string, string>;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Injectable for tests; the default is httpFetch below. */
export type FetchFn = (url: string, opts: FetchOptions) => Promise<UpstreamResponse>;

export class UpstreamError extends Error {
  constructor(message: string, readonly status?: number, readonly timeout = false) {
    super(message);
  }
}

/** The body arrived but its length or digest is not what the index says: refused. */
export class VerifyError extends UpstreamError {}

const defaultAgents = {
  http: new http.Agent({ keepAlive: true, maxSockets: 32 }),
  https: new https.Agent({ keepAlive: true, maxSockets: 32 }),
};

export function httpFetchWith(agent?: http.Agent): FetchFn {
  return (url, opts) => request(url, opts, agent, 5);
}

export const httpFetch: FetchFn = httpFetchWith();

function request(url: string, opts: FetchOptions, agent: http.Agent | undefined, redirects: number): Promise<UpstreamResponse> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.request(u, {
      method: 'GET',
      headers: { 'user-agent': 'fleetboot-cache', ...opts.headers },
      agent: agent && u.protocol === 'http:' ? agent : u.protocol === 'https:' ? defaultAgents.https : defaultAgents.http,
      signal: opts.signal,
    });
    // socket idle timeout: applies before the headers and between body chunks alike
    req.setTimeout(opts.timeoutMs, () => req.destroy(new UpstreamError(`upstream timeout after ${opts.timeoutMs} ms`, undefined, true)));
    req.on('error', (e) => reject(e instanceof UpstreamError ? e : new UpstreamError(`upstream: ${e.message}`)));
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      if ([301, 302, 303, 307, 308].includes(status) && res.headers.location && redirects > 0) {
        const next = new URL(res.headers.location, u);
        // "path" -> "path/" is how an autoindex mirror says "that is a directory": handed back
        // as the redirect it is (never followed into an HTML listing)
        if (next.pathname === u.pathname + '/') {
          resolve({ status, headers: res.headers, body: res });
          return;
        }
        res.resume();
        request(next.toString(), opts, agent, redirects - 1).then(resolve, reject);
        return;
      }
      // errors after this point surface on the body stream, where the reader sees them
      resolve({ status, headers: res.headers, body: res });
    });
    req.end();
  });
}
