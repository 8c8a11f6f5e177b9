// What a request path under /mirror/<repo>/ is, and whether it may become a file name.
// Only Debian archive shapes are accepted (dists/..., pool/...); every segment is checked
// so a client path can never name a temp file (leading ".") or leave the repo directory.
export type FileKind = 'immutable' | 'index';

const SEGMENT = /^[A-Za-z0-9_+~:@=,-][A-Za-z0-9._+~:@=,-]*$/;

/** Returns the normalised relative path, or null when it is not an acceptable archive path. */
export function checkArchivePath(raw: string): string | null {
  if (raw.includes('\0') || raw.includes('\\')) return null;
  const parts = raw.split('/');
  if (parts.length < 2 || parts.length > 12) return null;
  if (!parts.every((p) => p.length > 0 && p.length <= 200 && SEGMENT.test(p))) return null;
  if (parts[0] !== 'dists' && parts[0] !== 'pool') return null;
  return parts.join('/');
}

/** pool/ files and by-hash/ files never change under the same name; everything under dists/
 *  (Release, InRelease, Packages*, Sources*, Translation*, Contents*, ...) is revalidated. */
export function kindOf(path: string): FileKind {
  if (path.startsWith('pool/')) return 'immutable';
  if (/\/by-hash\/[^/]+\/[^/]+$/.test(path)) return 'immutable';
  return 'index';
}

/** The SHA256 a by-hash path names (only SHA256 is checked; MD5Sum/SHA1 dirs are not trusted). */
export function byHashSha256(path: string): string | null {
  const m = /\/by-hash\/SHA256\/([0-9a-f]{64})$/.exec(path);
  return m ? m[1] : null;
}

/** Does this index file hold Packages stanzas whose Filename/SHA256 we should learn? by-hash
 *  files under binary-<arch>/ are Packages (or the tiny per-component Release, harmless). */
export function isPackagesIndex(path: string): boolean {
  if (/\/binary-[^/]+\/Packages(\.(gz|xz))?$/.test(path)) return true;
  return /\/binary-[^/]+\/by-hash\/SHA256\/[0-9a-f]{64}$/.test(path);
}

/** Content-Type for responses; apt and debootstrap ignore it, browsers and curl users do not. */
export function contentType(path: string): string {
  if (/\.u?deb$/.test(path)) return 'application/vnd.debian.binary-package';
  if (/\.gz$/.test(path)) return 'application/gzip';
  if (/\.xz$/.test(path)) return 'application/x-xz';
  if (/(^|\/)(InRelease|Release|Packages|Sources|Translation-[^/]+)$/.test(path)) return 'text/plain; charset=utf-8';
  return 'application/octet-stream';
}
