// One upstream fetch of one file, shared by every client that asks for it while it runs
// (single flight). The body goes to a temp file; each waiting client reads that file with
// positional reads up to the bytes written so far and sleeps on a promise that the writer
// resolves after each write: no polling, no whole-file buffers, and a slow client never
// slows the download or the other clients.
//
// A client never sees a response that looks complete unless the file verified: readers stop
// one byte short of what is written until the length and SHA256 checks pass and the file is
// committed; on failure they are destroyed, so the client sees a short body (Content-Length)
// or an unterminated chunked body, both of which apt and curl report as errors.
import { createHash } from 'node:crypto';
import { mkdir, open, unlink, type FileHandle } from 'node:fs/promises';
import { writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ServerResponse } from 'node:http';
import { UpstreamError, VerifyError, type FetchFn } from './upstream.js';
import type { Digest } from './paths.js';

export interface DownloadMeta {
  size?: number;
  etag?: string;
  lastModified?: string;
}

export type HeadersOutcome =
  | { type: 'stream'; meta: DownloadMeta }
  | { type: 'not-modified'; meta: DownloadMeta }
  | { type: 'status'; status: number };

export interface Expected {
  size?: number;
  digest?: Digest;
  /** asked once when the body does not match: the index that gave the digest may itself have
   *  changed upstream (a new InRelease listing a new Packages); returns the new expectation */
  recheck?: () => Promise<Expected | null>;
}

const nodeAlgo = { md5: 'md5', sha1: 'sha1', sha256: 'sha256', sha512: 'sha512' } as const;

export interface DownloadParams {
  url: string;
  tmpPath: string;
  fetch: FetchFn;
  timeoutMs: number;
  conditional?: { etag?: string; lastModified?: string };
  /** awaited before the request: e.g. a Packages index still being read for this pool path */
  expected: () => Promise<Expected>;
  /** moves the verified temp file into place and records it; a throw fails the download */
  commit: (r: { tmpPath: string; sha256: string; size: number; meta: DownloadMeta }) => Promise<void>;
  onUpstreamBytes: (n: number) => void;
}

export class Download {
  state: 'pending' | 'running' | 'done' | 'failed' = 'pending';
  written = 0;
  meta: DownloadMeta = {};
  error: Error | undefined;
  readonly headers: Promise<HeadersOutcome>;
  readonly done: Promise<void>;
  private resolveHeaders!: (o: HeadersOutcome) => void;
  private rejectHeaders!: (e: Error) => void;
  private resolveDone!: () => void;
  private rejectDone!: (e: Error) => void;
  private wake: () => void = () => {};
  private changedP: Promise<void>;
  private readFh: FileHandle | undefined;
  private readers = 0;
  private notifiedAt = 0;
  private notifiedTime = 0;
  private readonly abort = new AbortController();

  constructor(private readonly p: DownloadParams) {
    this.headers = new Promise((res, rej) => ((this.resolveHeaders = res), (this.rejectHeaders = rej)));
    this.done = new Promise((res, rej) => ((this.resolveDone = res), (this.rejectDone = rej)));
    // nobody may be listening (HEAD, a client that went away): never an unhandled rejection
    this.headers.catch(() => {});
    this.done.catch(() => {});
    this.changedP = new Promise((r) => (this.wake = r));
  }

  /** resolves at the next write, commit or failure */
  changed(): Promise<void> {
    return this.changedP;
  }

  private trailing: NodeJS.Timeout | undefined;

  private flushNotify(): void {
    clearTimeout(this.trailing);
    this.trailing = undefined;
    this.notifiedAt = this.written;
    this.notifiedTime = Date.now();
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.changedP = new Promise((r) => (this.wake = r));
    w();
  }

  private rechecked = false;

  private async recheck(e: Expected): Promise<Expected | null> {
    if (!e.recheck || this.rechecked) return null;
    this.rechecked = true;
    return e.recheck().catch(() => null);
  }

  stop(): void {
    this.abort.abort(new UpstreamError('cache stopping'));
  }

  async run(): Promise<void> {
    let fh: FileHandle | undefined;
    try {
      let expected = await this.p.expected();
      const headers: Record<string, string> = {};
      if (this.p.conditional?.etag) headers['if-none-match'] = this.p.conditional.etag;
      if (this.p.conditional?.lastModified) headers['if-modified-since'] = this.p.conditional.lastModified;
      const resp = await this.p.fetch(this.p.url, { headers, timeoutMs: this.p.timeoutMs, signal: this.abort.signal });
      const h = resp.headers;
      this.meta = {
        etag: typeof h.etag === 'string' ? h.etag : undefined,
        lastModified: typeof h['last-modified'] === 'string' ? h['last-modified'] : undefined,
      };
      if (resp.status === 304) {
        resp.body.resume();
        this.state = 'done';
        this.resolveHeaders({ type: 'not-modified', meta: this.meta });
        this.resolveDone();
        return;
      }
      if (resp.status >= 300 && resp.status < 400) {
        // a redirect the fetcher did not follow: "path" -> "path/", a directory, not a file
        resp.body.resume();
        this.state = 'done';
        this.resolveHeaders({ type: 'status', status: 404 });
        this.resolveDone();
        return;
      }
      if (resp.status !== 200) {
        resp.body.resume();
        // 5xx is "upstream down" (stale copies may be served); 404 and friends are answers
        if (resp.status >= 500 || resp.status < 200) throw new UpstreamError(`upstream status ${resp.status}`, resp.status);
        this.state = 'done';
        this.resolveHeaders({ type: 'status', status: resp.status });
        this.resolveDone();
        return;
      }
      // no archive file is HTML: this is a directory listing, an error or a captive portal page
      if (/^\s*text\/html\b/i.test(String(h['content-type'] ?? ''))) {
        resp.body.destroy();
        throw new UpstreamError('upstream answered text/html (a directory listing or an error page), not an archive file');
      }
      const cl = h['content-length'] !== undefined ? Number(h['content-length']) : undefined;
      if (cl !== undefined && expected.size !== undefined && cl !== expected.size) {
        const again = await this.recheck(expected);
        if (!again || (again.size !== undefined && again.size !== cl)) {
          resp.body.destroy();
          throw new VerifyError(`upstream length ${cl} but the index says ${expected.size}`);
        }
        expected = again;
      }
      this.meta.size = cl ?? expected.size;
      await mkdir(dirname(this.p.tmpPath), { recursive: true });
      fh = await open(this.p.tmpPath, 'wx');
      this.readFh = await open(this.p.tmpPath, 'r');
      this.state = 'running';
      this.resolveHeaders({ type: 'stream', meta: this.meta });
      const hash = createHash('sha256');
      // a second digest when the index names another algorithm (by-hash/MD5Sum, repomd sha512)
      const algoOf = (e: Expected) => (e.digest && e.digest.algo !== 'sha256' ? e.digest.algo : undefined);
      const extra = new Map<string, ReturnType<typeof createHash>>();
      const want = algoOf(expected);
      if (want) extra.set(want, createHash(nodeAlgo[want]));
      for await (const chunk of resp.body as AsyncIterable<Buffer>) {
        hash.update(chunk);
        for (const x of extra.values()) x.update(chunk);
        this.p.onUpstreamBytes(chunk.length);
        // synchronous write: a page-cache write is microseconds, and the async form queues
        // behind every waiting client's reads in libuv's 4-thread pool, starving the download
        let off = 0;
        while (off < chunk.length) off += writeSync(fh.fd, chunk, off, chunk.length - off);
        this.written += chunk.length;
        // wake readers per 64 KiB (or 50 ms of a slow trickle), not per socket chunk: with 100
        // waiters every wake-up costs 100 reads
        // waiters every wake-up costs 100 reads. A trailing timer (a debounce, not polling)
        // hands over what arrived before upstream paused.
        if (this.written - this.notifiedAt >= 64 * 1024 || Date.now() - this.notifiedTime >= 50) this.flushNotify();
        else this.trailing ??= setTimeout(() => this.flushNotify(), 20);
      }
      if (!resp.body.complete) throw new UpstreamError('upstream closed the connection mid-body');
      if (this.meta.size !== undefined && this.written !== this.meta.size) {
        throw new UpstreamError(`upstream sent ${this.written} of ${this.meta.size} bytes`);
      }
      const sha256 = hash.digest('hex');
      const digests: Record<string, string> = { sha256 };
      for (const [a, x] of extra) digests[a] = x.digest('hex');
      const matches = (e: Expected) => (e.size === undefined || e.size === this.written) && (!e.digest || digests[e.digest.algo] === e.digest.hex);
      if (!matches(expected)) {
        const again = await this.recheck(expected);
        // a recheck naming an algorithm we did not compute cannot vouch for the body
        if (!again || (again.digest && !(again.digest.algo in digests)) || !matches(again)) {
          const d = expected.digest;
          throw new VerifyError(`${d ? `${d.algo} mismatch: got ${digests[d.algo]}, index says ${d.hex}` : `length mismatch: got ${this.written}`}${expected.size !== undefined ? ` (size ${this.written}, index says ${expected.size})` : ''}`);
        }
      }
      await fh.close();
      fh = undefined;
      await this.p.commit({ tmpPath: this.p.tmpPath, sha256, size: this.written, meta: { ...this.meta, size: this.written } });
      this.meta.size = this.written;
      this.state = 'done';
      this.resolveDone();
      this.notify();
    } catch (e) {
      const err = e instanceof UpstreamError ? e : new UpstreamError(`download failed: ${(e as Error).message}`);
      // the temp file goes first; then, in one step, readers learn of the failure together
      // with whoever waits on `done` (counters, logs): a client never sees the error first
      await fh?.close().catch(() => {});
      await unlink(this.p.tmpPath).catch(() => {});
      this.error = err;
      this.state = 'failed';
      this.rejectHeaders(err); // no-op if the headers went out already
      this.rejectDone(err);
      this.notify();
    } finally {
      clearTimeout(this.trailing);
      this.maybeCloseReader();
    }
  }

  private maybeCloseReader(): void {
    if (this.readers === 0 && (this.state === 'done' || this.state === 'failed') && this.readFh) {
      const fh = this.readFh;
      this.readFh = undefined;
      void fh.close().catch(() => {});
    }
  }

  /** A client attaches (synchronously, when it finds the download in flight) so the shared
   *  read handle stays open until it has read or left; every join() is ended by pipeTo or leave. */
  join(): void {
    this.readers++;
  }

  leave(): void {
    this.readers--;
    this.maybeCloseReader();
  }

  /** Streams the body to one joined client as it arrives. Resolves with the bytes sent. */
  async pipeTo(res: ServerResponse): Promise<number> {
    const fh = this.readFh;
    if (!fh) {
      this.leave();
      res.destroy(new Error('download has no body'));
      return 0;
    }
    let pos = 0;
    let closed = false;
    const onClose = () => {
      closed = true;
      this.notify(); // wake this reader so it can leave
    };
    res.on('close', onClose);
    try {
      for (;;) {
        if (closed || res.destroyed) return pos;
        if (this.state === 'failed') {
          res.destroy(this.error);
          return pos;
        }
        // hold back the last written byte until the file is verified and committed
        const limit = this.state === 'done' ? this.written : Math.max(0, this.written - 1);
        if (pos < limit) {
          const buf = Buffer.allocUnsafe(Math.min(256 * 1024, limit - pos));
          const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
          if (bytesRead === 0) throw new Error('temp file shorter than written');
          pos += bytesRead;
          if (!res.write(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead))) {
            await new Promise<void>((r) => {
              const go = () => (res.off('drain', go), res.off('close', go), r());
              res.on('drain', go);
              res.on('close', go);
            });
          }
          continue;
        }
        if (this.state === 'done') {
          res.end();
          return pos;
        }
        await this.changed();
      }
    } catch (e) {
      res.destroy(e as Error);
      return pos;
    } finally {
      res.off('close', onClose);
      this.leave();
    }
  }
}
