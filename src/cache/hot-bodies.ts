// The bytes of recently served cache files, kept in memory (LRU, bounded) so that a hit on a
// .deb an installer wave keeps asking for is one socket write, not a read into a buffer and
// then a write. Measured (docs/performance.md): streaming a 2.6 MiB hit from disk served 0.73x
// apt-cacher-ng (which uses sendfile) on an idle machine; the same bytes from memory, about 1.4x.
//
// Consistency: an entry is keyed by the version of the file the hit path has OPEN (device,
// inode, size, mtime from its fstat), so a file replaced or re-downloaded meanwhile is a new
// key, and its bytes are read from that same descriptor. The old entry ages out of the LRU.
import type { FileHandle } from 'node:fs/promises';

export interface FileVersion {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
}

export class HotBodies {
  private readonly bodies = new Map<string, Buffer>();
  /** one read per version at a time: a wave asking for the same .deb at once shares it */
  private readonly loading = new Map<string, Promise<Buffer | null>>();
  private total = 0;
  /** counters for tests and docs: answered from memory vs read into memory */
  readonly stats = { hits: 0, loads: 0 };

  /** maxTotal 0 turns it off; files over maxFile are always streamed */
  constructor(private readonly maxTotal: number, private readonly maxFile = 16 * 1024 * 1024) {}

  /** the file's bytes, from memory or read once from `fh` (null: too large, empty or off) */
  async get(path: string, v: FileVersion, fh: FileHandle): Promise<Buffer | null> {
    if (this.maxTotal === 0 || v.size === 0 || v.size > this.maxFile || v.size > this.maxTotal) return null;
    const key = `${v.dev}:${v.ino}:${v.size}:${v.mtimeMs}:${path}`;
    const hit = this.bodies.get(key);
    if (hit) {
      this.stats.hits++;
      this.bodies.delete(key); // most recently used last
      this.bodies.set(key, hit);
      return hit;
    }
    let p = this.loading.get(key);
    if (!p) {
      p = this.load(key, v.size, fh).finally(() => this.loading.delete(key));
      this.loading.set(key, p);
    }
    return p;
  }

  /** reads through the first asker's descriptor (the same version: the key names it) */
  private async load(key: string, size: number, fh: FileHandle): Promise<Buffer | null> {
    const body = Buffer.allocUnsafeSlow(size);
    let at = 0;
    while (at < size) {
      const { bytesRead } = await fh.read(body, at, size - at, at);
      if (bytesRead === 0) return null; // shorter than its fstat said: stream it, keep nothing
      at += bytesRead;
    }
    this.stats.loads++;
    if (!this.bodies.has(key)) {
      this.bodies.set(key, body);
      this.total += body.length;
      for (const [k, b] of this.bodies) {
        if (this.total <= this.maxTotal) break;
        this.bodies.delete(k);
        this.total -= b.length;
      }
    }
    return body;
  }
}
