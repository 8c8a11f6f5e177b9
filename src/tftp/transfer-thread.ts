// Main-thread side of the TFTP transfer thread (transfer-worker.ts): starts transfers there,
// relays their log lines and metric increments, reports each transfer's end, and cancels them
// on stop. One thread for all transfers: the point is to take the per-block work off the
// event loop that also accepts HTTP connections, not to use more cores than the machine has.
import { Worker } from 'node:worker_threads';
import type { Logger } from '../log.js';
import type { Negotiated } from './options.js';
import { BufferSource, FileSource, type BlockSource } from './source.js';
import type { TransferResult } from './transfer.js';
import type { Counts, FromWorker, Level, StartMessage, ToWorker } from './transfer-worker.js';

export interface TransferSummary {
  bytes: number;
  retransmits: number;
}

/** A running transfer as the server sees it, wherever it runs. */
export interface RunningTransfer {
  cancel(message: string): void;
  readonly closedPromise: Promise<void>;
}

export interface RemoteStart {
  client: { address: string; port: number };
  bind: string;
  file: string;
  source: BlockSource;
  netascii: boolean;
  neg: Negotiated;
  retries: number;
  log: Logger;
  onDone: (s: TransferSummary, result: TransferResult) => void;
}

interface Entry {
  log: Logger;
  onDone: RemoteStart['onDone'];
  bound: { resolve: () => void; reject: (e: Error) => void };
  closed: () => void;
  done: boolean;
}

const LEVELS: Level[] = ['debug', 'info', 'warn', 'error'];

export class TransferThread {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly entries = new Map<number, Entry>();
  private stopping = false;

  constructor(
    private readonly log: Logger,
    private readonly onCounts: (c: Counts) => void,
  ) {}

  /** Whether this source can be handed to the thread (a file handle or bytes; test doubles cannot). */
  static canTake(source: BlockSource): boolean {
    return source instanceof FileSource || source instanceof BufferSource;
  }

  async start(): Promise<void> {
    this.stopping = false;
    const w = this.spawn();
    await new Promise<void>((resolve, reject) => {
      w.once('online', resolve);
      w.once('error', reject);
    });
  }

  private spawn(): Worker {
    const w = new Worker(new URL('./transfer-worker.js', import.meta.url));
    this.worker = w;
    w.on('message', (m: FromWorker) => this.onMessage(m));
    w.on('error', (err) => this.log.error({ err }, 'tftp: transfer thread failed'));
    w.on('exit', (code) => this.onExit(w, code));
    return w;
  }

  /** Cancels every transfer (the clients are told), waits for their sockets, ends the thread. */
  async stop(message: string): Promise<void> {
    this.stopping = true;
    const w = this.worker;
    if (!w) return;
    const closed = [...this.entries.values()].map((e) => new Promise<void>((r) => (e.closed = chain(e.closed, r))));
    this.send({ type: 'cancel', message });
    await Promise.all(closed);
    this.worker = undefined;
    await w.terminate();
  }

  /**
   * Starts a transfer in the thread; resolves once its socket is bound (rejects with the bind
   * error, `code` kept, so EMFILE stays a resource error). The source belongs to the thread from
   * the call on: a file handle is transferred, bytes are copied.
   */
  begin(s: RemoteStart): Promise<RunningTransfer> {
    // a thread that died (logged in onExit) is replaced by the next request
    const w = this.worker ?? (this.stopping ? undefined : this.spawn());
    if (!w || this.stopping) {
      void s.source.close();
      return Promise.reject(Object.assign(new Error('tftp transfer thread is not running'), { code: 'EAGAIN' }));
    }
    const id = this.nextId++;
    let closedResolve!: () => void;
    const closedPromise = new Promise<void>((r) => (closedResolve = r));
    const bound = new Promise<void>((resolve, reject) => {
      this.entries.set(id, { log: s.log, onDone: s.onDone, bound: { resolve, reject }, closed: closedResolve, done: false });
    });
    const src = s.source;
    const msg: StartMessage = {
      type: 'start', id, client: s.client, bind: s.bind, file: s.file, netascii: s.netascii, neg: s.neg, retries: s.retries,
      levels: LEVELS.filter((l) => s.log.isLevelEnabled(l)),
      source: src instanceof FileSource ? { kind: 'file', fh: src.handle, size: src.size } : { kind: 'buffer', bytes: whole((src as BufferSource).bytes) },
    };
    w.postMessage(msg, msg.source.kind === 'file' ? [msg.source.fh] : []);
    return bound.then(() => ({ cancel: (message: string) => this.send({ type: 'cancel', id, message }), closedPromise }));
  }

  private send(m: ToWorker): void {
    this.worker?.postMessage(m);
  }

  private onMessage(m: FromWorker): void {
    if (m.type === 'counts') return this.onCounts(m.counts);
    const e = this.entries.get(m.id);
    if (!e) return;
    switch (m.type) {
      case 'bound':
        return e.bound.resolve();
      case 'bind-failed':
        this.entries.delete(m.id);
        e.closed();
        return e.bound.reject(Object.assign(new Error(m.message), { code: m.code }));
      case 'log':
        return e.log[m.level](m.fields, m.msg);
      case 'done':
        e.done = true;
        return e.onDone({ bytes: m.bytes, retransmits: m.retransmits }, m.result as TransferResult);
      case 'closed':
        this.entries.delete(m.id);
        return e.closed();
    }
  }

  /** The thread died (a bug, or terminate()): its transfers are over; the next begin() makes a new one. */
  private onExit(w: Worker, code: number): void {
    if (this.worker === w) {
      this.worker = undefined;
      if (!this.stopping) this.log.error({ code }, 'tftp: transfer thread exited; its transfers are lost (clients retry their RRQ)');
    }
    for (const [id, e] of this.entries) {
      this.entries.delete(id);
      if (!e.done) e.onDone({ bytes: 0, retransmits: 0 }, 'io_error');
      e.bound.reject(new Error('tftp transfer thread exited'));
      e.closed();
    }
  }
}

/** postMessage copies a view's whole ArrayBuffer: a slice of a larger one is copied out first */
const whole = (b: Buffer): Uint8Array => (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : new Uint8Array(b));

const chain = (a: () => void, b: () => void) => () => (a(), b());
