// Cache warm-up for a role: resolves what its installs will download (install-set.ts says
// which packages, kernel ABI and initrd) against the suite's indexes — the .debs: the named
// packages, the base set (Priority required/important: debootstrap) and their Pre-Depends/
// Depends (and Recommends when d-i installs them) closure; the udebs anna fetches: Priority
// required/important/standard from debian-installer/binary-<arch>/Packages, module udebs of
// the installer kernel's ABI only, their Depends closure, minus what the initrd holds — then
// fetches every missing file through the cache (the same single-flight path clients use).
// A dry run reads (and fetches) indexes only, never pool files. Version constraints are not
// solved: a suite carries one version of each package, the one apt picks.
import type { PackageCache } from './cache.js';
import { openIndex, parseRelease, parseStanzas } from './packages.js';
import { UpstreamError } from './upstream.js';
import { planRole, type InstallPlan, type PlanSource } from './install-set.js';

export interface WarmOptions {
  dryRun?: boolean;
  components?: string[];
  /** base-set priorities; default required + important */
  priorities?: string[];
  concurrency?: number;
  onProgress?: (line: string) => void;
}

export interface WarmFile {
  path: string;
  size: number;
  name: string;
  type: 'deb' | 'udeb';
}

export interface WarmResult {
  installRole: string;
  hosts: string[];
  repo: string;
  suite: string;
  arch: string;
  dryRun: boolean;
  packages: number;
  udebs: number;
  kernelAbi: string | null;
  notes: string[];
  /** names asked for that no index has */
  unresolved: string[];
  /** dependencies nothing in the index satisfies */
  unsatisfied: string[];
  /** index files read (fetched when missing or stale, in a dry run too) */
  indexes: string[];
  cached: { count: number; bytes: number };
  toFetch: { count: number; bytes: number; files: WarmFile[] };
  fetched: { count: number; bytes: number };
  failed: { path: string; error: string; status?: number }[];
  unsupported?: string;
}

export interface WarmReport {
  role: string;
  dryRun: boolean;
  ok: boolean;
  results: WarmResult[];
}

interface Pkg {
  name: string;
  filename: string;
  size: number;
  priority: string;
  deps: string[][];
  recommends: string[][];
  kernel?: string;
}

const FIELDS = ['Package', 'Architecture', 'Priority', 'Depends', 'Pre-Depends', 'Recommends', 'Provides', 'Filename', 'Size', 'Kernel-Version'];

/** "a (>= 1) | b:any, c" -> [["a","b"],["c"]] */
export function parseDepends(v: string | undefined): string[][] {
  if (!v) return [];
  return v
    .split(',')
    .map((g) => g.split('|').map((a) => a.trim().replace(/\s*\(.*?\)|\s*\[.*?\]|\s*<.*?>/g, '').replace(/:[a-z0-9-]+$/, '').trim()))
    .map((g) => g.filter(Boolean))
    .filter((g) => g.length > 0);
}

type Release = Awaited<ReturnType<typeof parseRelease>>;

/** Which index files apt, debootstrap and d-i fetch for one index: the compressed forms by
 *  name, and by hash when the Release says so. The uncompressed one is listed in Debian's
 *  Release for verification only (not on the mirror): used only when nothing else is. */
export function indexPaths(suite: string, base: string, release: Release): { fetch: string[]; parse: string } | null {
  const byHash = /^yes$/i.test(release.fields['Acquire-By-Hash'] ?? '');
  let exts = ['.xz', '.gz'].filter((e) => release.sha256.has(`${base}${e}`));
  if (exts.length === 0 && release.sha256.has(base)) exts = [''];
  if (exts.length === 0) return null;
  const fetch: string[] = [];
  for (const ext of exts) {
    fetch.push(`dists/${suite}/${base}${ext}`);
    if (byHash) fetch.push(`dists/${suite}/${base.slice(0, base.lastIndexOf('/'))}/by-hash/SHA256/${release.sha256.get(`${base}${ext}`)!.sha256}`);
  }
  // .gz is read with node's zlib; .xz needs the xz binary (xz-utils)
  return { fetch, parse: `dists/${suite}/${base}${exts.includes('.gz') ? '.gz' : exts[0]}` };
}

export class Index {
  readonly all = new Map<string, Pkg>();
  readonly providers = new Map<string, string[]>();

  async read(file: string, arch: string): Promise<void> {
    await parseStanzas(await openIndex(file), (s) => {
      if (!s.Package || !s.Filename || (s.Architecture !== arch && s.Architecture !== 'all')) return;
      if (this.all.has(s.Package)) return; // first component listed wins
      this.all.set(s.Package, {
        name: s.Package, filename: s.Filename, size: Number(s.Size ?? 0), priority: s.Priority ?? 'optional',
        deps: [...parseDepends(s['Pre-Depends']), ...parseDepends(s.Depends)], recommends: parseDepends(s.Recommends), kernel: s['Kernel-Version'],
      });
      for (const [v] of parseDepends(s.Provides)) this.providers.set(v, [...(this.providers.get(v) ?? []), s.Package]);
    }, FIELDS);
  }

  real(n: string): string | undefined {
    return this.all.has(n) ? n : this.providers.get(n)?.[0];
  }

  /** Adds roots and their closure; returns the dependency groups nothing satisfies. */
  close(chosen: Set<string>, roots: string[], opts: { recommends: boolean; given?: Set<string> }): string[] {
    const unsatisfied: string[] = [];
    const have = (a: string) => chosen.has(a) || opts.given?.has(a) || this.providers.get(a)?.some((x) => chosen.has(x) || opts.given?.has(x));
    const queue = roots.filter((n) => !chosen.has(n) && (chosen.add(n), true));
    while (queue.length) {
      const p = this.all.get(queue.shift()!)!;
      for (const [alts, hard] of [...p.deps.map((d) => [d, true] as const), ...(opts.recommends ? p.recommends.map((d) => [d, false] as const) : [])]) {
        if (alts.some(have)) continue;
        // apt's choice: the first alternative that exists, a real package before a provider
        const pick = alts.find((a) => this.all.has(a)) ?? alts.map((a) => this.providers.get(a)?.[0]).find(Boolean);
        if (pick) (chosen.add(pick), queue.push(pick));
        else if (hard) unsatisfied.push(`${alts.join(' | ')} (for ${p.name})`);
      }
    }
    return unsatisfied;
  }
}

async function ensureIndex(cache: PackageCache, repo: string, paths: string[], res: WarmResult, optional = false): Promise<boolean> {
  for (const p of paths) {
    try {
      await cache.ensure(repo, p);
      res.indexes.push(p);
    } catch (e) {
      if (optional) return false;
      throw e;
    }
  }
  return true;
}

export async function warmPlan(cache: PackageCache, plan: InstallPlan, opts: WarmOptions = {}): Promise<WarmResult> {
  const repo = plan.repo ?? cache.repoNames().find((r) => cache.repoFormat(r) === 'deb') ?? cache.repoNames()[0];
  const { suite, arch } = plan;
  const say = opts.onProgress ?? (() => {});
  const res: WarmResult = {
    installRole: plan.installRole, hosts: plan.hosts, repo, suite, arch, dryRun: !!opts.dryRun, packages: 0, udebs: 0, kernelAbi: plan.kernelAbi,
    notes: [...plan.notes], unresolved: [], unsatisfied: [], indexes: [], cached: { count: 0, bytes: 0 }, toFetch: { count: 0, bytes: 0, files: [] },
    fetched: { count: 0, bytes: 0 }, failed: [], unsupported: plan.unsupported,
  };
  if (!res.unsupported && cache.repoFormat(repo) !== 'deb') res.unsupported = `repo ${repo} is not a configured Debian-format repo`;
  if (res.unsupported) return res;
  let releasePath = `dists/${suite}/InRelease`;
  if (!(await ensureIndex(cache, repo, [releasePath], res, true))) {
    releasePath = `dists/${suite}/Release`;
    await ensureIndex(cache, repo, [releasePath], res);
  }
  // d-i's net-retriever reads Release + Release.gpg (not InRelease): on disk for the wave too
  if (plan.debianInstaller) for (const p of ['Release', 'Release.gpg']) await ensureIndex(cache, repo, [`dists/${suite}/${p}`], res, true);
  const release = await parseRelease(cache.localPath(repo, releasePath));
  const comps = opts.components ?? ['main'];
  const debs = new Index();
  for (const comp of comps) {
    const paths = indexPaths(suite, `${comp}/binary-${arch}/Packages`, release);
    if (!paths) throw new Error(`${suite}/${comp}/binary-${arch}: no Packages index in the Release file`);
    await ensureIndex(cache, repo, paths.fetch, res);
    say(`index ${paths.parse}`);
    await debs.read(cache.localPath(repo, paths.parse), arch);
    // apt-get update in the target fetches the translations too
    const tr = indexPaths(suite, `${comp}/i18n/Translation-en`, release);
    if (tr) await ensureIndex(cache, repo, tr.fetch, res, true);
  }
  const files = new Map<string, WarmFile>();
  const chosen = new Set<string>();
  const roots: string[] = [];
  for (const n of plan.packages) {
    const real = debs.real(n);
    if (real) roots.push(real);
    else res.unresolved.push(n);
  }
  const prios = new Set(opts.priorities ?? ['required', 'important']);
  for (const p of debs.all.values()) if (prios.has(p.priority)) roots.push(p.name);
  res.unsatisfied.push(...debs.close(chosen, roots, { recommends: plan.recommends }));
  res.packages = chosen.size;
  for (const n of chosen) {
    const p = debs.all.get(n)!;
    files.set(p.filename, { path: p.filename, size: p.size, name: n, type: 'deb' });
  }
  if (plan.debianInstaller) {
    const paths = indexPaths(suite, `${comps[0]}/debian-installer/binary-${arch}/Packages`, release);
    if (!paths) res.notes.push(`no ${comps[0]}/debian-installer/binary-${arch}/Packages in the Release: installer udebs not warmed`);
    else {
      await ensureIndex(cache, repo, paths.fetch, res);
      const udebs = new Index();
      await udebs.read(cache.localPath(repo, paths.parse), arch);
      const given = plan.initrdHas ?? undefined;
      const uroots = [...udebs.all.values()]
        .filter((p) => ['required', 'important', 'standard'].includes(p.priority) && !given?.has(p.name))
        .filter((p) => !p.kernel || !plan.kernelAbi || p.kernel === plan.kernelAbi)
        .map((p) => p.name);
      const uchosen = new Set<string>();
      res.unsatisfied.push(...udebs.close(uchosen, uroots, { recommends: false, given }).map((u) => `udeb ${u}`));
      res.udebs = uchosen.size;
      for (const n of uchosen) {
        const p = udebs.all.get(n)!;
        files.set(p.filename, { path: p.filename, size: p.size, name: n, type: 'udeb' });
      }
    }
  }
  const missing: WarmFile[] = [];
  for (const f of [...files.values()].sort((a, b) => a.path.localeCompare(b.path))) {
    if (cache.has(repo, f.path)) (res.cached.count++, (res.cached.bytes += f.size));
    else (missing.push(f), res.toFetch.count++, (res.toFetch.bytes += f.size));
  }
  res.toFetch.files = missing;
  if (opts.dryRun) return res;
  let next = 0;
  const worker = async () => {
    while (next < missing.length) {
      const f = missing[next++];
      try {
        const r = await cache.ensure(repo, f.path);
        res.fetched.count++;
        res.fetched.bytes += r.size;
        say(`fetched ${f.path}`);
      } catch (e) {
        res.failed.push({ path: f.path, error: (e as Error).message, status: e instanceof UpstreamError ? e.status : undefined });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 6) }, worker));
  res.failed.sort((a, b) => a.path.localeCompare(b.path));
  return res;
}

/** Everything the installs of hosts with this role fetch (one result per distinct install). */
export async function warmRole(cache: PackageCache, src: PlanSource, role: string, opts: WarmOptions & { arch?: string } = {}): Promise<WarmReport> {
  const results: WarmResult[] = [];
  for (const plan of await planRole(src, role, { arch: opts.arch })) results.push(await warmPlan(cache, plan, opts));
  const ok = results.every((r) => !r.unsupported && !r.unresolved.length && !r.unsatisfied.length && !r.failed.length);
  return { role, dryRun: !!opts.dryRun, ok, results };
}
