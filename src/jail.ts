// Resolves a client-supplied path inside a root directory, or refuses it. Shared by the
// HTTP /assets route and the TFTP server so both enforce one rule set:
//  - no NUL, no backslash (Windows-style TFTP clients send them; we refuse rather than guess),
//  - the request is treated as relative even if it starts with "/" (TFTP clients often do),
//    but ".." segments are refused outright instead of being normalised away,
//  - hidden (dot-prefixed) names are refused,
//  - the final realpath (after following symlinks) must still be inside the root's realpath,
//    so a symlink pointing out of the tree is refused too.
import { realpath, stat } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import { sep, resolve } from 'node:path';
import { isResourceError } from './errors.js';

export type JailResult =
  | { ok: true; path: string; size: number; mtimeMs: number; ino: number }
  | { ok: false; reason: 'invalid' | 'outside' | 'not-found' | 'not-file' | 'unavailable' };

export function normaliseRequestPath(raw: string): string | null {
  if (raw.includes('\0') || raw.includes('\\')) return null;
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  // ".." is refused rather than normalised; hidden names are never served (among them the
  // staging files of `fleetboot assets fetch` while it writes into the served directory)
  if (parts.some((p) => p === '..' || p.startsWith('.'))) return null;
  return parts.join('/');
}

export class Jail {
  private rootReal: string | undefined;
  constructor(readonly root: string) {}

  private realRoot(): string {
    // cached after first use; the root itself is configuration, not client input
    if (this.rootReal === undefined) this.rootReal = realpathSync(resolve(this.root));
    return this.rootReal;
  }

  async resolve(raw: string): Promise<JailResult> {
    const rel = normaliseRequestPath(raw);
    if (rel === null || rel === '') return { ok: false, reason: 'invalid' };
    let root: string;
    try {
      root = this.realRoot();
    } catch {
      return { ok: false, reason: 'not-found' };
    }
    let real: string;
    try {
      real = await realpath(resolve(root, rel));
    } catch (e) {
      // out of descriptors/memory is not "no such file": callers answer "try again"
      return { ok: false, reason: isResourceError(e) ? 'unavailable' : 'not-found' };
    }
    if (real !== root && !real.startsWith(root + sep)) return { ok: false, reason: 'outside' };
    let st: Awaited<ReturnType<typeof stat>>;
    try {
      st = await stat(real);
    } catch (e) {
      return { ok: false, reason: isResourceError(e) ? 'unavailable' : 'not-found' };
    }
    if (!st.isFile()) return { ok: false, reason: 'not-file' };
    return { ok: true, path: real, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
  }
}
