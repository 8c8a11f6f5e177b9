// What a request path under /mirror/<repo>/ is, and whether it may become a file name.
// Only archive *file* shapes are accepted: a path that can only be a directory (pool/main/h,
// dists/bookworm) is refused before upstream is asked, because a real mirror answers it with
// a redirect and an HTML listing, and caching that as a file would make the cache directory a
// file where later commits need a directory. Every segment is checked so a client path can
// never name a temp file (leading ".") or leave the repo directory.
//   deb (Debian/Ubuntu): dists/<suite>/... index and installer files, pool/... packages.
//   rpm (Rocky/Alma/Fedora): *.rpm, repodata/*, .treeinfo, installer images (images/, LiveOS/).
export type FileKind = 'immutable' | 'index';
export type RepoFormat = 'deb' | 'rpm';
export type DigestAlgo = 'md5' | 'sha1' | 'sha256' | 'sha512';
export interface Digest {
  algo: DigestAlgo;
  hex: string;
}

const SEGMENT = /^[A-Za-z0-9_+~:@=,^-][A-Za-z0-9._+~:@=,^-]*$/;
const Z = String.raw`(\.(gz|xz|bz2|lzma|zst))?`;
/** file names a Debian pool holds: packages, source packages and their signatures */
const POOL_FILE = /\.(deb|udeb|ddeb|dsc|changes|buildinfo|asc|sig|diff\.gz|tar|tar\.(gz|xz|bz2|lzma|zst))$/;
/** index files under dists/ (Release, Packages, Sources, Translation-*, Contents-*, dep11 ...) */
const DIST_FILE = new RegExp(String.raw`^(InRelease|Release|Release\.gpg|Index|Packages|Sources|(Contents|Translation|Components|Commands|icons)-[A-Za-z0-9_.@+-]+)${Z}$`);
const HASH_LEN: Record<string, [DigestAlgo, number]> = { MD5Sum: ['md5', 32], SHA1: ['sha1', 40], SHA256: ['sha256', 64], SHA512: ['sha512', 128] };
/** installer files without a dot in their name (netboot kernels, checksum lists) */
const INSTALLER_NAMES = new Set(['linux', 'vmlinuz', 'initrd', 'SHA256SUMS', 'SHA512SUMS', 'SHA1SUMS', 'MD5SUMS', 'MANIFEST', 'default']);

function segments(raw: string): string[] | null {
  if (raw.includes('\0') || raw.includes('\\')) return null;
  const parts = raw.split('/');
  if (parts.length < 2 || parts.length > 14) return null;
  const last = parts.length - 1;
  // ".treeinfo" is the one dot-file in an archive (RPM trees); nothing else may start with "."
  if (!parts.every((p, i) => p.length > 0 && p.length <= 200 && (SEGMENT.test(p) || (i === last && p === '.treeinfo')))) return null;
  return parts;
}

function debFile(parts: string[]): boolean {
  const name = parts[parts.length - 1];
  if (parts[0] === 'pool') return parts.length >= 4 && POOL_FILE.test(name);
  if (parts[0] !== 'dists' || parts.length < 3) return false;
  if (parts.length >= 5 && parts[parts.length - 3] === 'by-hash') {
    const h = HASH_LEN[parts[parts.length - 2]];
    return !!h && name.length === h[1] && /^[0-9a-f]+$/.test(name);
  }
  if (DIST_FILE.test(name)) return true;
  // pdiff patches: Packages.diff/Index (matched above), Packages.diff/T-...-F-....gz
  if (parts[parts.length - 2].endsWith('.diff')) return /\.gz$/.test(name);
  // dists/<suite>/<comp>/installer-<arch>/<version>/images/...: a name with an extension or a
  // known extensionless one. Directories with a dot (pxelinux.cfg) pass here and are caught
  // by the upstream checks (redirect to "path/", text/html)
  if (parts.slice(2, -1).some((p) => /^installer-[a-z0-9]+$/.test(p))) return name.includes('.') || INSTALLER_NAMES.has(name);
  return false;
}

function rpmFile(parts: string[]): boolean {
  const name = parts[parts.length - 1];
  const parent = parts[parts.length - 2];
  if (/\.rpm$/.test(name)) return true;
  if (parent === 'repodata') return /^repomd\.xml(\.asc|\.key)?$/.test(name) || /\.(xml|sqlite|yaml|txt)(\.(gz|xz|bz2|zst|zck))?$/.test(name);
  if (name === '.treeinfo' || name === 'treeinfo' || name === 'media.repo' || name === 'extra_files.json' || /^RPM-GPG-KEY-/.test(name)) return true;
  if (parts.slice(0, -1).some((p) => p === 'images' || p === 'LiveOS' || p === 'EFI' || p === 'isolinux')) return name.includes('.') || name === 'vmlinuz';
  return false;
}

/** Returns the normalised relative path, or null when it cannot be an archive file. */
export function checkArchivePath(raw: string, format: RepoFormat = 'deb'): string | null {
  const parts = segments(raw);
  if (!parts) return null;
  return (format === 'rpm' ? rpmFile(parts) : debFile(parts)) ? parts.join('/') : null;
}

/** deb: pool/ files and by-hash/ files never change under the same name; everything else under
 *  dists/ is revalidated. rpm: packages and checksum-named repodata files are immutable;
 *  repomd.xml, .treeinfo and installer images are revalidated. */
export function kindOf(path: string, format: RepoFormat = 'deb'): FileKind {
  if (format === 'rpm') {
    if (/\.rpm$/.test(path)) return 'immutable';
    return /(^|\/)repodata\/[0-9a-f]{32,128}-[^/]+$/.test(path) ? 'immutable' : 'index';
  }
  if (path.startsWith('pool/')) return 'immutable';
  if (/\/by-hash\/[^/]+\/[^/]+$/.test(path)) return 'immutable';
  return 'index';
}

/** The digest a Debian by-hash path names (MD5Sum/, SHA1/, SHA256/, SHA512/). */
export function digestInName(path: string, format: RepoFormat = 'deb'): Digest | null {
  if (format !== 'deb') return null;
  const m = /\/by-hash\/(MD5Sum|SHA1|SHA256|SHA512)\/([0-9a-f]+)$/.exec(path);
  if (!m) return null;
  const [algo, len] = HASH_LEN[m[1]];
  return m[2].length === len ? { algo, hex: m[2] } : null;
}

/** Index files the cache reads after committing them, to learn the digests of what they list. */
export type IngestKind = 'release' | 'packages' | 'repomd' | 'primary' | 'treeinfo';

export function ingestKindOf(path: string, format: RepoFormat = 'deb'): IngestKind | null {
  if (format === 'rpm') {
    if (/(^|\/)repodata\/repomd\.xml$/.test(path)) return 'repomd';
    if (/(^|\/)repodata\/([0-9a-f]+-)?primary\.xml(\.gz|\.xz)?$/.test(path)) return 'primary';
    if (/(^|\/)\.?treeinfo$/.test(path)) return 'treeinfo';
    return null;
  }
  // the suite's own Release (dists/<suite>/Release), not a component's binary-amd64/Release
  if (/^dists\/[^/]+\/(InRelease|Release)$/.test(path)) return 'release';
  if (/\/binary-[^/]+\/Packages(\.(gz|xz))?$/.test(path)) return 'packages';
  // by-hash files under binary-<arch>/ are Packages (or the tiny per-component Release: harmless)
  if (/\/binary-[^/]+\/by-hash\/SHA256\/[0-9a-f]{64}$/.test(path)) return 'packages';
  return null;
}

/** Content-Type for responses; apt and debootstrap ignore it, browsers and curl users do not. */
export function contentType(path: string): string {
  if (/\.u?deb$/.test(path)) return 'application/vnd.debian.binary-package';
  if (/\.rpm$/.test(path)) return 'application/x-rpm';
  if (/\.gz$/.test(path)) return 'application/gzip';
  if (/\.xz$/.test(path)) return 'application/x-xz';
  if (/\.xml$/.test(path)) return 'application/xml';
  if (/(^|\/)(InRelease|Release|Packages|Sources|Translation-[^/]+|\.treeinfo)$/.test(path)) return 'text/plain; charset=utf-8';
  return 'application/octet-stream';
}
