// The committed files of the cache and their rows, kept in step:
// - commit: the row is written first, then the verified temp file is renamed into place (and
//   the old row put back if the rename fails). A crash in between leaves a row whose file is
//   missing or is the previous version; held() sees both (fstat size and mtime against the
//   row) and the caller fetches again. A file without a row cannot arise from a commit.
// - remove (eviction, files an index contradicts): the file first, then that exact version of
//   the row, so a crash or a neighbour's re-commit again leaves at worst a row without a file.
// Size totals are kept in memory and re-read from SQLite now and then (other processes write).
import { lstat, mkdir, open, rename, stat, unlink, utimes, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from '../log.js';
import type { FileKind } from './paths.js';
import type { DownloadMeta } from './download.js';
import { UpstreamError } from './upstream.js';
import type { CacheStore, Row } from './store.js';
import type { CounterName } from './metrics.js';

export interface Held {
  fh: FileHandle;
  size: number;
  mtimeMs: number;
  /** inode and device of the open file: with size and mtime, which version it is (hot-bodies.ts) */
  ino: number;
  dev: number;
}

export interface FilesDeps {
  dir: string;
  store: CacheStore;
  log: Logger;
  now: () => number;
  maxBytes: number;
  inc: (name: CounterName, n?: number) => void;
}

export class CacheFiles {
  totalBytes = 0;
  fileCount = 0;
  private readonly touched = new Map<string, [string, string, number]>();
  private evicting = false;

  constructor(private readonly d: FilesDeps) {}

  localPath(repo: string, path: string): string {
    return join(this.d.dir, repo, path);
  }

  refreshTotals(): void {
    const t = this.d.store.totals();
    this.fileCount = t.n;
    this.totalBytes = t.s;
  }

  private account(minus: Row | undefined, plus: Row | undefined): void {
    this.totalBytes += (plus?.size ?? 0) - (minus?.size ?? 0);
    this.fileCount += (plus ? 1 : 0) - (minus ? 1 : 0);
  }

  /** last_access is batched: one UPDATE per hit would make SQLite the hit-path bottleneck */
  touch(repo: string, path: string): void {
    this.touched.set(`${repo}/${path}`, [repo, path, this.d.now()]);
  }

  flushTouches(): void {
    if (this.touched.size === 0) return;
    const rows = [...this.touched.values()];
    this.touched.clear();
    this.d.store.touch(rows);
  }

  /** The committed file if it is what its row describes: opened first, then checked, and
   *  served from that descriptor, so a concurrent rename never mixes two versions. */
  async held(repo: string, path: string, row: Row): Promise<Held | null> {
    const fh = await open(this.localPath(repo, path), 'r').catch(() => null);
    if (!fh) return null;
    const st = await fh.stat().catch(() => null);
    if (st && st.isFile() && st.size === row.size && (row.mtime === null || Math.floor(st.mtimeMs) === row.mtime)) return { fh, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, dev: st.dev };
    await fh.close().catch(() => {});
    return null;
  }

  async isDirectory(repo: string, path: string): Promise<boolean> {
    return (await stat(this.localPath(repo, path)).catch(() => null))?.isDirectory() ?? false;
  }

  /** Moves a verified temp file into place; returns the row it replaced. */
  async commit(repo: string, path: string, kind: FileKind, r: { tmpPath: string; sha256: string; size: number; meta: DownloadMeta }): Promise<Row | undefined> {
    await this.parentDir(repo, path);
    // the file's mtime is upstream's Last-Modified, so our Last-Modified/304s match upstream's
    const lm = r.meta.lastModified ? Date.parse(r.meta.lastModified) : NaN;
    if (!Number.isNaN(lm)) await utimes(r.tmpPath, lm / 1000, lm / 1000);
    const st = await stat(r.tmpPath);
    const now = this.d.now();
    const row: Row = {
      repo, path, kind, size: r.size, sha256: r.sha256, etag: r.meta.etag ?? null, last_modified: r.meta.lastModified ?? null,
      validated_at: now, last_access: now, mtime: Math.floor(st.mtimeMs),
    };
    const old = this.d.store.upsert(row);
    this.account(old, row);
    try {
      await rename(r.tmpPath, this.localPath(repo, path));
    } catch (e) {
      this.d.store.restore(row, old);
      this.account(row, old);
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EISDIR' || code === 'ENOTEMPTY' || code === 'EEXIST') throw new UpstreamError(`${path} is a directory in the cache (files below it came from upstream): not cached`);
      throw e;
    }
    if (this.totalBytes > this.d.maxBytes) void this.evict();
    return old;
  }

  /** mkdir -p for the file's directory. A *file* in the way is one an earlier version cached
   *  for a directory path (an HTML listing); upstream just served a file below it, so it is a
   *  directory there: the poisoned entry is removed. */
  private async parentDir(repo: string, path: string): Promise<void> {
    const dir = dirname(this.localPath(repo, path));
    try {
      await mkdir(dir, { recursive: true });
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOTDIR' && code !== 'EEXIST') throw e;
    }
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const p = parts.slice(0, i).join('/');
      const st = await lstat(this.localPath(repo, p)).catch(() => null);
      if (!st) break;
      if (st.isDirectory()) continue;
      await unlink(this.localPath(repo, p));
      const row = this.d.store.row(repo, p);
      if (row && this.d.store.deleteExact(row)) this.account(row, undefined);
      this.d.log.warn({ repo, path: p }, 'removed a cached file that upstream serves as a directory');
      break;
    }
    await mkdir(dir, { recursive: true });
  }

  /** Removes a file and (only) that version of its row. Unlinking is safe under a reader: its
   *  open descriptor keeps the bytes. */
  async remove(r: Row): Promise<boolean> {
    await unlink(this.localPath(r.repo, r.path)).catch(() => {});
    if (!this.d.store.deleteExact(r)) return false;
    this.account(r, undefined);
    return true;
  }

  /** Drops least-recently-used immutable files until the cache fits in maxBytes. */
  async evict(): Promise<void> {
    if (this.evicting) return;
    this.evicting = true;
    try {
      this.flushTouches();
      this.refreshTotals();
      while (this.totalBytes > this.d.maxBytes) {
        let progress = false;
        for (const v of this.d.store.lruVictims(100)) {
          if (this.totalBytes <= this.d.maxBytes) break;
          if (await this.remove(v)) {
            this.d.inc('evictions');
            progress = true;
          }
        }
        if (!progress) break;
      }
    } finally {
      this.evicting = false;
    }
  }
}
