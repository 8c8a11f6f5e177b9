// Limits on what one HTTP client can hold: time to send its headers and its whole request,
// silence on an open connection, and connections per client address and in total. Without
// them (issue 13) 4,000 connections trickling a body one byte every 10 s were never dropped and
// ~20,000 ran the process out of descriptors: /boot.ipxe was refused and TFTP could not open
// files. Responses are not limited: a slow installer may take its time downloading a kernel
// (requestTimeout covers receiving the request only; an active download is never idle).
import type { Server as HttpServer, ServerOptions } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { z } from 'zod';
import type { Logger } from '../log.js';
import { ERRORS } from '../errors.js';

/** Fields of the `http:` section (src/config/schema.ts spreads them in). docs: README.md. */
export const httpLimitsShape = {
  /** a client must send its complete request headers within this */
  headersTimeoutMs: z.number().int().min(100).max(600_000).default(20_000),
  /** ...and its complete request, body included (a slow body is dropped after this) */
  requestTimeoutMs: z.number().int().min(100).max(3_600_000).default(60_000),
  /** a connection with no bytes moving either way for this long is closed (0: never) */
  idleTimeoutMs: z.number().int().min(0).max(3_600_000).default(120_000),
  /** open connections from one client address; further ones get 503 and are closed */
  maxConnectionsPerAddress: z.number().int().min(1).max(1_000_000).default(64),
  /** open connections in total (keep well below the descriptor limit, `ulimit -n`) */
  maxConnections: z.number().int().min(1).max(1_000_000).default(4096),
};
const limitsSchema = z.object(httpLimitsShape);
export type HttpLimits = z.infer<typeof limitsSchema>;

/** Options for createServer: Node checks header/request deadlines every connectionsCheckingInterval. */
export function serverOptions(l: HttpLimits): ServerOptions {
  return {
    headersTimeout: l.headersTimeoutMs,
    requestTimeout: l.requestTimeoutMs,
    // Node's default (30 s) would let a slowloris connection live up to 30 s past its deadline
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(Math.min(l.headersTimeoutMs, l.requestTimeoutMs) / 4))),
  };
}

const BUSY_BODY = `${ERRORS.FB_TOO_MANY_CONNECTIONS.message}\n`;
const BUSY = `HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(BUSY_BODY)}\r\nRetry-After: 5\r\nConnection: close\r\n\r\n${BUSY_BODY}`;

/**
 * Applies the limits to a listening server (before listen). Over the per-address cap, a plain
 * HTTP connection is answered 503 at once and closed without its request ever being parsed;
 * over TLS it is closed (no handshake to answer in). Over the total cap Node drops new connections itself.
 * Counts are per server: the admin HTTPS listener has its own.
 */
export function applyLimits(server: HttpServer | HttpsServer, l: HttpLimits, log: Logger, opts: { tls?: boolean } = {}): { connections(address: string): number } {
  server.timeout = l.idleTimeoutMs;
  server.maxConnections = l.maxConnections;
  server.headersTimeout = l.headersTimeoutMs;
  server.requestTimeout = l.requestTimeoutMs;
  const open = new Map<string, number>();
  // Node's server.maxConnections sees only what this server's own descriptor accepted; the
  // extra accepting descriptors (accept-fanout.ts) hand theirs in through emit, so the total
  // cap is counted here for all of them
  let total = 0;
  let lastWarn = -Infinity;
  const refuse = (socket: Socket, ip: string) => {
    // one line per 10 s at most: the flood must not become a log flood
    if (Date.now() - lastWarn > 10_000) {
      lastWarn = Date.now();
      log.warn({ ip, max: l.maxConnectionsPerAddress }, 'too many connections from one address; refusing more (logged once per 10 s)');
    }
    socket.on('error', () => {});
    if (opts.tls) return void socket.destroy();
    socket.resume(); // read and discard whatever the client sends
    socket.end(BUSY);
    setTimeout(() => socket.destroy(), 1000).unref();
  };
  // A refused socket must never reach the HTTP server: a 'connection' listener runs too late
  // (the server's own listener, added by its constructor, would already parse and run the
  // request behind our 503 — a refused login would still be hashed). So the check sits in
  // front of the event itself.
  const emit = server.emit.bind(server) as (event: string | symbol, ...args: unknown[]) => boolean;
  server.emit = ((event: string | symbol, ...args: unknown[]) => {
    if (event !== 'connection') return emit(event, ...args);
    const socket = args[0] as Socket;
    if (total >= l.maxConnections) {
      // as Node does over maxConnections: closed without an answer
      socket.destroy();
      return true;
    }
    const ip = socket.remoteAddress ?? 'unknown';
    const n = (open.get(ip) ?? 0) + 1;
    if (n > l.maxConnectionsPerAddress) {
      refuse(socket, ip);
      return true;
    }
    open.set(ip, n);
    total++;
    socket.once('close', () => {
      total--;
      const left = (open.get(ip) ?? 1) - 1;
      if (left > 0) open.set(ip, left);
      else open.delete(ip);
    });
    return emit(event, ...args);
  }) as typeof server.emit;
  return { connections: (address) => open.get(address) ?? 0 };
}
