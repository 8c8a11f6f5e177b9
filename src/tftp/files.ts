// Where a TFTP read request's bytes come from: the injected generator first (per-host files
// from the boot decision), then the realpath jail over the TFTP root.
//
// Jail verdicts, and the bytes of small files, come from an AssetCache (the one /assets uses,
// src/http/asset-cache.ts): a storm of PXE clients asks for the same few loaders, and per
// request realpath + stat + open + fstat + read + close were six thread-pool round trips on the
// main thread (docs/performance.md, "Storm"). Same consistency rule as /assets: a verdict is
// trusted for 1 s, then revalidated; a small file changed within that second is served whole
// in its previous version, never mixed. Large files are opened per request (their size taken
// from the open descriptor, as before). An injected `openFile` (tests: EMFILE) is the opener for
// every request: no cache then.
import { isResourceError } from '../errors.js';
import { Jail, type JailResult } from '../jail.js';
import { AssetCache, type Lookup } from '../http/asset-cache.js';
import { BufferSource, FileSource, type BlockSource } from './source.js';
import type { GeneratedFileSource } from './server.js';

/** Why a request gets no file; the server maps it to an ERROR packet or to silence. */
export type Refusal =
  | { kind: 'generator-failed'; err: unknown }
  | { kind: 'denied'; reason: string }
  | { kind: 'not-found'; reason?: string; err?: unknown }
  | { kind: 'unavailable'; err: unknown };

export type Opened = { ok: true; source: BlockSource } | { ok: false; refusal: Refusal };

export interface TftpFilesOptions {
  root: string;
  generated?: GeneratedFileSource;
  openFile?: (path: string) => Promise<BlockSource>;
}

export class TftpFiles {
  private readonly jail: Jail;
  private readonly cache: AssetCache | undefined;

  constructor(private readonly o: TftpFilesOptions) {
    this.jail = new Jail(o.root);
    this.cache = o.openFile ? undefined : new AssetCache(o.root);
  }

  /** cache counters (tests, docs/performance.md); undefined without a cache */
  get stats(): AssetCache['stats'] | undefined {
    return this.cache?.stats;
  }

  async open(rel: string, client: { address: string; port: number }): Promise<Opened> {
    if (this.o.generated) {
      let buf: Buffer | null;
      try {
        buf = await this.o.generated(rel, client);
      } catch (err) {
        // Not falling back to the jail: a static file of the same name could boot the host
        // into something other than what the decision would have said.
        return { ok: false, refusal: { kind: 'generator-failed', err } };
      }
      if (buf) return { ok: true, source: new BufferSource(buf) };
    }
    let r: Lookup | JailResult;
    try {
      r = this.cache ? await this.cache.lookup(rel) : await this.jail.resolve(rel);
    } catch (err) {
      return { ok: false, refusal: isResourceError(err) ? { kind: 'unavailable', err } : { kind: 'not-found', err } };
    }
    if (!r.ok) {
      if (r.reason === 'unavailable') return { ok: false, refusal: { kind: 'unavailable', err: { code: 'unavailable' } } };
      if (r.reason === 'invalid' || r.reason === 'outside') return { ok: false, refusal: { kind: 'denied', reason: r.reason } };
      return { ok: false, refusal: { kind: 'not-found', reason: r.reason } };
    }
    const path = 'entry' in r ? r.entry.path : r.path;
    if ('entry' in r && r.entry.body) return { ok: true, source: new BufferSource(r.entry.body) };
    try {
      return { ok: true, source: await (this.o.openFile ?? FileSource.open)(path) };
    } catch (err) {
      // the verdict may be up to 1 s old: a file gone since is "not found" now, and is looked up afresh next time
      this.cache?.invalidate(rel);
      return { ok: false, refusal: isResourceError(err) ? { kind: 'unavailable', err } : { kind: 'not-found', err } };
    }
  }
}
