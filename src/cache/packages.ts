// Reading Debian index files: Packages (plain, .gz, .xz) and Release. Files are streamed and
// parsed stanza by stanza; only the fields the cache needs are kept. Node has no xz decoder,
// so .xz goes through the xz(1) binary (xz-utils, present on every Debian system), .zst
// through zstd(1).
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { createGunzip } from 'node:zlib';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

export type Stanza = Record<string, string>;

/** Decompresses by magic number, not by name: by-hash files have no extension. */
export async function openIndex(file: string): Promise<Readable> {
  const fh = await open(file, 'r');
  const head = Buffer.alloc(6);
  await fh.read(head, 0, 6, 0);
  await fh.close();
  const raw = createReadStream(file);
  if (head[0] === 0x1f && head[1] === 0x8b) return raw.pipe(createGunzip());
  if (head.equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return through(raw, 'xz', file);
  // zstd: RPM repodata of newer createrepo_c (zstd(1) from the zstd package)
  if (head.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) return through(raw, 'zstd', file);
  return raw;
}

function through(raw: Readable, bin: 'xz' | 'zstd', file: string): Readable {
  const p = spawn(bin, ['-dc'], { stdio: ['pipe', 'pipe', 'ignore'] });
  raw.pipe(p.stdin);
  p.stdin.on('error', () => {}); // the decoder exiting early (bad data) is reported by the parser
  p.on('error', (e) => p.stdout.destroy(e));
  p.on('exit', (code) => {
    if (code !== 0) p.stdout.destroy(new Error(`${bin} -dc ${file} exited ${code}`));
  });
  return p.stdout;
}

/** Calls onStanza for each paragraph with the wanted fields (all fields if wanted is empty).
 *  Continuation lines are appended (needed for Release's SHA256 list). */
export async function parseStanzas(input: Readable, onStanza: (s: Stanza) => void | Promise<void>, wanted: string[] = []): Promise<void> {
  const keep = wanted.length ? new Set(wanted) : null;
  let cur: Stanza = {};
  let key: string | null = null;
  let any = false;
  const rl = createInterface({ input, crlfDelay: Infinity });
  for await (const line of rl) {
    if (line === '' || line.trim() === '') {
      if (any) await onStanza(cur);
      cur = {};
      key = null;
      any = false;
      continue;
    }
    if (line[0] === ' ' || line[0] === '\t') {
      if (key) cur[key] += '\n' + line.trim();
      continue;
    }
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const k = line.slice(0, i);
    any = true;
    if (keep && !keep.has(k)) {
      key = null;
      continue;
    }
    key = k;
    cur[k] = line.slice(i + 1).trim();
  }
  if (any) await onStanza(cur);
}

/** Release/InRelease: the SHA256 list as path -> { sha256, size }, plus top-level fields.
 *  InRelease's PGP armour lines do not look like fields and are skipped. */
export async function parseRelease(file: string): Promise<{ fields: Stanza; sha256: Map<string, { sha256: string; size: number }> }> {
  let fields: Stanza = {};
  await parseStanzas(createReadStream(file), (s) => {
    if (s.SHA256 !== undefined || s.Suite !== undefined || s.Codename !== undefined) fields = s;
  });
  const sha256 = new Map<string, { sha256: string; size: number }>();
  for (const l of (fields.SHA256 ?? '').split('\n')) {
    const m = /^([0-9a-f]{64})\s+(\d+)\s+(\S+)$/.exec(l.trim());
    if (m) sha256.set(m[3], { sha256: m[1], size: Number(m[2]) });
  }
  return { fields, sha256 };
}
