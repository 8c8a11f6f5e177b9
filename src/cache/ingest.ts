// The verification chain: after an index file is committed, the digests it lists are learnt
// into cache_known so the files it names are checked when they are fetched.
//   deb: InRelease/Release -> Packages*, Sources*, Translation* ... by name
//        Packages (binary-*/, debian-installer/binary-*/) -> pool/*.deb, *.udeb
//   rpm: repodata/repomd.xml -> repodata/*; primary.xml -> *.rpm; .treeinfo -> images/*
// It also reconciles what is already cached with what the index now says:
// - an index listing other digests for by-name index files we hold (a new InRelease) marks
//   them stale and drops their validators, so the next request fetches them afresh;
// - a Packages/primary index listing another SHA256 for a cached package (fetched before any
//   index was known, so never checked) gets that file dropped.
import { basename, dirname } from 'node:path';
import type { Logger } from '../log.js';
import { openIndex, parseRelease, parseStanzas } from './packages.js';
import { parsePrimary, parseRepomd, parseTreeinfo } from './rpm.js';
import type { IngestKind } from './paths.js';
import type { CacheStore, KnownEntry, Row } from './store.js';

export interface IngestOutcome {
  /** cached files the index contradicts: the caller removes them */
  drop: Row[];
  /** by-name index files marked for revalidation */
  stale: string[];
  entries: number;
}

const RELEASE_FILES = ['InRelease', 'Release', 'Release.gpg'];

export class Ingester {
  /** content already read (several names carry one Packages: .xz, .gz, by-hash) */
  private readonly seen = new Set<string>();
  private gen = 0;

  constructor(private readonly store: CacheStore, private readonly log: Logger, private readonly now: () => number) {}

  /** A generation strictly increasing within this process (a fake clock may stand still). */
  private nextGen(): number {
    this.gen = Math.max(this.gen + 1, this.now());
    return this.gen;
  }

  async ingest(repo: string, path: string, file: string, kind: IngestKind, sha256: string, replaced: boolean): Promise<IngestOutcome> {
    const out: IngestOutcome = { drop: [], stale: [], entries: 0 };
    const key = `${repo}\0${kind}\0${sha256}`;
    // the same Packages content under three names: learnt once (a Release is always re-read:
    // its rows carry src = its own path)
    if ((kind === 'packages' || kind === 'primary') && this.seen.has(key)) return out;
    const gen = this.nextGen();
    let batch: KnownEntry[] = [];
    const flush = () => {
      if (batch.length) this.store.putKnown(repo, path, gen, batch);
      out.entries += batch.length;
      batch = [];
    };
    const add = (e: KnownEntry) => {
      batch.push(e);
      if (batch.length >= 2000) flush();
    };
    if (kind === 'release') {
      const base = dirname(path) + '/';
      const rel = await parseRelease(file);
      for (const [p, v] of rel.sha256) add({ path: base + p, algo: 'sha256', hex: v.sha256, size: v.size });
    } else if (kind === 'packages') {
      await parseStanzas(await openIndex(file), (s) => {
        if (s.Filename && /^[0-9a-f]{64}$/.test(s.SHA256 ?? '')) add({ path: s.Filename, algo: 'sha256', hex: s.SHA256, size: Number(s.Size) });
      }, ['Filename', 'SHA256', 'Size']);
    } else if (kind === 'repomd') {
      const base = path.slice(0, path.length - 'repodata/repomd.xml'.length);
      for (const e of await parseRepomd(file)) add({ ...e, path: base + e.path });
    } else if (kind === 'primary') {
      const base = path.slice(0, path.lastIndexOf('repodata/'));
      await parsePrimary(await openIndex(file), (e) => add({ ...e, path: base + e.path }));
    } else {
      const base = dirname(path) === '.' ? '' : dirname(path) + '/';
      for (const e of await parseTreeinfo(file)) add({ ...e, path: base + e.path });
    }
    flush();
    // a read that found nothing keeps the earlier rows: an empty or unreadable index must not
    // erase what a good one taught
    if (out.entries === 0) return out;
    const pruned = this.store.pruneKnown(repo, path, gen);
    const contradicted = this.store.mismatches(repo, path, gen);
    if (kind === 'packages' || kind === 'primary') {
      this.seen.add(key);
      out.drop = contradicted.filter((r) => r.kind === 'immutable');
    } else {
      out.stale = contradicted.filter((r) => r.kind === 'index').map((r) => r.path);
      this.store.markStale(repo, out.stale, true);
      if (replaced) {
        // a new Release: the other signature/release files of the dist changed too
        const dir = dirname(path);
        const sibs = kind === 'release' ? RELEASE_FILES.filter((f) => f !== basename(path)).map((f) => `${dir}/${f}`) : kind === 'repomd' ? [`${path}.asc`] : [];
        const held = sibs.filter((p) => this.store.row(repo, p));
        this.store.markStale(repo, held, false);
        out.stale.push(...held);
      }
    }
    this.log.debug({ repo, path, kind, entries: out.entries, pruned, stale: out.stale.length, drop: out.drop.length }, 'index read');
    return out;
  }
}
