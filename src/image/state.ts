// Per-role build lock and status, as files next to the images so that the CLI and the daemon
// see each other's builds: `<role>/.build.lock` (pid of the builder; a lock whose process is
// gone is stale and taken over) and `<role>/.status.json` (step, percent, the last failure).
// Hidden names: the HTTP route and the collector never touch them.
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { latestImage, roleDir, type ImageManifest } from './store.js';

export type ImageStateName = 'none' | 'building' | 'ready' | 'failed';

export interface BuildStatus {
  state: 'building' | 'failed' | 'done';
  pid: number;
  startedAt: string;
  updatedAt: string;
  id?: string;
  step?: string;
  stepIndex?: number;
  steps?: number;
  percent?: number;
  detail?: string;
  error?: string;
}

export interface RoleImageState {
  role: string;
  state: ImageStateName;
  latest: ImageManifest | null;
  /** the build in progress (state building) or the last one that failed (state failed) */
  build: BuildStatus | null;
}

const LOCK = '.build.lock';
const STATUS = '.status.json';

export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function lockHolder(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Takes the role's build lock (O_EXCL). Returns a release function, or the pid of the live
 * holder. A lock left by a dead process is removed and taken.
 */
export function acquireBuildLock(imagesDir: string, role: string): (() => void) | { heldBy: number } {
  const dir = roleDir(imagesDir, role);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, LOCK);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o644);
      writeSync(fd, `${process.pid} ${new Date().toISOString()}\n`);
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = lockHolder(path);
      if (pid !== undefined && pidAlive(pid)) return { heldBy: pid };
      rmSync(path, { force: true }); // stale: its builder died
    }
  }
  return { heldBy: lockHolder(path) ?? 0 };
}

export function readBuildStatus(imagesDir: string, role: string): BuildStatus | undefined {
  try {
    const s = JSON.parse(readFileSync(join(roleDir(imagesDir, role), STATUS), 'utf8')) as BuildStatus;
    return s && typeof s === 'object' && typeof s.state === 'string' ? s : undefined;
  } catch {
    return undefined;
  }
}

/** Written by rename: a reader sees the old status or the new one. */
export function writeBuildStatus(imagesDir: string, role: string, s: BuildStatus): void {
  const dir = roleDir(imagesDir, role);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.status.${process.pid}.tmp`);
  writeFileSync(tmp, JSON.stringify(s));
  renameSync(tmp, join(dir, STATUS));
}

/** none | building | ready | failed, with the latest image and the build's status. */
export function roleImageState(imagesDir: string, role: string): RoleImageState {
  const latest = latestImage(imagesDir, role) ?? null;
  const status = readBuildStatus(imagesDir, role);
  const holder = lockHolder(join(roleDir(imagesDir, role), LOCK));
  if (holder !== undefined && pidAlive(holder)) {
    return { role, state: 'building', latest, build: status?.state === 'building' && status.pid === holder ? status : null };
  }
  // a failure newer than the latest image is what the operator needs to see
  if (status && status.state !== 'done' && (!latest || Date.parse(status.updatedAt) > Date.parse(latest.builtAt))) {
    const failed = status.state === 'failed' ? status : { ...status, state: 'failed' as const, error: `the build (pid ${status.pid}) ended without finishing (killed?) during step ${status.step ?? '?'}` };
    return { role, state: 'failed', latest, build: failed };
  }
  return { role, state: latest ? 'ready' : 'none', latest, build: null };
}
