// Role images on disk (issue 12, docs/images.md): <imagesDir>/<role>/<id>.ext4.zst plus its
// manifest <id>.json. The manifest is written last (after the image file is renamed into place),
// so a manifest on disk always describes a complete image; readers list manifests, never images.
// Shared with the installer side (the plan's image URL/sha256 come from latestImage).
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Bumped whenever what the builder puts into an image changes, so old ids stop matching. */
export const IMAGE_BUILDER_VERSION = 2; // 2: the initramfs without the network class (rootfs.ts)

export const IMAGE_FORMAT = 'ext4+zstd' as const;

export interface ImagePackage {
  name: string;
  version: string;
}

export interface ImageManifest {
  id: string;
  role: string;
  format: typeof IMAGE_FORMAT;
  /** `<id>.ext4.zst`, in the same directory as the manifest */
  file: string;
  /** hex sha256 of the compressed file */
  sha256: string;
  /** compressed bytes */
  size: number;
  /** bytes of the ext4 filesystem once decompressed */
  rawSize: number;
  builtAt: string;
  buildSeconds: number;
  suite: string;
  kernelVersion: string;
  packages: ImagePackage[];
}

/** What decides an image's content; equal inputs give an equal id (and the image is reused). */
export interface ImageInputs {
  suite: string;
  packages: string[];
  /** the upstream Debian mirror behind fleetboot's cache (not the cache's own, port-dependent URL) */
  mirror: string;
  /** the URL the image's /etc/apt/sources.list points at (fleetboot's public /mirror/<repo>) */
  aptUrl: string;
  builder: number;
}

const ROLE_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const ID_RE = /^[0-9a-f]{16}$/;
const FILE_RE = /^([0-9a-f]{16})\.(ext4\.zst|json)$/;

export function isImageId(id: string): boolean {
  return ID_RE.test(id);
}

export function isRoleName(role: string): boolean {
  return ROLE_RE.test(role);
}

/** The only file names ever served or deleted under a role directory. */
export function isImageFileName(file: string): boolean {
  return FILE_RE.test(file);
}

/** JSON with object keys sorted at every level, so the hash does not depend on key order. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .filter((k) => o[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** Normalises the inputs: packages sorted and de-duplicated, mirror without a trailing slash. */
export function normaliseInputs(i: ImageInputs): ImageInputs {
  return {
    suite: i.suite,
    packages: [...new Set(i.packages)].sort(),
    mirror: i.mirror.replace(/\/+$/, ''),
    aptUrl: i.aptUrl.replace(/\/+$/, ''),
    builder: i.builder,
  };
}

/** First 16 hex digits of sha256(canonical JSON of the normalised inputs). */
export function imageId(inputs: ImageInputs): string {
  return createHash('sha256').update(canonicalJson(normaliseInputs(inputs))).digest('hex').slice(0, 16);
}

export function roleDir(imagesDir: string, role: string): string {
  if (!isRoleName(role)) throw new Error(`invalid role name ${JSON.stringify(role)}`);
  return join(imagesDir, role);
}

/** Path of an image or manifest file; refuses anything but `<id>.ext4.zst` / `<id>.json`. */
export function imagePath(imagesDir: string, role: string, file: string): string {
  if (!isImageFileName(file)) throw new Error(`invalid image file name ${JSON.stringify(file)}`);
  return join(roleDir(imagesDir, role), file);
}

export function imageFileName(id: string): string {
  return `${id}.ext4.zst`;
}

export function manifestFileName(id: string): string {
  return `${id}.json`;
}

/** Validates a parsed manifest; undefined when it is not one (a torn or foreign file). */
export function parseManifest(raw: unknown, role: string, id: string): ImageManifest | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const m = raw as Record<string, unknown>;
  const str = (k: string) => typeof m[k] === 'string';
  const num = (k: string) => typeof m[k] === 'number' && Number.isFinite(m[k] as number) && (m[k] as number) >= 0;
  if (m.id !== id || m.role !== role || m.format !== IMAGE_FORMAT || m.file !== imageFileName(id)) return undefined;
  if (!str('sha256') || !/^[0-9a-f]{64}$/.test(m.sha256 as string)) return undefined;
  if (!num('size') || !num('rawSize') || !num('buildSeconds') || !str('builtAt') || !str('suite') || !str('kernelVersion')) return undefined;
  if (Number.isNaN(Date.parse(m.builtAt as string))) return undefined;
  if (!Array.isArray(m.packages) || !m.packages.every((p) => p && typeof p.name === 'string' && typeof p.version === 'string')) return undefined;
  return {
    id,
    role,
    format: IMAGE_FORMAT,
    file: m.file as string,
    sha256: m.sha256 as string,
    size: m.size as number,
    rawSize: m.rawSize as number,
    builtAt: m.builtAt as string,
    buildSeconds: m.buildSeconds as number,
    suite: m.suite as string,
    kernelVersion: m.kernelVersion as string,
    packages: (m.packages as ImagePackage[]).map((p) => ({ name: p.name, version: p.version })),
  };
}

/** Reads one manifest; undefined when absent, unreadable, invalid or its image file is missing. */
export function readImageManifest(imagesDir: string, role: string, id: string): ImageManifest | undefined {
  if (!isImageId(id)) return undefined;
  const dir = roleDir(imagesDir, role);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(join(dir, manifestFileName(id)), 'utf8'));
  } catch {
    return undefined;
  }
  const m = parseManifest(raw, role, id);
  if (!m) return undefined;
  try {
    if (statSync(join(dir, m.file)).size !== m.size) return undefined;
  } catch {
    return undefined;
  }
  return m;
}

/** All valid images of a role, newest (builtAt) first; ties broken by id for a stable order. */
export function listImages(imagesDir: string, role: string): ImageManifest[] {
  const dir = roleDir(imagesDir, role);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: ImageManifest[] = [];
  for (const n of names) {
    const m = FILE_RE.exec(n);
    if (!m || m[2] !== 'json') continue;
    const man = readImageManifest(imagesDir, role, m[1]);
    if (man) out.push(man);
  }
  return out.sort((a, b) => Date.parse(b.builtAt) - Date.parse(a.builtAt) || (a.id < b.id ? -1 : 1));
}

export function latestImage(imagesDir: string, role: string): ImageManifest | undefined {
  return listImages(imagesDir, role)[0];
}

/** Role directories present under imagesDir (valid role names only). */
export function listImageRoles(imagesDir: string): string[] {
  try {
    return readdirSync(imagesDir, { withFileTypes: true })
      .filter((d) => d.isDirectory() && isRoleName(d.name))
      .map((d) => d.name)
      .sort();
  } catch {
    return [];
  }
}

/**
 * Removes one image: the manifest first (so no reader picks it up any more), then the image.
 * Returns false when there was nothing to remove.
 */
export function removeImage(imagesDir: string, role: string, id: string): boolean {
  if (!isImageId(id)) throw new Error(`invalid image id ${JSON.stringify(id)}`);
  const man = imagePath(imagesDir, role, manifestFileName(id));
  const img = imagePath(imagesDir, role, imageFileName(id));
  const had = existsSync(man) || existsSync(img);
  rmSync(man, { force: true });
  rmSync(img, { force: true });
  return had;
}

/**
 * Keeps the newest `keep` images of a role (plus `protect`, e.g. the one just built or reused)
 * and removes the rest. Also removes image files without a manifest (a crash between rename
 * and manifest write) unless they are protected. Returns the removed ids.
 */
export function gcImages(imagesDir: string, role: string, keep: number, protect: string[] = []): string[] {
  const imgs = listImages(imagesDir, role);
  const keepIds = new Set([...imgs.slice(0, Math.max(0, keep)).map((m) => m.id), ...protect]);
  const removed: string[] = [];
  for (const m of imgs) {
    if (keepIds.has(m.id)) continue;
    removeImage(imagesDir, role, m.id);
    removed.push(m.id);
  }
  const valid = new Set(imgs.map((m) => m.id));
  let names: string[] = [];
  try {
    names = readdirSync(roleDir(imagesDir, role));
  } catch {
    /* no directory: nothing to collect */
  }
  for (const n of names) {
    const m = FILE_RE.exec(n);
    if (!m || valid.has(m[1]) || keepIds.has(m[1])) continue;
    rmSync(join(roleDir(imagesDir, role), n), { force: true });
    if (!removed.includes(m[1])) removed.push(m[1]);
  }
  return removed;
}
