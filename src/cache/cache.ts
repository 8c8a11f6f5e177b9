// PackageCache: the on-disk store, its SQLite index and the single-flight table of downloads.
// Lookup order for /mirror/<repo>/<path>: a committed file that is immutable or still fresh is
// served from disk; otherwise one Download per path is started (or joined) — a conditional
// revalidation for index files we hold, a plain fetch otherwise. If upstream is down and we
// hold an older copy of an index, that copy is served stale (the router adds Warning 110/111).
import { mkdir, rename, rm, stat, unlink, utimes } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import type { Registry } from 'prom-client';
import type { DB } from '../store/db.js';
import type { Logger } from '../log.js';
import type { CacheConfig } from './config.js';
import { byHashSha256, isPackagesIndex, kindOf, type FileKind } from './paths.js';
import { Download, type DownloadMeta, type Expected } from './download.js';
import { httpFetchWith, UpstreamError, type FetchFn } from './upstream.js';
import { openIndex, parseStanzas } from './packages.js';
import { CacheMetrics, COUNTERS, type CounterName } from './metrics.js';

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
}

export type OpenResult =
  | { type: 'file'; file: string; size: number; state: 'fresh' | 'revalidated' | 'stale' }
  | { type: 'download'; download: Download; meta: DownloadMeta }
  | { type: 'status'; status: number };

interface Row {
  repo: string;
  path: string;
  kind: FileKind;
  size: number;
  sha256: string;
  etag: string | null;
  last_modified: string | null;
  validated_at: number;
  last_access: number;
}

export class PackageCache {
  private dir = '';
  private repos = new Map<string, string>();
  private readonly inflight = new Map<string, Download>();
  private readonly touched = new Map<string, [string, string, number]>();
  private readonly ingesting = new Set<Promise<void>>();
  /** index paths upstream answered 404 for, until when (apt probes InRelease, Release.gpg,
   *  Translation files that may not exist; a warm fleet should not ask upstream each time) */
  private readonly negative = new Map<string, number>();
  private totalBytes = 0;
  private fileCount = 0;
  private timer: NodeJS.Timeout | undefined;
  private metrics: CacheMetrics | undefined;
  private evicting = false;
  private fetchFn: FetchFn | undefined;
  private clock: Clock = { now: () => Date.now() };
  private log!: Logger;

  constructor(private readonly o: PackageCacheOptions) {}

  get config(): CacheConfig {
    return this.o.config;
  }

  repoNames(): string[] {
    return [...this.repos.keys()];
  }

  localPath(repo: string, path: string): string {
    return join(this.dir, repo, path);
  }

  async start(): Promise<void> {
    const c = this.o.config;
    this.log = this.o.log.child({ subsystem: 'cache' });
    this.dir = isAbsolute(c.dir) ? c.dir : resolve(this.o.baseDir ?? process.cwd(), c.dir);
    this.repos = new Map(c.repos.map((r) => [r.name, r.url.replace(/\/+$/, '')]));
    this.fetchFn = this.o.fetch ?? httpFetchWith(this.o.httpAgent);
    if (this.o.clock) this.clock = this.o.clock;
    await mkdir(this.dir, { recursive: true });
    // temp files of a previous run are partial downloads by definition
    await rm(join(this.dir, '.tmp'), { recursive: true, force: true });
    this.refreshTotals();
    this.metrics ??= new CacheMetrics(this.o.registry, { sizeBytes: () => this.totalBytes, files: () => this.fileCount, inflight: () => this.inflight.size });
    // last_access is batched: one UPDATE per hit would make SQLite the hit-path bottleneck
    let ticks = 0;
    this.timer = setInterval(() => {
      this.flushTouches();
      // `fleetboot cache warm` may add files from another process: re-read the totals now and then
      if (++ticks % 30 === 0) this.refreshTotals();
    }, 1000);
    this.timer.unref();
  }

  private refreshTotals(): void {
    const t = this.o.db.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS s FROM cache_files').get() as { n: number; s: number };
    this.fileCount = t.n;
    this.totalBytes = t.s;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.flushTouches();
    const running = [...this.inflight.values()];
    for (const d of running) d.stop();
    await Promise.allSettled([...running.map((d) => d.done), ...this.ingesting]);
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
      sizeBytes: this.totalBytes,
      files: this.fileCount,
      maxBytes: this.o.config.maxBytes,
      downloadsInFlight: this.inflight.size,
      repos: this.o.config.repos.map((r) => ({ name: r.name, url: r.url })),
    };
  }

  private row(repo: string, path: string): Row | undefined {
    return this.o.db.prepare('SELECT * FROM cache_files WHERE repo = ? AND path = ?').get(repo, path) as Row | undefined;
  }

  private dropRow(r: Row): void {
    this.o.db.prepare('DELETE FROM cache_files WHERE repo = ? AND path = ?').run(r.repo, r.path);
    this.totalBytes -= r.size;
    this.fileCount--;
  }

  private touch(repo: string, path: string): void {
    this.touched.set(`${repo}/${path}`, [repo, path, this.clock.now()]);
  }

  private flushTouches(): void {
    if (this.touched.size === 0) return;
    const up = this.o.db.prepare('UPDATE cache_files SET last_access = ? WHERE repo = ? AND path = ?');
    const rows = [...this.touched.values()];
    this.touched.clear();
    this.o.db.transaction(() => rows.forEach(([r, p, t]) => up.run(t, r, p)))();
  }

  /** Finds or fetches repo/path. A 'download' result is joined: the caller must pipeTo or leave. */
  async open(repo: string, path: string): Promise<OpenResult> {
    if (!this.repos.has(repo)) return { type: 'status', status: 404 };
    const kind = kindOf(path);
    const file = this.localPath(repo, path);
    const neg = this.negative.get(`${repo}/${path}`);
    if (neg !== undefined && neg > this.clock.now()) {
      this.inc('hits');
      return { type: 'status', status: 404 };
    }
    let row = this.row(repo, path);
    if (row) {
      const st = await stat(file).catch(() => null);
      if (!st || !st.isFile() || st.size !== row.size) {
        this.dropRow(row); // removed or damaged behind our back: fetch again
        row = undefined;
      } else if (kind === 'immutable' || this.clock.now() - row.validated_at < this.o.config.indexFreshSeconds * 1000) {
        this.touch(repo, path);
        this.inc('hits');
        return { type: 'file', file, size: row.size, state: 'fresh' };
      }
    }
    const d = this.download(repo, path, kind, row);
    d.join();
    let outcome;
    try {
      outcome = await d.headers;
    } catch (e) {
      d.leave();
      if (row) {
        this.inc('hits');
        this.inc('stale');
        this.log.warn({ repo, path, err: (e as Error).message }, 'upstream unreachable: serving stale index');
        return { type: 'file', file, size: row.size, state: 'stale' };
      }
      throw e;
    }
    if (outcome.type === 'stream') {
      this.inc('misses');
      return { type: 'download', download: d, meta: outcome.meta };
    }
    d.leave();
    if (outcome.type === 'not-modified') {
      if (!row) throw new UpstreamError('upstream answered 304 to a request we did not make conditional');
      this.inc('hits');
      this.touch(repo, path);
      return { type: 'file', file, size: row.size, state: 'revalidated' };
    }
    return outcome;
  }

  /** Makes sure repo/path is on disk (for warm-up); returns whether it had to be fetched. */
  async ensure(repo: string, path: string): Promise<{ fetched: boolean; size: number }> {
    const r = await this.open(repo, path);
    if (r.type === 'status') throw new UpstreamError(`upstream status ${r.status} for ${path}`, r.status);
    if (r.type === 'file') return { fetched: false, size: r.size };
    r.download.leave();
    await r.download.done;
    return { fetched: true, size: r.download.written };
  }

  /** Is repo/path committed (no upstream contact)? */
  has(repo: string, path: string): boolean {
    return this.row(repo, path) !== undefined;
  }

  private download(repo: string, path: string, kind: FileKind, row: Row | undefined): Download {
    const key = `${repo}/${path}`;
    const running = this.inflight.get(key);
    if (running) {
      this.inc('coalesced');
      return running;
    }
    const d: Download = new Download({
      url: `${this.repos.get(repo)}/${path.split('/').map(encodeURIComponent).join('/')}`,
      tmpPath: join(this.dir, '.tmp', randomUUID()),
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
        this.o.db
          .prepare('UPDATE cache_files SET validated_at = ?, etag = COALESCE(?, etag), last_modified = COALESCE(?, last_modified) WHERE repo = ? AND path = ?')
          .run(this.clock.now(), o.meta.etag ?? null, o.meta.lastModified ?? null, repo, path);
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
      if (/SHA256 mismatch|index says/.test(e.message)) this.inc('verifyFailures');
      this.log.warn({ repo, path, err: e.message }, 'upstream fetch failed; nothing cached');
    });
    void d.run();
    return d;
  }

  private async expected(repo: string, path: string, kind: FileKind): Promise<Expected> {
    if (kind !== 'immutable') return {};
    const bh = byHashSha256(path);
    if (bh) return { sha256: bh };
    // a Packages index still being read may hold this file's hash: wait for it
    if (this.ingesting.size) await Promise.allSettled([...this.ingesting]);
    const k = this.o.db.prepare('SELECT sha256, size FROM cache_known WHERE repo = ? AND path = ?').get(repo, path) as { sha256: string; size: number } | undefined;
    return k ?? {};
  }

  private async commit(repo: string, path: string, kind: FileKind, r: { tmpPath: string; sha256: string; size: number; meta: DownloadMeta }): Promise<void> {
    const final = this.localPath(repo, path);
    await mkdir(dirname(final), { recursive: true });
    // the file's mtime is upstream's Last-Modified, so our Last-Modified/304s match upstream's
    const lm = r.meta.lastModified ? Date.parse(r.meta.lastModified) : NaN;
    if (!Number.isNaN(lm)) await utimes(r.tmpPath, lm / 1000, lm / 1000);
    await rename(r.tmpPath, final);
    const old = this.row(repo, path);
    if (old) this.dropRow(old);
    const now = this.clock.now();
    this.o.db
      .prepare('INSERT INTO cache_files (repo, path, kind, size, sha256, etag, last_modified, validated_at, last_access) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(repo, path, kind, r.size, r.sha256, r.meta.etag ?? null, r.meta.lastModified ?? null, now, now);
    this.totalBytes += r.size;
    this.fileCount++;
    this.negative.delete(`${repo}/${path}`);
    this.log.debug({ repo, path, size: r.size }, 'cached');
    if (isPackagesIndex(path)) this.ingest(repo, final);
    if (this.totalBytes > this.o.config.maxBytes) void this.evict();
  }

  /** Learns Filename -> SHA256/Size from a Packages index (streamed; batched transactions). */
  private ingest(repo: string, file: string): void {
    const up = this.o.db.prepare('INSERT OR REPLACE INTO cache_known (repo, path, sha256, size) VALUES (?, ?, ?, ?)');
    let batch: [string, string, number][] = [];
    const flush = () => {
      const b = batch;
      batch = [];
      this.o.db.transaction(() => b.forEach(([p, h, s]) => up.run(repo, p, h, s)))();
    };
    const p: Promise<void> = (async () => {
      await parseStanzas(await openIndex(file), (s) => {
        if (s.Filename && /^[0-9a-f]{64}$/.test(s.SHA256 ?? '')) batch.push([s.Filename, s.SHA256, Number(s.Size)]);
        if (batch.length >= 2000) flush();
      }, ['Filename', 'SHA256', 'Size']);
      flush();
    })()
      .catch((e: Error) => this.log.warn({ repo, file, err: e.message }, 'could not read Packages index'))
      .finally(() => this.ingesting.delete(p));
    this.ingesting.add(p);
  }

  /** Drops least-recently-used immutable files until the cache fits in maxBytes. */
  private async evict(): Promise<void> {
    if (this.evicting) return;
    this.evicting = true;
    try {
      this.flushTouches();
      this.refreshTotals();
      while (this.totalBytes > this.o.config.maxBytes) {
        const victims = this.o.db.prepare("SELECT * FROM cache_files WHERE kind = 'immutable' ORDER BY last_access LIMIT 100").all() as Row[];
        if (victims.length === 0) break;
        for (const v of victims) {
          if (this.totalBytes <= this.o.config.maxBytes) break;
          // unlinking is safe under a reader: its open descriptor keeps the bytes
          await unlink(this.localPath(v.repo, v.path)).catch(() => {});
          this.dropRow(v);
          this.inc('evictions');
        }
      }
    } finally {
      this.evicting = false;
    }
  }
}
