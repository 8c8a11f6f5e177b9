// What /assets knows about its files between requests, so the hot path does no file-system
// work (docs/performance.md: realpath + stat + open + read + close were five thread-pool round
// trips per request, and createReadStream allocated a fresh 256 KiB buffer even for a 60 KiB
// file):
//  - the jail's verdict (realpath inside the root) with size, mtime and inode, per request
//    path, trusted for `ttlMs` and then revalidated (one realpath + stat, shared by the
//    requests that arrive meanwhile); a changed inode, size or mtime drops what was cached;
//  - the bytes of small files (<= maxBodyBytes each, maxTotalBodyBytes in all), read once;
//  - large files are opened per request and checked with fstat against the entry before a
//    byte is sent (a file replaced since the last check is re-resolved, never mixed), then
//    sent from reusable buffers (send-range.ts), not a new allocation per read.
// Bounded: at most maxEntries paths (least recently used dropped); misses are never cached,
// so unknown paths cannot grow it.
import { open, type FileHandle } from 'node:fs/promises';
import { Jail, normaliseRequestPath, type JailResult } from '../jail.js';

export interface AssetEntry {
  path: string;
  size: number;
  mtimeMs: number;
  ino: number;
  /** the whole file, for small files */
  body?: Buffer;
  /** response header values, formatted on first use (assets.ts) */
  etag?: string;
  lastModified?: string;
  checkedAt: number;
}

export interface AssetCacheOptions {
  now?: () => number;
  /** how long a resolved path is trusted before it is checked again */
  ttlMs?: number;
  maxEntries?: number;
  maxBodyBytes?: number;
  maxTotalBodyBytes?: number;
}

export type Lookup = { ok: true; entry: AssetEntry } | Extract<JailResult, { ok: false }>;

export class AssetCache {
  readonly jail: Jail;
  private readonly entries = new Map<string, AssetEntry>();
  private readonly pending = new Map<string, Promise<Lookup>>();
  private bodyBytes = 0;
  private readonly now: () => number;
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly maxBody: number;
  private readonly maxTotal: number;
  /** counters for tests and docs/performance.md: resolutions done vs answered from memory */
  readonly stats = { resolves: 0, hits: 0, bodyReads: 0 };

  constructor(readonly root: string, o: AssetCacheOptions = {}) {
    this.jail = new Jail(root);
    this.now = o.now ?? Date.now;
    this.ttlMs = o.ttlMs ?? 1000;
    this.maxEntries = o.maxEntries ?? 1024;
    this.maxBody = o.maxBodyBytes ?? 1024 * 1024;
    this.maxTotal = o.maxTotalBodyBytes ?? 64 * 1024 * 1024;
  }

  /** The entry for a client path, from memory when it was checked less than ttlMs ago. */
  lookup(raw: string): Lookup | Promise<Lookup> {
    const rel = normaliseRequestPath(raw);
    if (rel === null || rel === '') return { ok: false, reason: 'invalid' };
    const e = this.entries.get(rel);
    if (e && this.now() - e.checkedAt < this.ttlMs) {
      this.stats.hits++;
      // most recently used last: eviction takes the first key
      this.entries.delete(rel);
      this.entries.set(rel, e);
      return { ok: true, entry: e };
    }
    return this.resolve(rel);
  }

  /** Forgets a path (its file changed under an open request); the next lookup resolves it. */
  invalidate(raw: string): void {
    const rel = normaliseRequestPath(raw);
    if (rel !== null) this.drop(rel);
  }

  private drop(rel: string): void {
    const e = this.entries.get(rel);
    if (!e) return;
    if (e.body) this.bodyBytes -= e.body.length;
    this.entries.delete(rel);
  }

  private resolve(rel: string): Promise<Lookup> {
    let p = this.pending.get(rel);
    if (!p) {
      p = this.doResolve(rel).finally(() => this.pending.delete(rel));
      this.pending.set(rel, p);
    }
    return p;
  }

  private async doResolve(rel: string): Promise<Lookup> {
    this.stats.resolves++;
    const checkedAt = this.now();
    const r = await this.jail.resolve(rel);
    const old = this.entries.get(rel);
    if (!r.ok) {
      this.drop(rel);
      return r;
    }
    if (old && old.path === r.path && old.ino === r.ino && old.size === r.size && old.mtimeMs === r.mtimeMs) {
      old.checkedAt = checkedAt;
      return { ok: true, entry: old };
    }
    this.drop(rel);
    const e: AssetEntry = { path: r.path, size: r.size, mtimeMs: r.mtimeMs, ino: r.ino, checkedAt };
    if (r.size > 0 && r.size <= this.maxBody && this.bodyBytes + r.size <= this.maxTotal) {
      // read through a descriptor checked against the stat: a file replaced in between is not
      // cached under the old one's size (it is resolved again on the next request)
      const body = await readIfSame(e);
      if (body) {
        this.stats.bodyReads++;
        e.body = body;
        this.bodyBytes += body.length;
      } else return this.resolveAgain(rel);
    }
    this.entries.set(rel, e);
    while (this.entries.size > this.maxEntries) this.drop(this.entries.keys().next().value as string);
    return { ok: true, entry: e };
  }

  /** once: a file that keeps changing under us is served uncached (opened per request) */
  private async resolveAgain(rel: string): Promise<Lookup> {
    const r = await this.jail.resolve(rel);
    if (!r.ok) return r;
    return { ok: true, entry: { path: r.path, size: r.size, mtimeMs: r.mtimeMs, ino: r.ino, checkedAt: this.now() - this.ttlMs } };
  }

  /**
   * Opens the entry's file and checks (fstat) that it is still the version the entry
   * describes; null when it changed (the entry is dropped: the caller looks it up again).
   */
  async openChecked(raw: string, e: AssetEntry): Promise<FileHandle | null> {
    const fh = await open(e.path, 'r').catch(() => null);
    if (fh) {
      const st = await fh.stat().catch(() => null);
      if (st && st.ino === e.ino && st.size === e.size && st.mtimeMs === e.mtimeMs) return fh;
      await fh.close().catch(() => {});
    }
    this.invalidate(raw);
    return null;
  }
}

async function readIfSame(e: AssetEntry): Promise<Buffer | null> {
  const fh = await open(e.path, 'r').catch(() => null);
  if (!fh) return null;
  try {
    const st = await fh.stat();
    if (st.ino !== e.ino || st.size !== e.size || st.mtimeMs !== e.mtimeMs) return null;
    const buf = Buffer.allocUnsafe(e.size);
    let off = 0;
    while (off < e.size) {
      const { bytesRead } = await fh.read(buf, off, e.size - off, off);
      if (bytesRead === 0) return null; // truncated meanwhile
      off += bytesRead;
    }
    return buf;
  } catch {
    return null;
  } finally {
    await fh.close().catch(() => {});
  }
}
