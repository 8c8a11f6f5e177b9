// Reading RPM repository metadata: repomd.xml (checksums of the repodata files), primary.xml
// (checksums of the packages; streamed, package by package) and .treeinfo (checksums of the
// installer images). Regular expressions over well-formed createrepo/lorax output: the cache
// only needs location, checksum and size, and a file it cannot read verifies nothing.
import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { DigestAlgo } from './paths.js';
import type { KnownEntry } from './store.js';

const ALGO: Record<string, DigestAlgo> = { md5: 'md5', sha: 'sha1', sha1: 'sha1', sha256: 'sha256', sha512: 'sha512' };

function checksum(block: string): { algo: DigestAlgo; hex: string } | null {
  // <checksum type="sha256">..</checksum>, not <open-checksum ...>
  const m = /<checksum\s+type="([a-z0-9]+)"[^>]*>\s*([0-9a-fA-F]+)\s*<\/checksum>/.exec(block);
  const algo = m && ALGO[m[1]];
  return algo ? { algo, hex: m[2].toLowerCase() } : null;
}

/** repomd.xml -> entries with paths relative to the repository base (the dir holding repodata/) */
export async function parseRepomd(file: string): Promise<(KnownEntry & { type: string })[]> {
  const xml = await readFile(file, 'utf8');
  const out: (KnownEntry & { type: string })[] = [];
  for (const m of xml.matchAll(/<data\s+type="([^"]+)"\s*>([\s\S]*?)<\/data>/g)) {
    const c = checksum(m[2]);
    const href = /<location\s+href="([^"]+)"/.exec(m[2])?.[1];
    const size = /<size>(\d+)<\/size>/.exec(m[2])?.[1];
    if (c && href && !href.startsWith('/') && !href.includes('..')) out.push({ type: m[1], path: href, ...c, size: size ? Number(size) : undefined });
  }
  return out;
}

/** primary.xml (decompressed stream) -> one entry per package, paths relative to the base. */
export async function parsePrimary(input: Readable, onEntry: (e: KnownEntry) => void): Promise<void> {
  input.setEncoding('utf8');
  let buf = '';
  const take = (block: string) => {
    const c = checksum(block);
    const href = /<location\s+(?:xml:base="[^"]*"\s+)?href="([^"]+)"/.exec(block)?.[1];
    const size = /<size\s+package="(\d+)"/.exec(block)?.[1];
    if (c && href && !href.startsWith('/') && !href.includes('..')) onEntry({ path: href, ...c, size: size ? Number(size) : undefined });
  };
  for await (const chunk of input as AsyncIterable<string>) {
    buf += chunk;
    let i: number;
    while ((i = buf.indexOf('</package>')) >= 0) {
      take(buf.slice(0, i));
      buf = buf.slice(i + 10);
    }
    // a single package stanza is a few KB; anything longer is not primary.xml
    if (buf.length > 4 * 1024 * 1024) throw new Error('primary.xml: package stanza too long');
  }
}

/** .treeinfo [checksums]: "images/install.img = sha256:<hex>" -> entries relative to its dir. */
export async function parseTreeinfo(file: string): Promise<KnownEntry[]> {
  const out: KnownEntry[] = [];
  let section = '';
  for (const line of (await readFile(file, 'utf8')).split('\n')) {
    const s = /^\s*\[([^\]]+)\]\s*$/.exec(line);
    if (s) {
      section = s[1];
      continue;
    }
    if (section !== 'checksums') continue;
    const m = /^\s*([^=\s][^=]*?)\s*=\s*([a-z0-9]+):([0-9a-fA-F]+)\s*$/.exec(line);
    const algo = m && ALGO[m[2]];
    if (algo && !m[1].startsWith('/') && !m[1].includes('..')) out.push({ path: m[1], algo, hex: m[3].toLowerCase() });
  }
  return out;
}
