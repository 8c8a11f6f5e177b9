// Builds a role's image (docs/images.md): debootstrap through fleetboot's package cache into
// a hidden work directory, fleetboot's files in, identity out, `mke2fs -t ext4 -d` (no loop
// mount), zstd while hashing, then rename into place: image first, manifest last. A failure
// names its step and leaves nothing but the status file; the whole build is bounded in time.
// Needs root: debootstrap creates device nodes and chowns files (mke2fs -d copies owners).
import { createReadStream, createWriteStream, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from '../log.js';
import { BASE_PACKAGES, configureTree, installedPackages, kernelVersion, preseedTree, scrubIdentity } from './rootfs.js';
import { fileTail, removeTree, runStep, StepError } from './proc.js';
import { acquireBuildLock, writeBuildStatus, type BuildStatus } from './state.js';
import { gcImages, IMAGE_BUILDER_VERSION, IMAGE_FORMAT, imageFileName, imageId, latestImage, manifestFileName, readImageManifest, roleDir, type ImageManifest } from './store.js';
import type { BuildMirror } from './mirror.js';

export const BUILD_STEPS = ['debootstrap', 'configure', 'mkfs', 'compress', 'finish'] as const;
export type BuildStep = (typeof BUILD_STEPS)[number];
// share of the whole bar per step (measured: debootstrap dominates, then zstd)
const WEIGHT: Record<BuildStep, number> = { debootstrap: 80, configure: 1, mkfs: 11, compress: 7, finish: 1 };

export interface BuildProgress {
  step: BuildStep;
  stepIndex: number;
  steps: number;
  /** whole build, 0..100 */
  percent: number;
  detail?: string;
}

export interface BuildRequest {
  imagesDir: string;
  role: string;
  suite: string;
  packages: string[];
  /** upstream archive behind the cache (id input) */
  upstream: string;
  /** URL written into the image's sources.list (id input) */
  aptUrl: string;
  openMirror: () => Promise<BuildMirror>;
  keep: number;
  zstdLevel: number;
  timeoutMs: number;
  force?: boolean;
  log: Logger;
  onProgress?: (p: BuildProgress) => void;
  /** aborts the build (daemon shutdown) */
  signal?: AbortSignal;
}

export interface BuildResult {
  manifest: ImageManifest;
  reused: boolean;
  removed: string[];
  via?: BuildMirror['via'];
  /** seconds per step (a fresh build only) */
  stepSeconds?: Partial<Record<BuildStep, number>>;
}

const PKG_RE = /^[a-z0-9][a-z0-9+.-]+$/;
const SUITE_RE = /^[a-z][a-z0-9-]{0,30}$/;
const KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

/** The packages an image of this role gets, validated (they become debootstrap arguments). */
export function imagePackages(rolePackages: string[]): string[] {
  const bad = rolePackages.filter((p) => !PKG_RE.test(p));
  if (bad.length) throw new StepError('prepare', `not Debian package names: ${bad.map((b) => JSON.stringify(b)).join(', ')}`);
  return [...new Set([...BASE_PACKAGES, ...rolePackages])].sort();
}

export function checkSuite(suite: string): void {
  if (!SUITE_RE.test(suite) || !existsSync(`/usr/share/debootstrap/scripts/${suite}`)) {
    throw new StepError('prepare', `debootstrap does not know suite ${JSON.stringify(suite)} (no /usr/share/debootstrap/scripts/${suite})`);
  }
}

/** ext4 size for a tree of `used` bytes: room for metadata and the journal; the installer grows it. */
export function rawSizeFor(used: number): number {
  const mib = 1024 * 1024;
  return Math.ceil((used * 1.2 + 160 * mib) / (16 * mib)) * 16 * mib;
}

async function duBytes(dir: string, signal: AbortSignal): Promise<number> {
  let out = '';
  const sink = new Transform({
    transform(c, _e, cb) {
      out += c.toString();
      cb();
    },
  });
  sink.resume();
  await runStep('du', ['-sx', '--block-size=1', dir], { step: 'mkfs', signal, stdout: sink });
  const n = Number(out.trim().split(/\s+/)[0]);
  if (!Number.isFinite(n) || n <= 0) throw new StepError('mkfs', `cannot size ${dir}: du said ${JSON.stringify(out.trim())}`);
  return n;
}

export async function buildImage(req: BuildRequest): Promise<BuildResult> {
  const { imagesDir, role, log } = req;
  // the lock first: even a refusal below is recorded in the role's status, which only the
  // lock holder writes
  const lock = acquireBuildLock(imagesDir, role);
  if (typeof lock !== 'function') throw new StepError('lock', `a build of role ${role} is already running (pid ${lock.heldBy})`);
  const dir = roleDir(imagesDir, role);
  const work = join(dir, `.build-${process.pid}-${randomBytes(4).toString('hex')}`);
  const root = join(work, 'root');
  const t0 = Date.now();
  const status: BuildStatus = { state: 'building', pid: process.pid, startedAt: new Date(t0).toISOString(), updatedAt: new Date(t0).toISOString(), percent: 0 };
  let packages: string[];
  let id: string;
  let existing: ImageManifest | undefined;
  try {
    checkSuite(req.suite);
    packages = imagePackages(req.packages);
    id = imageId({ suite: req.suite, packages, mirror: req.upstream, aptUrl: req.aptUrl, builder: IMAGE_BUILDER_VERSION });
    status.id = id;
    existing = readImageManifest(imagesDir, role, id);
    if (existing && !req.force) {
      const removed = gcImages(imagesDir, role, req.keep, [id]);
      lock();
      return { manifest: existing, reused: true, removed };
    }
  } catch (e) {
    const err = e instanceof StepError ? e : new StepError('prepare', (e as Error).message);
    writeBuildStatus(imagesDir, role, { ...status, state: 'failed', step: err.step, error: err.message, updatedAt: new Date().toISOString() });
    lock();
    throw err;
  }
  let lastWrite = 0;
  const stepSeconds: Partial<Record<BuildStep, number>> = {};
  let stepAt = Date.now();
  const report = (step: BuildStep, within: number, detail?: string) => {
    const i = BUILD_STEPS.indexOf(step);
    if (status.step !== step) {
      if (status.step) stepSeconds[status.step as BuildStep] = Math.round((Date.now() - stepAt) / 100) / 10;
      stepAt = Date.now();
    }
    const before = BUILD_STEPS.slice(0, i).reduce((a, s) => a + WEIGHT[s], 0);
    const percent = Math.min(100, Math.floor(before + WEIGHT[step] * Math.max(0, Math.min(1, within))));
    const p: BuildProgress = { step, stepIndex: i + 1, steps: BUILD_STEPS.length, percent, detail };
    req.onProgress?.(p);
    Object.assign(status, { step, stepIndex: p.stepIndex, steps: p.steps, percent, detail, updatedAt: new Date().toISOString() });
    // the status file is what other processes (the daemon's API, `image list`) read: at most 1/s
    if (Date.now() - lastWrite >= 1000 || within === 0) {
      lastWrite = Date.now();
      writeBuildStatus(imagesDir, role, status);
    }
  };
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(`timed out after ${Math.round(req.timeoutMs / 1000)} s (images.buildTimeoutSeconds)`), req.timeoutMs);
  const onAbort = () => ac.abort(String(req.signal?.reason ?? 'build cancelled'));
  req.signal?.addEventListener('abort', onAbort, { once: true });
  let mirror: BuildMirror | undefined;
  let current: BuildStep = 'debootstrap';
  try {
    // work directories of builds that died (we hold the lock: none of them is live)
    for (const n of readdirSync(dir)) if (n.startsWith('.build-')) removeTree(join(dir, n));
    mkdirSync(root, { recursive: true });
    preseedTree(root);
    writeBuildStatus(imagesDir, role, status);

    report('debootstrap', 0, 'opening the package cache');
    mirror = await req.openMirror();
    const previous = latestImage(imagesDir, role)?.packages.length;
    await debootstrap(req, packages, root, mirror.url, previous ?? 260, (f, d) => report('debootstrap', f, d), ac.signal);

    current = 'configure';
    report('configure', 0);
    configureTree(root, { aptUrl: req.aptUrl, suite: req.suite });
    scrubIdentity(root);
    const kver = kernelVersion(root);
    if (!kver) throw new StepError('configure', 'no kernel with an initramfs in /boot (linux-image-amd64 did not install)');
    const pkgs = installedPackages(root);
    for (const need of ['grub-pc-bin', 'grub-efi-amd64-bin', ...req.packages]) {
      if (!pkgs.some((p) => p.name === need)) throw new StepError('configure', `package ${need} is not installed in the tree`);
    }

    current = 'mkfs';
    report('mkfs', 0, 'sizing the tree');
    const rawSize = rawSizeFor(await duBytes(root, ac.signal));
    const raw = join(work, 'root.ext4');
    writeFileSync(raw, '');
    truncateSync(raw, rawSize);
    report('mkfs', 0.1, `mke2fs -t ext4 -d (${Math.round(rawSize / 1048576)} MiB)`);
    await runStep('mke2fs', ['-q', '-F', '-t', 'ext4', '-L', 'fbroot', '-d', root, raw], { step: 'mkfs', signal: ac.signal, env: { ...process.env, MKE2FS_CONFIG: process.env.MKE2FS_CONFIG ?? '/etc/mke2fs.conf' } });
    removeTree(root); // the tree is in the filesystem now; free the space before compressing

    current = 'compress';
    report('compress', 0, `zstd -${req.zstdLevel}`);
    const out = join(work, 'image.ext4.zst');
    const { sha256, size } = await compress(raw, out, rawSize, req.zstdLevel, ac.signal, (f) => report('compress', f, `zstd -${req.zstdLevel}`));
    rmSync(raw, { force: true });

    current = 'finish';
    report('finish', 0);
    const manifest: ImageManifest = {
      id,
      role,
      format: IMAGE_FORMAT,
      file: imageFileName(id),
      sha256,
      size,
      rawSize,
      builtAt: new Date().toISOString(),
      buildSeconds: Math.round((Date.now() - t0) / 100) / 10,
      suite: req.suite,
      kernelVersion: kver,
      packages: pkgs,
    };
    const manTmp = join(work, 'manifest.json');
    writeFileSync(manTmp, `${JSON.stringify(manifest, null, 2)}\n`);
    // a rebuild (--force) of the same id: the old manifest goes first, so no reader ever pairs
    // the old manifest's sha256 with the new bytes
    if (existing) rmSync(join(dir, manifestFileName(id)), { force: true });
    renameSync(out, join(dir, manifest.file));
    renameSync(manTmp, join(dir, manifestFileName(id)));
    removeTree(work);
    const removed = gcImages(imagesDir, role, req.keep, [id]);
    report('finish', 1);
    stepSeconds.finish = Math.round((Date.now() - stepAt) / 100) / 10;
    writeBuildStatus(imagesDir, role, { ...status, state: 'done', percent: 100, updatedAt: new Date().toISOString() });
    log.info({ role, id, size, rawSize, seconds: manifest.buildSeconds, stepSeconds, removed }, 'image built');
    return { manifest, reused: false, removed, via: mirror.via, stepSeconds };
  } catch (e) {
    const err = e instanceof StepError ? e : new StepError(current, (e as Error).message);
    writeBuildStatus(imagesDir, role, { ...status, state: 'failed', step: err.step, error: err.message, updatedAt: new Date().toISOString() });
    try {
      removeTree(work);
    } catch (re) {
      log.error({ err: re, work }, 'could not remove the failed build\'s work directory');
    }
    log.warn({ role, id, step: err.step, reason: err.reason }, 'image build failed');
    throw err;
  } finally {
    clearTimeout(timer);
    req.signal?.removeEventListener('abort', onAbort);
    await mirror?.close().catch((e: Error) => log.warn({ err: e }, 'closing the build\'s package cache failed'));
    lock();
  }
}

/** debootstrap with progress from its "I: Retrieving/Unpacking/Configuring X" lines. */
async function debootstrap(req: BuildRequest, packages: string[], root: string, url: string, expect: number, progress: (f: number, d: string) => void, signal: AbortSignal) {
  const args = ['--variant=minbase', `--include=${packages.join(',')}`, '--components=main'];
  if (existsSync(KEYRING)) args.push(`--keyring=${KEYRING}`);
  else args.push('--no-check-gpg');
  args.push(req.suite, root, url);
  // "I: Retrieving <pkg> <version>", then "I: Extracting/Unpacking/Configuring <pkg>..." per
  // package: counted against the number retrieved (before that, the last image's count)
  const phase: Record<string, [number, number]> = { Retrieving: [0.02, 0.38], Extracting: [0.4, 0.05], Unpacking: [0.45, 0.2], Configuring: [0.65, 0.34] };
  const count: Record<string, number> = {};
  let total = expect;
  let best = 0;
  await runStep('debootstrap', args, {
    step: 'debootstrap',
    signal,
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', DEBIAN_FRONTEND: 'noninteractive', HOME: '/root' },
    extraTail: () => fileTail(join(root, 'debootstrap/debootstrap.log')),
    onLine: (l) => {
      const m = /^I: (Retrieving|Extracting|Unpacking|Configuring) (\S+?)(?:\.\.\.| \S+)$/.exec(l);
      if (l.startsWith('I: Base system installed')) return progress(1, 'base system installed');
      if (!m || m[2] === 'required' || (m[1] === 'Retrieving' && /^(InRelease|Release|Packages)$/.test(m[2]))) return;
      const [, what, pkg] = m;
      count[what] = (count[what] ?? 0) + 1;
      if (what === 'Retrieving') total = Math.max(expect, count[what]);
      else if (count.Retrieving) total = count.Retrieving;
      const [from, span] = phase[what];
      best = Math.max(best, from + span * Math.min(1, count[what] / total));
      progress(best, `${what.toLowerCase()} ${pkg}`);
    },
  });
  if (!existsSync(join(root, 'usr/bin/apt-get'))) throw new StepError('debootstrap', 'debootstrap ended but the tree has no /usr/bin/apt-get');
}

/** zstd over the raw image, hashing the compressed bytes as they are written. */
async function compress(raw: string, out: string, rawSize: number, level: number, signal: AbortSignal, progress: (f: number) => void): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let read = 0;
  let size = 0;
  const counter = new Transform({
    transform(c: Buffer, _e, cb) {
      read += c.length;
      progress(read / rawSize);
      cb(null, c);
    },
  });
  const hasher = new Transform({
    transform(c: Buffer, _e, cb) {
      hash.update(c);
      size += c.length;
      cb(null, c);
    },
  });
  const file = createWriteStream(out);
  const done = pipeline(hasher, file);
  const input = createReadStream(raw, { highWaterMark: 1 << 20 }).pipe(counter);
  await runStep('zstd', ['-q', '-T0', `-${level}`, '-c', '-'], { step: 'compress', signal, stdin: input, stdout: hasher });
  await done;
  if (statSync(out).size !== size) throw new StepError('compress', 'the compressed file on disk differs from the stream');
  return { sha256: hash.digest('hex'), size };
}
