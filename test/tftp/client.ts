// A small TFTP read client for tests: lockstep or RFC 7440 windows, 16-bit rollover, and loss
// injection on its own ACKs. It behaves like a well-mannered real client: ACKs every
// `windowsize` blocks, ACKs the last good block once when it sees a gap, re-sends its last
// ACK (or the RRQ) when nothing arrives for `timeoutMs`.
import dgram from 'node:dgram';
import { decode, encode } from '../../src/tftp/codec.js';

export interface Chaos {
  /** each returns true to apply: drop / duplicate / delay (reorder) an outgoing packet */
  drop?: () => boolean;
  dup?: () => boolean;
  delay?: () => boolean;
}

export interface FetchOptions {
  port: number;
  file: string;
  mode?: string;
  options?: Record<string, string>;
  timeoutMs?: number;
  maxTries?: number;
  chaos?: Chaos;
  /** called for every accepted DATA block with the server's transfer port */
  onData?: (block: number, serverPort: number, sock: dgram.Socket) => void;
  /** stop after this many blocks without ACKing (for busy/stop tests) */
  stallAfter?: number;
}

export interface FetchResult {
  data: Buffer;
  oack?: Record<string, string>;
  error?: { code: number; message: string };
  firstOp?: string;
  serverPort?: number;
}

/** Deterministic PRNG so a failing lossy run can be replayed. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function fetch(o: FetchOptions): Promise<FetchResult> {
  const sock = dgram.createSocket('udp4');
  let closed = false;
  sock.once('close', () => (closed = true));
  const timeoutMs = o.timeoutMs ?? 200;
  const maxTries = o.maxTries ?? 50;
  return new Promise<FetchResult>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let serverPort: number | undefined;
    let blksize = 512;
    let windowsize = 1;
    let expected = 1; // absolute
    let sinceAck = 0;
    let gapAcked = false;
    let last: Buffer = encode({ op: 'rrq', filename: o.file, mode: o.mode ?? 'octet', options: Object.entries(o.options ?? {}) });
    let lastTo = o.port;
    let tries = 0;
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    let stalled = false;
    const result: FetchResult = { data: Buffer.alloc(0) };

    // the socket may be closed under us by whoever holds it (onData hands it out): a send or a
    // second close would throw ERR_SOCKET_DGRAM_NOT_RUNNING from a timer, outside any test
    const rawSend = (b: Buffer, port: number) => {
      if (!closed) sock.send(b, port, '127.0.0.1');
    };
    const send = (b: Buffer, port: number, chaos = true) => {
      const c = chaos ? o.chaos : undefined;
      if (c?.drop?.()) return;
      if (c?.delay?.()) setTimeout(() => !done && rawSend(b, port), 3);
      else rawSend(b, port);
      if (c?.dup?.()) rawSend(b, port);
    };
    const ack = (n: number) => {
      last = encode({ op: 'ack', block: n & 0xffff });
      lastTo = serverPort!;
      send(last, lastTo);
    };
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      // dally briefly so a lost final ACK can be answered, like real clients do (closing twice
      // throws too; a flaky CI run of thread.test.ts ended that way)
      setTimeout(() => {
        if (!closed) sock.close();
      }, err ? 0 : 50);
      if (err) reject(err);
      else resolve({ ...result, data: Buffer.concat(chunks), serverPort });
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (closed) return finish(new Error(`client socket closed at block ${expected}`));
        if (++tries > maxTries) return finish(new Error(`client gave up at block ${expected}`));
        send(last, lastTo);
        arm();
      }, timeoutMs);
    };

    sock.on('message', (msg, rinfo) => {
      if (done) {
        const d = decode(msg);
        if (d.ok && d.packet.op === 'data') rawSend(encode({ op: 'ack', block: d.packet.block }), rinfo.port);
        return;
      }
      if (serverPort === undefined) serverPort = rinfo.port;
      else if (rinfo.port !== serverPort) return;
      const d = decode(msg);
      if (!d.ok) return finish(new Error(`client got malformed packet: ${d.reason}`));
      const p = d.packet;
      if (stalled && p.op !== 'error') return;
      result.firstOp ??= p.op;
      tries = 0;
      if (p.op === 'error') {
        result.error = { code: p.code, message: p.message };
        return finish();
      }
      if (p.op === 'oack') {
        if (expected !== 1) return;
        result.oack = Object.fromEntries(p.options.map(([k, v]) => [k.toLowerCase(), v]));
        if (result.oack.blksize) blksize = Number(result.oack.blksize);
        if (result.oack.windowsize) windowsize = Number(result.oack.windowsize);
        ack(0);
        return arm();
      }
      if (p.op !== 'data') return;
      if (p.block === (expected & 0xffff)) {
        chunks.push(Buffer.from(p.data));
        o.onData?.(expected, rinfo.port, sock);
        expected++;
        sinceAck++;
        gapAcked = false;
        if (o.stallAfter !== undefined && expected > o.stallAfter) {
          stalled = true;
          clearTimeout(timer);
          return; // go silent: the server must cope (time out, be stopped)
        }
        if (p.data.length < blksize) {
          ack(expected - 1);
          return finish();
        }
        if (sinceAck >= windowsize) {
          sinceAck = 0;
          ack(expected - 1);
        }
      } else {
        // gap or duplicate: report the last good block once per gap (RFC 7440 §4)
        if (!gapAcked) {
          gapAcked = true;
          sinceAck = 0;
          ack(expected - 1);
        }
      }
      arm();
    });
    sock.bind(0, '127.0.0.1', () => {
      send(last, lastTo, false);
      arm();
    });
  });
}
