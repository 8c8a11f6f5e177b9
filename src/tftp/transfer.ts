// One read transfer on its own socket (its own transfer ID, RFC 1350 §4).
//
// Block numbers are tracked as absolute integers and only wrapped to 16 bits on the wire, so
// files beyond 65535 blocks roll over 65535 -> 0 (what tftp-hpa, atftp, curl, iPXE, PXELINUX
// and EDK2 all expect) without special cases. An ACK's 16-bit number is mapped back to the
// absolute block inside [base, highestSent]; anything else is stale and ignored.
//
// Windowing (RFC 7440): we send up to `windowsize` blocks past the last acknowledged one.
// An ACK n means "I have everything up to n": the next window starts at n+1, also when n is
// before the end of what we sent (the client saw a gap and dropped the rest).
// Duplicate ACKs: with windowsize 1 a duplicate ACK never triggers a resend (Sorcerer's
// Apprentice Syndrome, RFC 1123 §4.2.3.1) — our timer covers real loss. With a window, a
// duplicate of the current base is a gap report; it restarts the window unless we restarted
// from the same base within DUP_HOLDOFF_MS (a burst of gap reports for one loss must not
// multiply the resends).
import type dgram from 'node:dgram';
import { dataHeader, decode, encode, ErrorCode, type Packet } from './codec.js';
import type { Negotiated } from './options.js';
import type { BlockSource } from './source.js';

export type TransferResult = 'ok' | 'timeout' | 'declined' | 'client_error' | 'io_error' | 'cancelled';

/** What a transfer logs through: the daemon's logger, or the transfer thread's forwarder. */
export interface TransferLog {
  debug(fields: object, msg?: string): void;
  info(fields: object, msg?: string): void;
  warn(fields: object, msg?: string): void;
  error(fields: object, msg?: string): void;
}

export interface TransferMetrics {
  retransmit(n: number): void;
  malformed(): void;
  unknownTid(): void;
}

export interface TransferOptions {
  socket: dgram.Socket;
  client: { address: string; port: number };
  file: string;
  source: BlockSource;
  neg: Negotiated;
  retries: number;
  log: TransferLog;
  metrics: TransferMetrics;
  now: () => number;
  onDone: (t: Transfer, result: TransferResult) => void;
}

/** Longest single retransmission wait after backoff. */
const MAX_BACKOFF_MS = 10_000;
/**
 * Floor of the adaptive retransmission timeout. The configured/negotiated timeout is the
 * ceiling; in between we follow the measured RTT (RFC 6298 estimator, Karn's rule), because
 * clients such as atftp only re-ACK after their own 1 s+ timeout: with a fixed 1 s timer every
 * lost packet stalled the transfer for a second (a 32 MB fetch with receive-buffer overflows
 * took minutes). The floor keeps us from retransmitting into a client that is merely busy.
 */
const MIN_RTO_MS = 20;
const DUP_HOLDOFF_MS = 50;
/** Read at least this much per pread so small windows do not mean tiny reads. */
const READ_CHUNK = 256 * 1024;

export class Transfer {
  private readonly o: TransferOptions;
  private readonly blksize: number;
  private readonly window: number;
  private phase: 'oack' | 'data' = 'data';
  private base = 0; // last acknowledged block (0 = only the OACK, or nothing yet)
  private highestSent = 0;
  private lastBlock: number | undefined; // set once the short (final) block has been read
  private lastBlockLen = 0;
  private cacheOffset = 0;
  private cache: Buffer = Buffer.alloc(0);
  private cacheEof = false;
  private gen = 0; // bumps on every window (re)start; an older in-flight read is abandoned
  private timer: NodeJS.Timeout | undefined;
  private timeoutMs: number;
  private tries = 0;
  private lastProgressAt: number;
  private srtt: number | undefined;
  private rttvar = 0;
  private windowSentAt = 0;
  private windowClean = false; // no block of the current window was a retransmission (Karn)
  private restartAt = -Infinity;
  private restartBase = -1;
  private closed = false;
  readonly startedAt: number;
  retransmits = 0;
  result: TransferResult | undefined;

  constructor(o: TransferOptions) {
    this.o = o;
    this.blksize = o.neg.blksize;
    this.window = o.neg.windowsize;
    this.timeoutMs = o.neg.timeoutMs;
    this.startedAt = o.now();
    this.lastProgressAt = this.startedAt;
  }

  /** Retransmission timeout after progress: adaptive between MIN_RTO_MS and the negotiated timeout. */
  private rto(): number {
    if (this.srtt === undefined) return this.o.neg.timeoutMs;
    return Math.min(this.o.neg.timeoutMs, Math.max(MIN_RTO_MS, Math.ceil(this.srtt + 4 * this.rttvar)));
  }

  private sampleRtt(r: number): void {
    if (this.srtt === undefined) {
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
  }

  get key(): string {
    return `${this.o.client.address}:${this.o.client.port}`;
  }

  /** Bytes the client has acknowledged. */
  get bytes(): number {
    if (this.lastBlock !== undefined && this.base >= this.lastBlock) return (this.lastBlock - 1) * this.blksize + this.lastBlockLen;
    return this.base * this.blksize;
  }

  start(): void {
    this.o.socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    this.o.socket.on('close', () => this.resolveClosed());
    // send failures (ENOBUFS, EHOSTUNREACH...) are transient or end in our retry timeout
    this.o.socket.on('error', (err) => this.o.log.debug({ err }, 'tftp: transfer socket error'));
    try {
      if (this.o.neg.accepted.length > 0) {
        this.phase = 'oack';
        this.sendOack();
      } else {
        this.sendWindow(1);
      }
    } catch (err) {
      // never leave a registered transfer half-started: finish() frees the server's slot
      this.o.log.error({ err }, 'tftp: transfer failed to start');
      this.finish('io_error');
    }
  }

  /** Ends the transfer from outside (server stop): tells the client, then closes. */
  cancel(message: string): void {
    this.finish('cancelled', encode({ op: 'error', code: ErrorCode.NOT_DEFINED, message }));
  }

  private resolveClosed: () => void = () => {};
  /** Resolves once the transfer's socket is closed. */
  readonly closedPromise: Promise<void> = new Promise((r) => (this.resolveClosed = r));

  private send(buf: Buffer | Buffer[]): void {
    if (this.closed) return;
    // No callback: asynchronous send errors surface as 'error' events (logged in start()).
    // dgram also throws synchronously (ERR_SOCKET_BAD_PORT for port 0, bad arguments): such a
    // destination can never be reached, so the transfer ends instead of retrying into it —
    // and the exception must not escape into a socket handler or a promise callback.
    try {
      this.o.socket.send(buf, this.o.client.port, this.o.client.address);
    } catch (err) {
      this.o.log.warn({ err }, 'tftp: cannot send to client, transfer abandoned');
      this.finish('io_error');
    }
  }

  private sendOack(): void {
    this.send(encode({ op: 'oack', options: this.o.neg.accepted }));
    this.arm();
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.closed) return;
    this.timer = setTimeout(() => this.onTimeout(), this.timeoutMs);
  }

  private onTimeout(): void {
    this.timer = undefined;
    if (this.closed) return;
    // Bounded twice: by retry count and by silence, so a small adaptive RTO cannot make us give
    // up on a client much sooner than `retries` fixed timeouts would have.
    const silence = this.o.now() - this.lastProgressAt;
    if (++this.tries > this.o.retries && silence >= this.o.neg.timeoutMs * (this.o.retries + 1)) {
      this.o.log.debug({ base: this.base, phase: this.phase, tries: this.tries }, 'tftp: no answer from client, giving up');
      this.finish('timeout', encode({ op: 'error', code: ErrorCode.NOT_DEFINED, message: 'timed out' }));
      return;
    }
    this.timeoutMs = Math.min(this.timeoutMs * 2, Math.max(MAX_BACKOFF_MS, this.o.neg.timeoutMs));
    if (this.phase === 'oack') {
      this.retransmits++;
      this.o.metrics.retransmit(1);
      this.sendOack();
    } else {
      this.sendWindow(this.base + 1);
    }
  }

  /** Bytes for blocks [from, to] are in the cache (or EOF is known to come before `to`). */
  private cached(from: number, to: number): boolean {
    const start = (from - 1) * this.blksize;
    return start >= this.cacheOffset && (to * this.blksize <= this.cacheOffset + this.cache.length || this.cacheEof);
  }

  private async fill(from: number, to: number): Promise<void> {
    const start = (from - 1) * this.blksize;
    const len = Math.max((to - from + 1) * this.blksize, Math.ceil(READ_CHUNK / this.blksize) * this.blksize);
    const buf = await this.o.source.read(start, len);
    this.cacheOffset = start;
    this.cache = buf;
    this.cacheEof = buf.length < len;
  }

  /**
   * Sends blocks [from, from+window-1]. Synchronous when the blocks are cached (nearly always:
   * reads are READ_CHUNK at a time) — an await per ACK costs measurable latency in lockstep.
   */
  private sendWindow(from: number): void {
    const gen = ++this.gen;
    let to = from + this.window - 1;
    if (this.lastBlock !== undefined) to = Math.min(to, this.lastBlock);
    if (from > to) return;
    if (from === this.base + 1) {
      this.restartAt = this.o.now();
      this.restartBase = this.base;
    }
    if (this.cached(from, to)) return this.emitWindow(from, to);
    this.fill(from, to)
      .then(
        () => {
          if (!this.closed && gen === this.gen) this.emitWindow(from, to); // else superseded by a newer ACK/timeout
        },
        (err) => {
          if (this.closed) return;
          this.o.log.error({ err }, 'tftp: read failed');
          this.finish('io_error', encode({ op: 'error', code: ErrorCode.NOT_DEFINED, message: 'read error' }));
        },
      )
      .catch((err) => {
        // a bug in emitWindow must end this transfer, not surface as an unhandled rejection
        this.o.log.error({ err }, 'tftp: sending a window failed');
        this.finish('io_error');
      });
  }

  private emitWindow(from: number, to: number): void {
    let resent = 0;
    for (let b = from; b <= to; b++) {
      const off = (b - 1) * this.blksize - this.cacheOffset;
      const data = this.cache.subarray(off, off + this.blksize);
      this.send([dataHeader(b & 0xffff), data]);
      if (b <= this.highestSent) resent++;
      else this.highestSent = b;
      if (data.length < this.blksize) {
        this.lastBlock = b;
        this.lastBlockLen = data.length;
        break;
      }
    }
    this.windowSentAt = this.o.now();
    this.windowClean = resent === 0;
    if (resent) {
      this.retransmits += resent;
      this.o.metrics.retransmit(resent);
    }
    this.arm();
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.closed) return;
    if (rinfo.port === 0) {
      // source port 0 cannot be answered (dgram refuses it) and is no client's TID: dropped
      this.o.metrics.malformed();
      this.o.log.debug({ ip: rinfo.address }, 'tftp: datagram from source port 0 dropped');
      return;
    }
    const d = decode(msg);
    if (rinfo.address !== this.o.client.address || rinfo.port !== this.o.client.port) {
      // RFC 1350 §4: a packet from a foreign TID gets ERROR 5 and the transfer goes on.
      // Never answer an ERROR (two confused peers would bounce errors forever).
      this.o.metrics.unknownTid();
      this.o.log.debug({ from: `${rinfo.address}:${rinfo.port}` }, 'tftp: packet from unknown transfer ID');
      if (!d.ok || d.packet.op !== 'error') {
        try {
          this.o.socket.send(encode({ op: 'error', code: ErrorCode.UNKNOWN_TID, message: 'unknown transfer ID' }), rinfo.port, rinfo.address);
        } catch (err) {
          this.o.log.debug({ err }, 'tftp: cannot answer the foreign transfer ID');
        }
      }
      return;
    }
    if (!d.ok) {
      this.o.metrics.malformed();
      this.o.log.debug({ reason: d.reason, len: msg.length }, 'tftp: malformed packet from client dropped');
      return;
    }
    this.onPacket(d.packet);
  }

  private onPacket(p: Packet): void {
    if (p.op === 'ack') return this.onAck(p.block);
    if (p.op === 'error') {
      if (p.code === ErrorCode.OPTION_REFUSED && this.phase === 'oack') {
        // EDK2 (OVMF) PxeBcDxe asks for tsize first, reads the size from our OACK, then aborts
        // with ERROR 8 and re-requests with blksize=1468 windowsize=4. That is a probe, not a
        // failure: debug level so it does not look like an error on every UEFI boot.
        this.o.log.debug({ code: p.code, message: p.message }, 'tftp: client ended after OACK (size probe)');
        this.finish('declined');
      } else {
        this.o.log.info({ code: p.code, message: p.message, base: this.base }, 'tftp: client aborted transfer');
        this.finish('client_error');
      }
      return;
    }
    // DATA/OACK/requests on a read transfer's TID: ignored rather than fatal, so stray or
    // spoofed packets from the client's address cannot end a boot.
    this.o.log.debug({ op: p.op }, 'tftp: unexpected packet on read transfer ignored');
  }

  private onAck(wire: number): void {
    if (this.phase === 'oack') {
      if (wire !== 0) return;
      this.phase = 'data';
      this.progress();
      this.sendWindow(1);
      return;
    }
    const delta = (wire - (this.base & 0xffff)) & 0xffff;
    if (delta === 0) {
      if (this.window > 1 && !(this.restartBase === this.base && this.o.now() - this.restartAt < DUP_HOLDOFF_MS)) {
        this.sendWindow(this.base + 1);
      }
      return;
    }
    if (delta > this.highestSent - this.base) return; // stale (reordered) or bogus
    if (this.windowClean && this.base + delta === this.highestSent) this.sampleRtt(this.o.now() - this.windowSentAt);
    this.base += delta;
    this.progress();
    if (this.lastBlock !== undefined && this.base >= this.lastBlock) {
      this.finish('ok');
      return;
    }
    // release converted netascii bytes the client now has (no-op for other sources)
    (this.o.source as { release?: (off: number) => void }).release?.(this.base * this.blksize);
    this.sendWindow(this.base + 1);
  }

  private progress(): void {
    this.tries = 0;
    this.lastProgressAt = this.o.now();
    this.timeoutMs = this.rto();
  }

  /** `last` (an ERROR for the client) is sent before the socket closes. */
  private finish(result: TransferResult, last?: Buffer): void {
    if (this.closed) return;
    this.closed = true;
    this.result = result;
    this.gen++;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.cache = Buffer.alloc(0);
    void this.o.source.close();
    const close = () => {
      try {
        this.o.socket.close();
      } catch {
        this.resolveClosed(); // already closed
      }
    };
    if (last) {
      try {
        this.o.socket.send(last, this.o.client.port, this.o.client.address, close);
      } catch {
        close();
      }
    } else close();
    this.o.onDone(this, result);
  }
}
