// The cache's SQLite rows: cache_files (one per committed file) and cache_known (digests learnt
// from indexes). Several processes (the daemon, `fleetboot cache warm`) share the database, so
// writes are upserts in transactions and deletes name the exact row they mean to delete.
import type { DB } from '../store/db.js';
import { Statements } from '../store/statements.js';
import type { Digest, DigestAlgo, FileKind } from './paths.js';

export interface Row {
  repo: string;
  path: string;
  kind: FileKind;
  size: number;
  sha256: string;
  etag: string | null;
  last_modified: string | null;
  validated_at: number;
  last_access: number;
  /** ms; null for rows written before migration 005 */
  mtime: number | null;
}

export interface Known {
  digest: Digest;
  size?: number;
  /** the index that listed it */
  src: string;
}

export interface KnownEntry {
  path: string;
  algo: DigestAlgo;
  hex: string;
  size?: number;
}

export class CacheStore {
  /** statements prepared once: a hit's row lookup prepared per call cost ~8 % of the hit */
  private readonly sql: Statements;

  constructor(private readonly db: DB) {
    this.sql = new Statements(db);
  }

  row(repo: string, path: string): Row | undefined {
    return this.sql.get('SELECT * FROM cache_files WHERE repo = ? AND path = ?').get(repo, path) as Row | undefined;
  }

  totals(): { n: number; s: number } {
    return this.sql.get('SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS s FROM cache_files').get() as { n: number; s: number };
  }

  /** Writes the row for a file about to be renamed into place; returns the row it replaced. */
  upsert(r: Row): Row | undefined {
    return this.db.transaction(() => {
      const old = this.row(r.repo, r.path);
      this.sql
        .get(
          `INSERT INTO cache_files (repo, path, kind, size, sha256, etag, last_modified, validated_at, last_access, mtime)
           VALUES (@repo, @path, @kind, @size, @sha256, @etag, @last_modified, @validated_at, @last_access, @mtime)
           ON CONFLICT (repo, path) DO UPDATE SET kind = excluded.kind, size = excluded.size, sha256 = excluded.sha256,
             etag = excluded.etag, last_modified = excluded.last_modified, validated_at = excluded.validated_at,
             last_access = excluded.last_access, mtime = excluded.mtime`,
        )
        .run(r);
      return old;
    })();
  }

  /** Undoes upsert(new) when the rename failed: puts `old` back, or deletes `mine` if still ours. */
  restore(mine: Row, old: Row | undefined): void {
    this.db.transaction(() => {
      if (old) this.upsert(old);
      else this.deleteExact(mine);
    })();
  }

  /** Deletes this exact version of the row (another process may have committed a newer one). */
  deleteExact(r: Pick<Row, 'repo' | 'path' | 'size' | 'sha256' | 'validated_at'>): boolean {
    return (
      this.sql
        .get('DELETE FROM cache_files WHERE repo = ? AND path = ? AND size = ? AND sha256 = ? AND validated_at = ?')
        .run(r.repo, r.path, r.size, r.sha256, r.validated_at).changes > 0
    );
  }

  revalidated(repo: string, path: string, at: number, etag: string | undefined, lastModified: string | undefined): void {
    this.sql
      .get('UPDATE cache_files SET validated_at = ?, etag = COALESCE(?, etag), last_modified = COALESCE(?, last_modified) WHERE repo = ? AND path = ?')
      .run(at, etag ?? null, lastModified ?? null, repo, path);
  }

  touch(rows: [string, string, number][]): void {
    const up = this.sql.get('UPDATE cache_files SET last_access = ? WHERE repo = ? AND path = ?');
    this.db.transaction(() => rows.forEach(([r, p, t]) => up.run(t, r, p)))();
  }

  lruVictims(limit: number): Row[] {
    return this.sql.get("SELECT * FROM cache_files WHERE kind = 'immutable' ORDER BY last_access LIMIT ?").all(limit) as Row[];
  }

  /** Due for revalidation at the next request; `unconditional` also forgets the validators
   *  (the copy is known to differ from what upstream now lists: a 304 must not keep it). */
  markStale(repo: string, paths: string[], unconditional: boolean): void {
    const up = this.sql.get(
      unconditional
        ? 'UPDATE cache_files SET validated_at = 0, etag = NULL, last_modified = NULL WHERE repo = ? AND path = ?'
        : 'UPDATE cache_files SET validated_at = 0 WHERE repo = ? AND path = ?',
    );
    this.db.transaction(() => paths.forEach((p) => up.run(repo, p)))();
  }

  known(repo: string, path: string): Known | undefined {
    const k = this.sql.get('SELECT sha256, size, algo, src FROM cache_known WHERE repo = ? AND path = ?').get(repo, path) as
      | { sha256: string; size: number; algo: DigestAlgo; src: string }
      | undefined;
    if (!k) return undefined;
    return { digest: { algo: k.algo, hex: k.sha256 }, size: k.size >= 0 ? k.size : undefined, src: k.src };
  }

  /** Records what index `src` lists (batched by the caller); generation `gen` marks this read. */
  putKnown(repo: string, src: string, gen: number, entries: KnownEntry[]): void {
    const up = this.sql.get(
      `INSERT INTO cache_known (repo, path, sha256, size, algo, src, gen) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (repo, path) DO UPDATE SET sha256 = excluded.sha256, size = excluded.size, algo = excluded.algo, src = excluded.src, gen = excluded.gen`,
    );
    this.db.transaction(() => entries.forEach((e) => up.run(repo, e.path, e.hex, e.size ?? -1, e.algo, src, gen)))();
  }

  /** Drops what an earlier read of `src` listed and this read (gen) did not. One indexed DELETE. */
  pruneKnown(repo: string, src: string, gen: number): number {
    return this.sql.get('DELETE FROM cache_known WHERE repo = ? AND src = ? AND gen < ?').run(repo, src, gen).changes;
  }

  /** Cached files whose stored SHA256/size disagree with what index `src` (read as gen) lists. */
  mismatches(repo: string, src: string, gen: number): Row[] {
    return this.sql
      .get(
        `SELECT f.* FROM cache_known k JOIN cache_files f ON f.repo = k.repo AND f.path = k.path
         WHERE k.repo = ? AND k.src = ? AND k.gen = ? AND k.algo = 'sha256' AND (f.sha256 <> k.sha256 OR (k.size >= 0 AND f.size <> k.size))`,
      )
      .all(repo, src, gen) as Row[];
  }

  knownCount(repo?: string): number {
    const q = repo ? this.sql.get('SELECT COUNT(*) AS n FROM cache_known WHERE repo = ?').get(repo) : this.sql.get('SELECT COUNT(*) AS n FROM cache_known').get();
    return (q as { n: number }).n;
  }
}
