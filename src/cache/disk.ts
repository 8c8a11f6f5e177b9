// The cache directory on disk, shared by every process that opens it (the daemon and
// `fleetboot cache warm`):
// - temp files are named <host>.<pid>.<instance>.<uuid> under .tmp/, so a process starting up
//   removes only temp files whose writer is gone (dead pid on this host, or untouched for long
//   on another), never a running download of a neighbour;
// - reconcile() walks the tree once in the background and removes files no row describes
//   (left by a crash of an older version that renamed before it recorded): unknown bytes are
//   never served and never escape the size accounting.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { mkdir, opendir, readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';

const HOST = hostname().replace(/[^A-Za-z0-9-]/g, '_') || 'host';
/** PackageCache instances alive in this process (a pid is not enough: a container restart
 *  gives the new daemon the pid of the old one, often 1) */
const liveInstances = new Set<string>();

export class TempDir {
  readonly instance = randomUUID().slice(0, 8);
  constructor(readonly dir: string) {}

  path(): string {
    return join(this.dir, `${HOST}.${process.pid}.${this.instance}.${randomUUID()}`);
  }

  /** Registers this instance and removes temp files whose writer is gone. */
  async open(staleMs: number, now = Date.now()): Promise<number> {
    liveInstances.add(this.instance);
    await mkdir(this.dir, { recursive: true });
    let removed = 0;
    for (const name of await readdir(this.dir)) {
      const f = join(this.dir, name);
      const st = await stat(f).catch(() => null);
      if (!st) continue;
      if (isStale(name, now - st.mtimeMs > staleMs)) {
        await unlink(f).catch(() => {});
        removed++;
      }
    }
    return removed;
  }

  close(): void {
    liveInstances.delete(this.instance);
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A temp file is stale when its writer cannot be running: same host and a dead pid (or our
 *  pid but an instance that is gone); other hosts and unknown names only by age (a running
 *  download writes continuously, and stalls longer than the upstream timeout abort it). */
export function isStale(name: string, old: boolean): boolean {
  const m = /^(.+)\.(\d+)\.([0-9a-f]{8})\.[0-9a-f-]{36}$/.exec(name);
  if (!m || m[1] !== HOST) return old;
  const pid = Number(m[2]);
  if (pid === process.pid) return !liveInstances.has(m[3]);
  return !pidAlive(pid);
}

export interface ReconcileDeps {
  root: string;
  repos: string[];
  hasRow: (repo: string, path: string) => boolean;
  stopped: () => boolean;
}

/** Removes files under root/<repo>/ that no row describes. Yields to the event loop every
 *  256 entries: it runs beside live traffic. Rows are written before the rename that makes a
 *  file visible, so a file seen here without a row is never one being committed right now. */
export async function reconcile(d: ReconcileDeps): Promise<{ scanned: number; removed: string[] }> {
  const removed: string[] = [];
  let scanned = 0;
  const walk = async (repo: string, rel: string): Promise<void> => {
    const dir = await opendir(join(d.root, repo, rel)).catch(() => null);
    if (!dir) return;
    for await (const e of dir) {
      if (d.stopped()) return;
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(repo, p);
      else if (e.isFile()) {
        if (++scanned % 256 === 0) await new Promise((r) => setImmediate(r));
        if (!d.hasRow(repo, p)) {
          await unlink(join(d.root, repo, p)).catch(() => {});
          removed.push(`${repo}/${p}`);
        }
      }
    }
  };
  for (const r of d.repos) await walk(r, '');
  return { scanned, removed };
}
