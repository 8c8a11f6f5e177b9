// Cache warm-up for a role: resolves what an install of the role will download — the role's
// packages, the suite's base set (Priority required/important, what debootstrap and d-i
// install anyway) and the Depends/Pre-Depends closure of both — from the suite's Packages
// indexes, then fetches every missing file through the cache (the same single-flight path
// clients use), so a wave of reinstalls is served from disk. Version constraints are not
// solved: a suite carries one version of each package, which is the one apt will pick.
import type { PackageCache } from './cache.js';
import { openIndex, parseRelease, parseStanzas } from './packages.js';

export interface WarmOptions {
  suite: string;
  components?: string[];
  arch?: string;
  packages: string[];
  dryRun?: boolean;
  /** repo name under /mirror; default: the first configured */
  repo?: string;
  /** base-set priorities; default required + important */
  priorities?: string[];
  concurrency?: number;
  onProgress?: (line: string) => void;
}

export interface WarmResult {
  repo: string;
  suite: string;
  arch: string;
  dryRun: boolean;
  packages: number;
  unresolved: string[];
  cached: { count: number; bytes: number };
  toFetch: { count: number; bytes: number };
  fetched: { count: number; bytes: number };
  failed: { path: string; error: string }[];
}

interface Pkg {
  name: string;
  filename: string;
  size: number;
  priority: string;
  deps: string[][];
}

const FIELDS = ['Package', 'Architecture', 'Priority', 'Depends', 'Pre-Depends', 'Provides', 'Filename', 'Size'];

/** "a (>= 1) | b:any, c" -> [["a","b"],["c"]] */
export function parseDepends(v: string | undefined): string[][] {
  if (!v) return [];
  return v
    .split(',')
    .map((g) => g.split('|').map((a) => a.trim().replace(/\s*\(.*?\)|\s*\[.*?\]|\s*<.*?>/g, '').replace(/:[a-z0-9-]+$/, '').trim()))
    .map((g) => g.filter(Boolean))
    .filter((g) => g.length > 0);
}

/** Which index files apt, debootstrap and d-i fetch for one component: Packages.xz/.gz by name,
 *  and by hash when the Release says so. The uncompressed Packages is listed in Debian's
 *  Release for verification only (not on the mirror), so it is used only when nothing else is. */
function indexPaths(suite: string, comp: string, arch: string, release: Awaited<ReturnType<typeof parseRelease>>): { fetch: string[]; parse: string } | null {
  const byHash = /^yes$/i.test(release.fields['Acquire-By-Hash'] ?? '');
  const dir = `${comp}/binary-${arch}`;
  let exts = ['.xz', '.gz'].filter((e) => release.sha256.has(`${dir}/Packages${e}`));
  if (exts.length === 0 && release.sha256.has(`${dir}/Packages`)) exts = [''];
  if (exts.length === 0) return null;
  const fetch: string[] = [];
  for (const ext of exts) {
    fetch.push(`dists/${suite}/${dir}/Packages${ext}`);
    if (byHash) fetch.push(`dists/${suite}/${dir}/by-hash/SHA256/${release.sha256.get(`${dir}/Packages${ext}`)!.sha256}`);
  }
  // .gz is read with node's zlib; .xz needs the xz binary (xz-utils)
  const parse = `dists/${suite}/${dir}/Packages${exts.includes('.gz') ? '.gz' : exts[0]}`;
  return { fetch, parse };
}

export async function warmCache(cache: PackageCache, opts: WarmOptions): Promise<WarmResult> {
  const repo = opts.repo ?? cache.repoNames()[0];
  const arch = opts.arch ?? 'amd64';
  const comps = opts.components ?? ['main'];
  const say = opts.onProgress ?? (() => {});
  const res: WarmResult = {
    repo, suite: opts.suite, arch, dryRun: !!opts.dryRun, packages: 0, unresolved: [],
    cached: { count: 0, bytes: 0 }, toFetch: { count: 0, bytes: 0 }, fetched: { count: 0, bytes: 0 }, failed: [],
  };
  // indexes are fetched even in a dry run: the package set cannot be known without them
  let releasePath = `dists/${opts.suite}/InRelease`;
  try {
    await cache.ensure(repo, releasePath);
  } catch {
    releasePath = `dists/${opts.suite}/Release`;
    await cache.ensure(repo, releasePath);
  }
  const release = await parseRelease(cache.localPath(repo, releasePath));
  const all = new Map<string, Pkg>();
  const providers = new Map<string, string[]>();
  for (const comp of comps) {
    const paths = indexPaths(opts.suite, comp, arch, release);
    if (!paths) throw new Error(`${opts.suite}/${comp}/binary-${arch}: no Packages index in the Release file`);
    for (const p of paths.fetch) await cache.ensure(repo, p);
    say(`index ${paths.parse}`);
    await parseStanzas(await openIndex(cache.localPath(repo, paths.parse)), (s) => {
      if (!s.Package || !s.Filename || (s.Architecture !== arch && s.Architecture !== 'all')) return;
      if (all.has(s.Package)) return; // first component listed wins
      all.set(s.Package, {
        name: s.Package, filename: s.Filename, size: Number(s.Size ?? 0), priority: s.Priority ?? 'optional',
        deps: [...parseDepends(s['Pre-Depends']), ...parseDepends(s.Depends)],
      });
      for (const [v] of parseDepends(s.Provides)) providers.set(v, [...(providers.get(v) ?? []), s.Package]);
    }, FIELDS);
  }
  const prios = new Set(opts.priorities ?? ['required', 'important']);
  const chosen = new Set<string>();
  const queue: string[] = [];
  const want = (n: string) => {
    if (!chosen.has(n)) (chosen.add(n), queue.push(n));
  };
  for (const n of opts.packages) {
    const real = all.has(n) ? n : providers.get(n)?.[0];
    if (real) want(real);
    else res.unresolved.push(n);
  }
  for (const p of all.values()) if (prios.has(p.priority)) want(p.name);
  while (queue.length) {
    const p = all.get(queue.shift()!)!;
    for (const alts of p.deps) {
      if (alts.some((a) => chosen.has(a) || providers.get(a)?.some((x) => chosen.has(x)))) continue;
      // apt's choice: the first alternative that exists, a real package before a provider
      const real = alts.find((a) => all.has(a));
      const prov = alts.map((a) => providers.get(a)?.[0]).find(Boolean);
      const pick = real ?? prov;
      if (pick) want(pick);
      else res.unresolved.push(alts.join(' | '));
    }
  }
  res.packages = chosen.size;
  const missing: Pkg[] = [];
  for (const n of [...chosen].sort()) {
    const p = all.get(n)!;
    if (cache.has(repo, p.filename)) (res.cached.count++, (res.cached.bytes += p.size));
    else (missing.push(p), res.toFetch.count++, (res.toFetch.bytes += p.size));
  }
  if (opts.dryRun) return res;
  let next = 0;
  const worker = async () => {
    while (next < missing.length) {
      const p = missing[next++];
      try {
        const r = await cache.ensure(repo, p.filename);
        res.fetched.count++;
        res.fetched.bytes += r.size;
        say(`fetched ${p.filename}`);
      } catch (e) {
        res.failed.push({ path: p.filename, error: (e as Error).message });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 6) }, worker));
  return res;
}
