// PackageCache: the on-disk store, its SQLite index and the single-flight table of downloads.
// Lookup order for /mirror/<repo>/<path>: a committed file that is immutable or still fresh is
// served from disk; otherwise one Download per path is started (or joined) — a conditional
// revalidation for index files we hold, a plain fetch otherwise. If upstream is down and we
// hold an older copy of an index, that copy is served stale (the router adds Warning 110/111).
//
// Files and their rows are kept in step by CacheFiles (files.ts: row before rename, crash
// behaviour); the verification chain (which digest a file must have) by Ingester (ingest.ts).
import { HotBodies } from './hot-bodies.js';
import { mkdir, type FileHandle } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import type http from 'node:http';
import type { Registry } from 'prom-client';
import type { DB } from '../store/db.js';
import type { Logger } from '../log.js';
import type { CacheConfig } from './config.js';
import { digestInName, ingestKindOf, kindOf, type FileKind, type IngestKind, type RepoFormat } from './paths.js';
import { Download, type DownloadMeta, type Expected } from './download.js';
import { httpFetchWith, UpstreamError, VerifyError, type FetchFn } from './upstream.js';
import { CacheMetrics, COUNTERS, type CounterName } from './metrics.js';
import { CacheStore, type Row } from './store.js';
import { Ingester } from './ingest.js';
import { reconcile, TempDir } from './disk.js';
import { CacheFiles, type Held } from './files.js';

const zeroCounters = () => Object.fromEntries(Object.keys(COUNTERS).map((k) => [k, 0])) as Record<CounterName, number>;

export interface Clock {
  now(): number;
}

export interface PackageCacheOptions {
  config: CacheConfig;
  db: DB;
  log: Logger;
  registry: Registry;
  fetch?: FetchFn;
  httpAgent?: http.Agent;
  clock?: Clock;
  /** base for a relative config.dir (the config file's directory); default process.cwd() */
  baseDir?: string;
  /** walk the tree once after start for files no row describes (default true; the short-lived
   *  `cache warm` process leaves it to the daemon) */
  reconcile?: boolean;
}

export type OpenResult =
  | { type: 'file'; fh: FileHandle; size: number; mtimeMs: number; ino: number; dev: number; state: 'fresh' | 'revalidated' | 'stale' | 'refreshed' }
  | { type: 'download'; download: Download; meta: DownloadMeta }
  | { type: 'status'; status: number };

export interface OpenOptions {
  /** revalidate an index even while it is fresh (and ignore the negative cache) */
  force?: boolean;
  retried?: boolean;
}

/** longest a client waits for a held index's refresh before it is streamed to it as it arrives */
const REFRESH_WAIT_MS = 15_000;

export class PackageCache {
  private dir = '';
  private repos = new Map<string, { url: string; format: RepoFormat }>();
  private readonly inflight = new Map<string, Download>();
  private readonly ingesting = new Set<Promise<void>>();
  private readonly rechecks = new Map<string, Promise<void>>();
  /** index paths upstream answered 404 for, until when (apt probes InRelease, Release.gpg,
   *  Translation files that may not exist; a warm fleet should not ask upstream each time) */
  private readonly negative = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private metrics: CacheMetrics | undefined;
  private stopping = false;
  private fetchFn: FetchFn | undefined;
  /** bytes of recently hit files (hot-bodies.ts); sized at start() */
  hot = new HotBodies(0);
  private clock: Clock = { now: () => Date.now() };
  private log!: Logger;
  private store!: CacheStore;
  private ingester!: Ingester;
  private tmp!: TempDir;
  private files!: CacheFiles;
  private reconciling: Promise<{ scanned: number; removed: string[] }> | undefined;

  constructor(private readonly o: PackageCacheOptions) {}

  get config(): CacheConfig {
    return this.o.config;
  }

  repoNames(): string[] {
    return [...this.repos.keys()];
  }

  repoFormat(repo: string): RepoFormat | undefined {
    return this.repos.get(repo)?.format;
  }

  localPath(repo: string, path: string): string {
    return this.files.localPath(repo, path);
  }

  async start(): Promise<void> {
    const c = this.o.config;
    this.log = this.o.log.child({ subsystem: 'cache' });
    this.dir = isAbsolute(c.dir) ? c.dir : resolve(this.o.baseDir ?? process.cwd(), c.dir);
    this.repos = new Map(c.repos.map((r) => [r.name, { url: r.url.replace(/\/+$/, ''), format: r.format }]));
    this.fetchFn = this.o.fetch ?? httpFetchWith(this.o.httpAgent);
    if (this.o.clock) this.clock = this.o.clock;
    this.store = new CacheStore(this.o.db);
    this.ingester = new Ingester(this.store, this.log, () => this.clock.now());
    this.files = new CacheFiles({ dir: this.dir, store: this.store, log: this.log, now: () => this.clock.now(), maxBytes: c.maxBytes, inc: (n, k) => this.inc(n, k) });
    this.hot = new HotBodies(c.hotBytes);
    this.stopping = false;
    await mkdir(this.dir, { recursive: true });
    // only temp files whose writer is gone: a neighbour process may be downloading right now
    this.tmp = new TempDir(join(this.dir, '.tmp'));
    const stale = await this.tmp.open(Math.max(600_000, 2 * c.upstreamTimeoutMs));
    if (stale) this.log.info({ removed: stale }, 'removed temp files of downloads whose process is gone');
    this.files.refreshTotals();
    this.metrics ??= new CacheMetrics(this.o.registry, { sizeBytes: () => this.files.totalBytes, files: () => this.files.fileCount, inflight: () => this.inflight.size });
    let ticks = 0;
    this.timer = setInterval(() => {
      this.files.flushTouches();
      // `fleetboot cache warm` may add files from another process: re-read the totals now and then
      if (++ticks % 30 === 0) this.files.refreshTotals();
    }, 1000);
    this.timer.unref();
    if (this.o.reconcile !== false) {
      this.reconciling = reconcile({ root: this.dir, repos: this.repoNames(), hasRow: (r, p) => this.store.row(r, p) !== undefined, stopped: () => this.stopping })
        .then((r) => {
          if (r.removed.length) {
            this.log.warn({ removed: r.removed.length, example: r.removed[0] }, 'removed cached files no index row describes');
            this.files.refreshTotals();
          }
          return r;
        })
        .catch((e: Error) => (this.log.warn({ err: e.message }, 'cache reconcile failed'), { scanned: 0, removed: [] }));
    }
  }

  /** The start-up walk for files without rows (tests and `fleetboot check` wait for it). */
  reconciled(): Promise<{ scanned: number; removed: string[] }> {
    return this.reconciling ?? Promise.resolve({ scanned: 0, removed: [] });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    this.files?.flushTouches();
    const running = [...this.inflight.values()];
    for (const d of running) d.stop();
    await Promise.allSettled([...running.map((d) => d.done), ...this.ingesting, this.reconciling]);
    this.tmp?.close();
  }

  private m(): CacheMetrics {
    if (!this.metrics) throw new Error('PackageCache used before start()');
    return this.metrics;
  }

  inc(name: CounterName, n = 1): void {
    this.m().inc(name, n);
  }

  stats() {
    return {
      ...(this.metrics?.values ?? zeroCounters()),
      sizeBytes: this.files?.totalBytes ?? 0,
      files: this.files?.fileCount ?? 0,
      maxBytes: this.o.config.maxBytes,
      downloadsInFlight: this.inflight.size,
      repos: this.o.config.repos.map((r) => ({ name: r.name, url: r.url, format: r.format })),
    };
  }

  /** Finds or fetches repo/path. A 'file' result's fh must be closed; a 'download' result is
   *  joined: the caller must pipeTo or leave. */
  async open(repo: string, path: string, opts: OpenOptions = {}): Promise<OpenResult> {
    const r = this.repos.get(repo);
    if (!r) return { type: 'status', status: 404 };
    const kind = kindOf(path, r.format);
    const neg = this.negative.get(`${repo}/${path}`);
    if (!opts.force && neg !== undefined && neg > this.clock.now()) {
      this.inc('negativeHits'); // an answer from memory, not a file from disk: not a hit
      return { type: 'status', status: 404 };
    }
    let row = this.store.row(repo, path);
    let held: Held | null = null;
    if (row) {
      held = await this.files.held(repo, path, row);
      // missing or not the row's version (a crash between row and rename, a neighbour's
      // commit in progress): fetched afresh; the commit rewrites the row
      if (!held) row = undefined;
      else if (!opts.force && (kind === 'immutable' || this.clock.now() - row.validated_at < this.o.config.indexFreshSeconds * 1000)) {
        this.files.touch(repo, path);
        this.inc('hits');
        return { type: 'file', ...held, state: 'fresh' };
      }
    } else if (await this.files.isDirectory(repo, path)) {
      // cached files live below this name: upstream serves it as a directory, not a file
      return { type: 'status', status: 404 };
    }
    const d = this.download(repo, path, kind, row);
    d.join();
    let outcome;
    try {
      outcome = await d.headers;
    } catch (e) {
      d.leave();
      if (held) {
        this.inc('hits');
        this.inc('stale');
        this.log.warn({ repo, path, err: (e as Error).message }, 'upstream unreachable: serving stale index');
        return { type: 'file', ...held, state: 'stale' };
      }
      throw e;
    }
    if (outcome.type === 'stream') {
      // a new version of an index we hold: clients get it once it is complete, or the held
      // copy if the refresh fails (disk full, upstream cut off, bad digest) — never a body that
      // breaks off, which apt takes for a broken mirror. See refreshHeld.
      if (held && kind === 'index') return this.refreshHeld(repo, path, d, held, outcome.meta, opts);
      await held?.fh.close();
      this.inc('misses');
      return { type: 'download', download: d, meta: outcome.meta };
    }
    d.leave();
    if (outcome.type === 'not-modified') {
      // joined a revalidation started by a request that held the file when we did not
      if (!held) return opts.retried ? { type: 'status', status: 503 } : this.open(repo, path, { ...opts, retried: true });
      this.inc('hits');
      this.files.touch(repo, path);
      return { type: 'file', ...held, state: 'revalidated' };
    }
    await held?.fh.close();
    return outcome;
  }

  /**
   * Waits (joined) for the new version of a held index to be committed, then serves it from
   * disk; if the download fails, serves the held copy marked stale. Indexes are small: the wait
   * is bounded (REFRESH_WAIT_MS) so a huge or slow one is streamed as before instead of
   * keeping the client silent past its own timeout.
   */
  private async refreshHeld(repo: string, path: string, d: Download, held: Held, meta: DownloadMeta, opts: OpenOptions): Promise<OpenResult> {
    let timer: NodeJS.Timeout | undefined;
    const settled = await Promise.race([
      d.done.then(() => 'done' as const, (e: Error) => e),
      new Promise<'slow'>((r) => (timer = setTimeout(() => r('slow'), REFRESH_WAIT_MS)).unref()),
    ]);
    clearTimeout(timer);
    if (settled === 'slow') {
      await held.fh.close();
      this.inc('misses');
      return { type: 'download', download: d, meta };
    }
    d.leave();
    if (settled instanceof Error) {
      this.inc('hits');
      this.inc('stale');
      this.log.warn({ repo, path, err: settled.message }, 'index refresh failed; serving the held copy stale');
      return { type: 'file', ...held, state: 'stale' };
    }
    await held.fh.close();
    const row = this.store.row(repo, path);
    const fresh = row && (await this.files.held(repo, path, row));
    this.inc('misses');
    // from upstream just now: a miss to the client (X-Cache: MISS), served from its committed file
    if (fresh) return { type: 'file', ...fresh, state: 'refreshed' };
    // replaced again meanwhile (a neighbour's commit): look once more
    return opts.retried ? { type: 'status', status: 503 } : this.open(repo, path, { ...opts, retried: true });
  }

  /** Makes sure repo/path is on disk (for warm-up); returns whether it had to be fetched. */
  async ensure(repo: string, path: string, opts: OpenOptions = {}): Promise<{ fetched: boolean; size: number }> {
    const r = await this.open(repo, path, opts);
    if (r.type === 'status') throw new UpstreamError(`upstream status ${r.status} for ${path}`, r.status);
    if (r.type === 'file') {
      await r.fh.close();
      return { fetched: false, size: r.size };
    }
    r.download.leave();
    await r.download.done;
    return { fetched: true, size: r.download.written };
  }

  /** Is repo/path committed (no upstream contact)? */
  has(repo: string, path: string): boolean {
    return this.store.row(repo, path) !== undefined;
  }

  /** Lets indexes committed so far finish being read (warm reads what they taught). */
  async settled(): Promise<void> {
    while (this.ingesting.size) await Promise.allSettled([...this.ingesting]);
  }

  private download(repo: string, path: string, kind: FileKind, row: Row | undefined): Download {
    const key = `${repo}/${path}`;
    const running = this.inflight.get(key);
    if (running) {
      this.inc('coalesced');
      return running;
    }
    const d: Download = new Download({
      url: `${this.repos.get(repo)!.url}/${path.split('/').map(encodeURIComponent).join('/')}`,
      tmpPath: this.tmp.path(),
      fetch: this.fetchFn!,
      timeoutMs: this.o.config.upstreamTimeoutMs,
      conditional: kind === 'index' && row ? { etag: row.etag ?? undefined, lastModified: row.last_modified ?? undefined } : undefined,
      expected: () => this.expected(repo, path, kind),
      commit: async (r) => {
        await this.commit(repo, path, kind, r);
        if (this.inflight.get(key) === d) this.inflight.delete(key); // before readers may close
      },
      onUpstreamBytes: (n) => this.inc('bytesFromUpstream', n),
    });
    this.inflight.set(key, d);
    d.headers.then((o) => {
      if (o.type === 'not-modified' && row) {
        this.store.revalidated(repo, path, this.clock.now(), o.meta.etag, o.meta.lastModified);
        this.inc('revalidations');
      }
      if (o.type === 'status' && o.status === 404 && kind === 'index') {
        if (this.negative.size > 10_000) this.negative.clear(); // bounded: only probes land here
        this.negative.set(key, this.clock.now() + this.o.config.indexFreshSeconds * 1000);
      }
      if (o.type !== 'stream' && this.inflight.get(key) === d) this.inflight.delete(key);
    }, () => {});
    d.done.catch((e: Error) => {
      if (this.inflight.get(key) === d) this.inflight.delete(key);
      this.inc('upstreamErrors');
      if (e instanceof VerifyError) this.inc('verifyFailures');
      this.log.warn({ repo, path, err: e.message }, 'upstream fetch failed; nothing cached');
    });
    void d.run();
    return d;
  }

  private async expected(repo: string, path: string, kind: FileKind): Promise<Expected> {
    const format = this.repos.get(repo)!.format;
    const named = digestInName(path, format);
    if (named) return { digest: named };
    // an index still being read may hold this file's digest: wait for it
    await this.settled();
    const k = this.store.known(repo, path);
    if (!k) return {};
    const e: Expected = { digest: k.digest, size: k.size };
    const signer = ingestKindOf(k.src, format);
    // a by-name index checked against a Release (repomd, .treeinfo) that may have changed
    // upstream since we read it: on a mismatch, that Release is revalidated once
    if (kind === 'index' && (signer === 'release' || signer === 'repomd' || signer === 'treeinfo')) {
      e.recheck = async () => {
        await this.revalidate(repo, k.src);
        const k2 = this.store.known(repo, path);
        if (!k2 || (k2.digest.hex === k.digest.hex && k2.size === k.size)) return null;
        return { digest: k2.digest, size: k2.size };
      };
    }
    return e;
  }

  /** One forced revalidation of an index at a time; waits until what it lists is learnt. */
  private revalidate(repo: string, path: string): Promise<void> {
    const key = `${repo}/${path}`;
    let p = this.rechecks.get(key);
    if (!p) {
      p = this.ensure(repo, path, { force: true })
        .then(() => this.settled())
        .finally(() => this.rechecks.delete(key));
      this.rechecks.set(key, p);
    }
    return p;
  }

  private async commit(repo: string, path: string, kind: FileKind, r: { tmpPath: string; sha256: string; size: number; meta: DownloadMeta }): Promise<void> {
    const old = await this.files.commit(repo, path, kind, r);
    this.negative.delete(`${repo}/${path}`);
    this.log.debug({ repo, path, size: r.size }, 'cached');
    const ik = ingestKindOf(path, this.repos.get(repo)!.format);
    if (ik) this.ingest(repo, path, this.localPath(repo, path), ik, r.sha256, !!old && old.sha256 !== r.sha256);
  }

  private ingest(repo: string, path: string, file: string, kind: IngestKind, sha256: string, replaced: boolean): void {
    const p: Promise<void> = this.ingester
      .ingest(repo, path, file, kind, sha256, replaced)
      .then(async (o) => {
        for (const r of o.drop) {
          await this.files.remove(r);
          this.inc('contradicted');
          this.log.warn({ repo, path: r.path, index: path }, 'cached file does not match the SHA256 its index lists: removed');
        }
      })
      .catch((e: Error) => this.log.warn({ repo, path, err: e.message }, 'could not read index'))
      .finally(() => this.ingesting.delete(p));
    this.ingesting.add(p);
  }
}
