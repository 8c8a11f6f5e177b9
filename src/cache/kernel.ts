// What a role's installer boot files tell the warm-up:
// - the kernel release of its bzImage (module udebs are built per kernel ABI; anna fetches
//   only those of the running kernel), read from the x86 boot protocol header: "HdrS" at
//   0x202, protocol version at 0x206, the 16-bit kernel_version pointer at 0x20E, the string
//   at that value + 0x200 (Documentation/arch/x86/boot.rst);
// - the udebs its initrd already holds (d-i initrds carry var/lib/dpkg/status), read from the
//   gzip'd newc cpio as a stream: those are never downloaded.
import { open } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';

/** "6.1.0-18-amd64" from a bzImage, or null when the file is not one (or not readable). */
export async function kernelRelease(file: string): Promise<string | null> {
  const fh = await open(file, 'r').catch(() => null);
  if (!fh) return null;
  try {
    const hdr = Buffer.alloc(0x210);
    const { bytesRead } = await fh.read(hdr, 0, hdr.length, 0);
    if (bytesRead < hdr.length || hdr.toString('latin1', 0x202, 0x206) !== 'HdrS' || hdr.readUInt16LE(0x206) < 0x200) return null;
    const ptr = hdr.readUInt16LE(0x20e);
    if (ptr === 0) return null;
    const s = Buffer.alloc(256);
    const r = await fh.read(s, 0, s.length, ptr + 0x200);
    const str = s.subarray(0, r.bytesRead).toString('latin1');
    const release = str.slice(0, str.indexOf('\0') >= 0 ? str.indexOf('\0') : str.length).split(/\s+/)[0];
    return /^\d+\.\d+[\w.+~-]*$/.test(release) ? release : null;
  } finally {
    await fh.close();
  }
}

const align4 = (n: number) => (n + 3) & ~3;

/** Bytes of one member of a (gzip'd) newc cpio stream, or null if it is not there. */
export async function cpioMember(input: Readable, wanted: string): Promise<Buffer | null> {
  let buf: Buffer = Buffer.alloc(0);
  let skip = 0;
  let collect: { left: number; parts: Buffer[] } | null = null;
  for await (const chunk of input as AsyncIterable<Buffer>) {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    for (;;) {
      if (skip > 0) {
        const n = Math.min(skip, buf.length);
        if (collect) {
          const take = Math.min(n, collect.left);
          collect.parts.push(buf.subarray(0, take));
          collect.left -= take;
          if (collect.left === 0) {
            input.destroy();
            return Buffer.concat(collect.parts);
          }
        }
        buf = buf.subarray(n);
        skip -= n;
        if (skip > 0) break;
      }
      if (buf.length < 110) break;
      const magic = buf.toString('latin1', 0, 6);
      if (magic !== '070701' && magic !== '070702') {
        // padding between concatenated archives
        const k = buf.findIndex((b) => b !== 0);
        if (k < 0) {
          buf = Buffer.alloc(0);
          break;
        }
        if (k === 0 || k % 4 !== 0) return null; // not newc cpio
        buf = buf.subarray(k);
        continue;
      }
      const hex = (o: number) => parseInt(buf.toString('latin1', o, o + 8), 16);
      const fileSize = hex(54);
      const nameSize = hex(94);
      const head = align4(110 + nameSize);
      if (buf.length < head) break;
      const name = buf.toString('utf8', 110, 110 + nameSize - 1).replace(/^\.?\//, '');
      buf = buf.subarray(head);
      skip = align4(fileSize);
      if (name === wanted) {
        if (fileSize === 0) return Buffer.alloc(0);
        collect = { left: fileSize, parts: [] };
      }
    }
  }
  return null;
}

/** Names of the packages installed in a d-i initrd (gzip'd or plain cpio), or null. */
export async function initrdPackages(file: string): Promise<Set<string> | null> {
  const fh = await open(file, 'r').catch(() => null);
  if (!fh) return null;
  const magic = Buffer.alloc(2);
  await fh.read(magic, 0, 2, 0);
  await fh.close();
  const raw = createReadStream(file);
  const input = magic[0] === 0x1f && magic[1] === 0x8b ? raw.pipe(createGunzip()) : raw;
  try {
    const status = await cpioMember(input, 'var/lib/dpkg/status');
    if (!status) return null;
    const names = new Set<string>();
    for (const stanza of status.toString('utf8').split(/\n\s*\n/)) {
      const pkg = /^Package:\s*(\S+)/m.exec(stanza)?.[1];
      const st = /^Status:\s*(.+)$/m.exec(stanza)?.[1];
      // udpkg marks what the image was built with "install ok unpacked"
      if (pkg && !/\b(not-installed|config-files|deinstall|purge)\b/.test(st ?? '')) names.add(pkg);
    }
    return names;
  } catch {
    return null;
  } finally {
    raw.destroy();
  }
}
