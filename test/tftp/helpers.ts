// Shared setup for the TFTP tests: a temp root with files, a server on an ephemeral loopback
// port with captured logs and its own registry, and a socket factory that makes lossy sockets.
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { decode, encode } from '../../src/tftp/codec.js';
import { tftpConfigSchema, type TftpConfigInput } from '../../src/tftp/config.js';
import { TftpServer, type GeneratedFileSource, type SocketFactory } from '../../src/tftp/server.js';
import { rng } from './client.js';

export function makeRoot(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'fbtftp-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Pseudo-random but reproducible content; written in 1 MiB pieces so 32 MiB stays cheap. */
export function writeFile(path: string, size: number, seed = 1): Buffer | undefined {
  const r = rng(seed);
  const piece = Buffer.alloc(1 << 20);
  for (let i = 0; i < piece.length; i += 4) piece.writeUInt32LE(Math.floor(r() * 2 ** 32), i);
  if (size <= piece.length) {
    const b = piece.subarray(0, size);
    writeFileSync(path, b);
    return b;
  }
  const fd = openSync(path, 'w');
  for (let off = 0, i = 0; off < size; off += piece.length, i++) {
    piece.writeUInt32LE(i, 0); // pieces differ, so a block served from the wrong offset shows
    writeSync(fd, piece, 0, Math.min(piece.length, size - off));
  }
  closeSync(fd);
  return undefined;
}

export interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

export interface TestServer {
  server: TftpServer;
  registry: Registry;
  logs: LogLine[];
  port: number;
  metric(name: string, labels?: Record<string, string>): Promise<number>;
}

export async function startServer(opts: {
  root: string;
  config?: TftpConfigInput;
  generated?: GeneratedFileSource;
  socketFactory?: SocketFactory;
  transferAddress?: string;
}): Promise<TestServer> {
  const logs: LogLine[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line) as LogLine);
      cb();
    },
  });
  const registry = new Registry();
  const server = new TftpServer({
    config: tftpConfigSchema.parse({ address: '127.0.0.1', port: 0, timeoutMs: 200, retries: 8, ...opts.config }),
    root: opts.root,
    log: pino({ level: 'debug' }, sink),
    registry,
    generated: opts.generated,
    socketFactory: opts.socketFactory,
    transferAddress: opts.transferAddress,
  });
  await server.start();
  return {
    server,
    registry,
    logs,
    port: server.port,
    async metric(name, labels) {
      const m = registry.getSingleMetric(name);
      if (!m) return NaN;
      const v = (await m.get()).values.filter((x) => Object.entries(labels ?? {}).every(([k, val]) => x.labels[k] === val));
      return v.reduce((a, x) => a + x.value, 0);
    },
  };
}

export interface LossRates {
  drop: number;
  dup: number;
  reorder: number;
  /** drop rate for packets arriving at the socket */
  dropIn: number;
}

/** Sockets that drop, duplicate and reorder (delay) what they send, and drop what they receive. */
export function lossySocketFactory(seed: number, rates: LossRates): SocketFactory {
  const r = rng(seed);
  return () => {
    const s = dgram.createSocket('udp4');
    const send = s.send.bind(s) as (...a: unknown[]) => void;
    (s as unknown as { send: (...a: unknown[]) => void }).send = (...args: unknown[]) => {
      const cb = typeof args[args.length - 1] === 'function' ? (args[args.length - 1] as () => void) : undefined;
      const x = r();
      if (x < rates.drop) {
        if (cb) setImmediate(cb);
        return;
      }
      if (x < rates.drop + rates.reorder) {
        setTimeout(() => {
          try {
            send(...args);
          } catch {
            /* socket closed meanwhile: a late packet that never left */
          }
        }, 1 + Math.floor(r() * 4));
        return;
      }
      send(...args);
      if (r() < rates.dup) {
        const copy = cb ? args.slice(0, -1) : args;
        try {
          send(...copy);
        } catch {
          /* closed */
        }
      }
    };
    const emit = s.emit.bind(s) as (ev: string, ...a: unknown[]) => boolean;
    (s as unknown as { emit: typeof emit }).emit = (ev: string, ...a: unknown[]) => {
      if (ev === 'message' && r() < rates.dropIn) return true;
      return emit(ev, ...a);
    };
    return s;
  };
}

/** Sends an RRQ to `to` and returns the source address of the first DATA (or null: nothing came). */
export async function firstDataFrom(to: string, port: number, file = 'small.bin'): Promise<string | null> {
  const c = dgram.createSocket('udp4');
  await new Promise<void>((r) => c.bind(0, '127.0.0.1', r));
  try {
    const got = new Promise<string | null>((resolve) => {
      const t = setTimeout(() => resolve(null), 1000);
      c.on('message', (m, ri) => {
        const d = decode(m);
        if (d.ok && d.packet.op === 'data') {
          clearTimeout(t);
          c.send(encode({ op: 'error', code: 0, message: 'enough' }), ri.port, ri.address);
          resolve(ri.address);
        }
      });
    });
    c.send(encode({ op: 'rrq', filename: file, mode: 'octet', options: [] }), port, to);
    return await got;
  } finally {
    c.close();
  }
}
