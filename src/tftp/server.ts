// Read-only TFTP server (RFC 1350, options per RFC 2347/2348/2349/7440).
//
// One listening socket takes requests; each accepted RRQ gets its own socket (a fresh transfer
// ID) bound to the configured address (else the server address, see config.ts), so transfers never share state and a packet from the
// wrong port cannot disturb one (see transfer.ts). Files come from an injected generator first
// (per-host pxelinux.cfg / boot.ipxe from the boot decision), then from the realpath jail.
// Nothing a client sends can throw out of a socket handler: decode() returns results, and every
// async request path ends in a catch that logs and answers ERROR 0.
import dgram from 'node:dgram';
import type { Registry } from 'prom-client';
import { normaliseRequestPath } from '../jail.js';
import { isResourceError } from '../errors.js';
import type { Logger } from '../log.js';
import { decode, encode, ErrorCode, type RequestPacket } from './codec.js';
import type { TftpConfig } from './config.js';
import { negotiate } from './options.js';
import { NetasciiSource, type BlockSource } from './source.js';
import { TftpFiles } from './files.js';
import { Transfer, type TransferResult } from './transfer.js';
import { TransferThread, type RunningTransfer, type TransferSummary } from './transfer-thread.js';
import { metrics, type TftpMetrics } from './metrics.js';
import type { Negotiated } from './options.js';

export type GeneratedFileSource = (path: string, client: { address: string; port: number }) => Promise<Buffer | null>;
/** Makes an unbound UDP socket; tests wrap it to drop/duplicate/reorder packets. */
export type SocketFactory = (opts?: { reuseAddr?: boolean }) => dgram.Socket;

/** A listening socket and the address transfers started from its requests bind to. */
interface Listener {
  sock: dgram.Socket;
  local: string;
}

/** Where a request came from, and which listener it arrived on (refusals leave from there). */
interface Peer {
  address: string;
  port: number;
  via: Listener;
}

export interface TftpServerOptions {
  config: TftpConfig;
  /** directory served (boot assets); paths are jailed inside it */
  root: string;
  log: Logger;
  registry: Registry;
  generated?: GeneratedFileSource;
  socketFactory?: SocketFactory;
  now?: () => number;
  /**
   * Address transfer sockets bind to when `config.address` is unset (the daemon passes
   * `server.address`). Not an address of this host (NAT, a container with mapped ports):
   * transfer sockets fall back to the wildcard, with a warning at start.
   */
  transferAddress?: string;
  /**
   * Run transfers (the per-block send/ACK/retransmit loop) in a worker thread. Default: yes,
   * unless socketFactory or now is injected — test doubles cannot cross a thread boundary, so
   * those tests run transfers on this thread, with the same Transfer code.
   */
  transferThread?: boolean;
  /** opens a jailed file (default FileSource.open); tests inject failures (EMFILE, ...) */
  openFile?: (path: string) => Promise<BlockSource>;
}

type RequestResult = 'not_found' | 'denied' | 'busy' | 'refused' | 'bad_mode' | 'error' | 'unavailable';

/** At most one warn-level line per this interval for malformed packets (a fuzzer must not flood logs). */
const MALFORMED_WARN_MS = 10_000;


/**
 * Every address we send to is an IPv4 literal (config is validated, the rest come from rinfo).
 * dgram resolves the destination on every send(); dns.lookup answers literals only on the
 * next tick, a per-datagram delay that shows in lockstep throughput. This answers at once.
 */
const literalLookup = (address: string, _opts: unknown, cb: (err: Error | null, address: string, family: number) => void): void => cb(null, address, 4);

export class TftpServer {
  private readonly o: TftpServerOptions;
  private readonly log: Logger;
  private readonly m: TftpMetrics;
  private readonly files: TftpFiles;
  private readonly now: () => number;
  private readonly makeSocket: SocketFactory;
  private listeners: Listener[] = [];
  private readonly transfers = new Map<string, RunningTransfer>();
  /** runs the transfers off the main thread (transfer-thread.ts); undefined: they run here */
  private thread: TransferThread | undefined;
  /** requests whose file is still being resolved: duplicates of them are ignored */
  private readonly pending = new Set<string>();
  private stopped = false;
  private lastMalformedWarn = -Infinity;
  private lastUnavailableWarn = -Infinity;
  private lastBusyWarn = -Infinity;
  /** what transfer sockets bind to; resolved in start() */
  private transferAddress = '0.0.0.0';

  constructor(opts: TftpServerOptions) {
    this.o = opts;
    this.log = opts.log.child({ subsystem: 'tftp' });
    this.m = metrics(opts.registry);
    this.files = new TftpFiles({ root: opts.root, generated: opts.generated, openFile: opts.openFile });
    this.now = opts.now ?? Date.now;
    this.makeSocket = opts.socketFactory ?? ((o) => dgram.createSocket({ type: 'udp4', lookup: literalLookup, reuseAddr: !!o?.reuseAddr }));
  }

  /** Bound port (useful with port 0). */
  get port(): number {
    return this.listeners[0]?.sock.address().port ?? 0;
  }

  /** the file cache's counters (files.ts): resolutions vs answers from memory */
  get fileCacheStats(): TftpFiles['stats'] {
    return this.files.stats;
  }

  get activeTransfers(): number {
    return this.transfers.size;
  }

  private bindSocket(s: dgram.Socket, address: string, port: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind({ address, port }, () => {
        s.off('error', reject);
        resolve();
      });
    });
  }

  /** The configured address, else `transferAddress` if this host owns it (probed by a bind). */
  private async resolveTransferAddress(): Promise<string> {
    if (this.o.config.address) return this.o.config.address;
    const want = this.o.transferAddress;
    if (!want || want === '0.0.0.0') return '0.0.0.0';
    const probe = dgram.createSocket('udp4');
    try {
      await this.bindSocket(probe, want, 0);
      return want;
    } catch (err) {
      this.log.warn({ err, address: want }, 'tftp: server address is not an address of this host; transfer sockets bind to 0.0.0.0 (replies leave from the address the route picks)');
      return '0.0.0.0';
    } finally {
      try {
        probe.close();
      } catch {
        /* never bound */
      }
    }
  }

  private async listen(address: string, port: number, local: string, reuseAddr: boolean): Promise<Listener> {
    const sock = this.makeSocket({ reuseAddr });
    const l = { sock, local };
    this.listeners.push(l);
    await this.bindSocket(sock, address, port);
    sock.on('error', (err) => this.log.warn({ err }, 'tftp: listening socket error'));
    sock.on('message', (msg, rinfo) => this.onMessage(msg, rinfo, l));
    return l;
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.transferAddress = await this.resolveTransferAddress();
    if (this.o.transferThread ?? (!this.o.socketFactory && !this.o.now)) {
      this.thread = new TransferThread(this.log, (c) => (this.m.retransmits.inc(c.retransmits), this.m.malformed.inc(c.malformed), this.m.unknownTid.inc(c.unknownTid)));
      await this.thread.start();
    }
    const c = this.o.config;
    try {
      if (!c.address && this.transferAddress !== '0.0.0.0') {
        // Two listeners sharing the port (SO_REUSEADDR): the kernel hands a unicast to the most
        // specific bound socket, so an RRQ to the server address arrives on the first and its
        // transfer binds that address; an RRQ to any other local address (loopback, a second
        // interface) arrives on the wildcard and its transfer lets the route pick the source,
        // as before. Node cannot read the destination of a datagram (no IP_PKTINFO).
        const first = await this.listen(this.transferAddress, c.port, this.transferAddress, true);
        await this.listen('0.0.0.0', first.sock.address().port, '0.0.0.0', true);
      } else {
        await this.listen(c.address ?? '0.0.0.0', c.port, this.transferAddress, false);
      }
    } catch (err) {
      await this.closeListeners(); // never leave half the sockets bound
      await this.thread?.stop('server failed to start');
      throw err;
    }
    this.log.info({ address: c.address ?? '0.0.0.0', transferAddress: this.transferAddress, port: this.port, root: this.o.root }, 'tftp listening');
  }

  private closeListeners(): Promise<void> {
    const ls = this.listeners;
    this.listeners = [];
    return Promise.all(
      ls.map(
        (l) =>
          new Promise<void>((r) => {
            try {
              l.sock.close(() => r());
            } catch {
              r(); // never bound
            }
          }),
      ),
    ).then(() => undefined);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const waits: Promise<void>[] = [this.closeListeners()];
    for (const t of [...this.transfers.values()]) {
      t.cancel('server shutting down');
      waits.push(t.closedPromise);
    }
    await Promise.all(waits);
    await this.thread?.stop('server shutting down');
    this.thread = undefined;
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo, via: Listener): void {
    // Source port 0 is legal on the wire but no reply can go to it (dgram's send() throws
    // ERR_SOCKET_BAD_PORT) and no TFTP client uses it: dropped here, at the edge, so no
    // request path ever starts a transfer to it.
    const d = rinfo.port === 0 ? ({ ok: false, reason: 'source port 0' } as const) : decode(msg);
    if (!d.ok) {
      this.m.malformed.inc();
      const at = this.now();
      const fields = { ip: rinfo.address, port: rinfo.port, reason: d.reason, len: msg.length };
      if (at - this.lastMalformedWarn >= MALFORMED_WARN_MS) {
        this.lastMalformedWarn = at;
        this.log.warn(fields, 'tftp: malformed packet dropped (further ones logged at debug for a while)');
      } else this.log.debug(fields, 'tftp: malformed packet dropped');
      return;
    }
    const p = d.packet;
    const peer: Peer = { address: rinfo.address, port: rinfo.port, via };
    if (p.op === 'rrq') {
      this.onRead(p, peer).catch((err) => {
        this.pending.delete(`${rinfo.address}:${rinfo.port}`);
        // no socket for the transfer (out of descriptors): silence, so the client retries
        if (isResourceError(err)) return this.unavailable(peer, err);
        // last line of defence: a bug in a request path must cost one request, not the server
        this.log.error({ err, ip: rinfo.address, port: rinfo.port }, 'tftp: request failed');
        this.reject(peer, ErrorCode.NOT_DEFINED, 'internal error', 'error');
      });
    } else if (p.op === 'wrq') {
      this.log.info({ ip: rinfo.address, port: rinfo.port, file: p.filename }, 'tftp: write request refused (read-only server)');
      this.reject(peer, ErrorCode.ACCESS_VIOLATION, 'write requests are not accepted', 'refused');
    } else if (p.op !== 'error') {
      // DATA/ACK/OACK on the request port belong to no transfer. ERRORs are never answered.
      this.sendFromMain(encode({ op: 'error', code: ErrorCode.UNKNOWN_TID, message: 'unknown transfer ID' }), peer);
    }
  }

  private sendFromMain(buf: Buffer, peer: Peer): void {
    if (!this.listeners.includes(peer.via)) return; // stopped meanwhile
    try {
      peer.via.sock.send(buf, peer.port, peer.address);
    } catch (err) {
      this.log.debug({ err }, 'tftp: send failed');
    }
  }

  /**
   * Out of descriptors or memory while opening the file or the transfer socket: NO answer.
   * Firmware quirk: every PXE client we know ends the download on ANY error packet, whatever
   * the code — iPXE's tftp_rx_error() maps code 1 to ENOENT, 2 to EACCES and every other code
   * to a generic error, then closes the session; EDK2's Mtftp4 fails the operation with
   * EFI_TFTP_ERROR; legacy PXE ROMs report "TFTP open timeout/file not found" and fall through
   * to the next boot device. Only silence makes them retry: each retransmits its RRQ on its own
   * timer (iPXE backs off up to ~10 s, EDK2 retries 4-6 times), and the retransmission is
   * served once descriptors are free again. Warned at most once per MALFORMED_WARN_MS.
   */
  private unavailable(peer: Peer, err: unknown): void {
    this.m.transfers.inc({ result: 'unavailable' });
    const at = this.now();
    const fields = { ip: peer.address, port: peer.port, code: (err as { code?: string }).code };
    if (at - this.lastUnavailableWarn >= MALFORMED_WARN_MS) {
      this.lastUnavailableWarn = at;
      this.log.warn(fields, 'tftp: out of descriptors or memory; request left unanswered so the client retries');
    } else this.log.debug(fields, 'tftp: out of resources, request unanswered');
  }

  /**
   * At maxTransfers: NO answer, for the reason given at unavailable() — any ERROR, "server busy"
   * included, ends a PXE/iPXE/EDK2 download for good, while silence makes the client retransmit
   * its RRQ later, when a slot may be free. Counted as result "busy"; warned at most once per
   * MALFORMED_WARN_MS (a storm must not become a log flood).
   */
  private atCapacity(peer: Peer): void {
    this.m.transfers.inc({ result: 'busy' });
    const at = this.now();
    const fields = { ip: peer.address, port: peer.port, max: this.o.config.maxTransfers };
    if (at - this.lastBusyWarn >= MALFORMED_WARN_MS) {
      this.lastBusyWarn = at;
      this.log.warn(fields, 'tftp: at maxTransfers; request left unanswered so the client retries (further ones logged at debug for a while)');
    } else this.log.debug(fields, 'tftp: at maxTransfers, request unanswered');
  }

  /** Request-level refusals are answered from the listening port (no transfer ID exists yet). */
  private reject(peer: Peer, code: number, message: string, result: RequestResult): void {
    this.m.transfers.inc({ result });
    this.sendFromMain(encode({ op: 'error', code, message }), peer);
  }

  private async onRead(p: RequestPacket, peer: Peer): Promise<void> {
    const key = `${peer.address}:${peer.port}`;
    // A client resends its RRQ when our first answer is slow or lost; the running transfer
    // retransmits on its own, a second transfer to the same port would only interleave.
    if (this.transfers.has(key) || this.pending.has(key)) return;
    const log = this.log.child({ ip: peer.address, port: peer.port, file: p.filename });
    if (this.transfers.size + this.pending.size >= this.o.config.maxTransfers) return this.atCapacity(peer);
    const mode = p.mode.toLowerCase();
    if (mode !== 'octet' && mode !== 'netascii') {
      log.info({ mode: p.mode }, 'tftp: unsupported mode');
      return this.reject(peer, ErrorCode.ILLEGAL_OPERATION, `mode ${p.mode} not supported`, 'bad_mode');
    }
    const rel = normaliseRequestPath(p.filename);
    if (rel === null || rel === '') {
      log.info('tftp: path refused (.., backslash or NUL)');
      return this.reject(peer, ErrorCode.ACCESS_VIOLATION, 'access violation', 'denied');
    }
    this.pending.add(key);
    let source: BlockSource | undefined;
    let sock: dgram.Socket | undefined;
    try {
      source = await this.openSource(rel, peer, log);
      if (!source) return;
      const neg = negotiate(p.options, this.o.config, source.size);
      const started = this.now();
      let ended = false;
      const onDone = (sum: TransferSummary, result: TransferResult) => ((ended = true), this.onDone(key, sum, result, log, started, neg, mode));
      const client = { address: peer.address, port: peer.port };
      log.debug({ size: source.size, options: neg.requested, blksize: neg.blksize, windowsize: neg.windowsize }, 'tftp: transfer starting');
      if (this.thread && TransferThread.canTake(source)) {
        const handed = source;
        source = undefined; // the thread owns (and closes) it from here
        this.m.active.inc();
        let t: RunningTransfer;
        try {
          t = await this.thread.begin({ client, bind: peer.via.local, file: rel, source: handed, netascii: mode === 'netascii', neg, retries: this.o.config.retries, log, onDone });
        } catch (err) {
          this.m.active.dec();
          throw err; // EMFILE & co: unanswered (onMessage's catch); anything else: ERROR 0
        }
        // a tiny file can be done before we get here: then it must not be registered
        if (!ended) this.transfers.set(key, t);
        if (this.stopped) t.cancel('server shutting down');
        return;
      }
      if (mode === 'netascii') source = new NetasciiSource(source);
      sock = this.makeSocket();
      const s = sock;
      await this.bindSocket(s, peer.via.local, 0);
      if (this.stopped) return; // finally closes the socket and the file
      const t = new Transfer({
        socket: s, client, file: rel, source, neg, log, now: this.now, onDone,
        retries: this.o.config.retries,
        metrics: { retransmit: (n) => this.m.retransmits.inc(n), malformed: () => this.m.malformed.inc(), unknownTid: () => this.m.unknownTid.inc() },
      });
      this.transfers.set(key, t);
      this.m.active.inc();
      t.start();
      source = undefined; // owned by the transfer now
      sock = undefined;
    } finally {
      this.pending.delete(key);
      if (source) void source.close();
      if (sock) {
        try {
          sock.close();
        } catch {
          /* not bound */
        }
      }
    }
  }

  /** Generated file, else jailed file (files.ts); on refusal answers the client and returns undefined. */
  private async openSource(rel: string, peer: Peer, log: Logger): Promise<BlockSource | undefined> {
    const r = await this.files.open(rel, { address: peer.address, port: peer.port });
    if (r.ok) return r.source;
    const f = r.refusal;
    if (f.kind === 'unavailable') this.unavailable(peer, f.err);
    else if (f.kind === 'generator-failed') {
      log.error({ err: f.err }, 'tftp: generated file source failed');
      this.reject(peer, ErrorCode.NOT_DEFINED, 'internal error', 'error');
    } else if (f.kind === 'denied') {
      log.info({ reason: f.reason }, 'tftp: path refused');
      this.reject(peer, ErrorCode.ACCESS_VIOLATION, 'access violation', 'denied');
    } else {
      log.info({ reason: f.reason, err: f.err }, f.err ? 'tftp: file vanished or unreadable' : 'tftp: file not found');
      this.reject(peer, ErrorCode.FILE_NOT_FOUND, 'file not found', 'not_found');
    }
    return undefined;
  }

  private onDone(key: string, t: TransferSummary, result: TransferResult, log: Logger, started: number, neg: Negotiated, mode: string): void {
    this.transfers.delete(key);
    this.m.active.dec();
    this.m.transfers.inc({ result });
    this.m.bytes.inc(t.bytes);
    const durationMs = this.now() - started;
    const fields = { result, options: neg.requested, blksize: neg.blksize, windowsize: neg.windowsize, mode, bytes: t.bytes, durationMs, retransmits: t.retransmits };
    if (result === 'ok') log.info(fields, 'tftp: transfer complete');
    else if (result === 'declined' || result === 'cancelled') log.debug(fields, 'tftp: transfer ended');
    else log.warn(fields, 'tftp: transfer failed');
  }
}
