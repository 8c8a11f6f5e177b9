// The keep-data step's partition-table edits (preseed-templates/files/di-hooks.sh mbr-delete /
// gpt-delete), run with busybox applets only, as in d-i, on disk images built here: only the
// deleted entries and the CRC fields change, and both GPT headers stay valid.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { TemplateRenderer, type RenderContext } from '../../src/install/render.js';
import { REPO } from '../helpers/fixture.js';

function busyboxPath(): string | undefined {
  try { return execFileSync('sh', ['-c', 'command -v busybox'], { encoding: 'utf8' }).trim() || undefined; } catch { return undefined; }
}
const BUSYBOX = busyboxPath();
const SECTORS = 8192; // 4 MiB image
const ENTRIES = 128, ESZ = 128;

function setup(): { dir: string; script: string; env: NodeJS.ProcessEnv } {
  const dir = mkdtempSync(join(tmpdir(), 'fb-pt-'));
  mkdirSync(join(dir, 'bin'));
  for (const a of ['sh', 'dd', 'cmp', 'crc32', 'cut', 'printf', 'echo', 'cat']) symlinkSync(BUSYBOX!, join(dir, 'bin', a));
  const ctx = { host: { name: 't' }, role: { partitioning: {} }, vars: {}, packages: [], run: { id: 1 },
    urls: { progress: 'http://127.0.0.1:9/p', files: 'http://127.0.0.1:9/f' }, mirror: { url: 'http://127.0.0.1:9/m' }, syslog: {} } as unknown as RenderContext;
  const script = join(dir, 'di-hooks.sh');
  writeFileSync(script, new TemplateRenderer(join(REPO, 'preseed-templates')).render('files/di-hooks.sh', ctx));
  return { dir, script, env: { PATH: join(dir, 'bin') } };
}

function gptImage(): Buffer {
  const img = Buffer.alloc(SECTORS * 512);
  // protective MBR
  img.writeUInt8(0xee, 446 + 4); img.writeUInt32LE(1, 446 + 8); img.writeUInt32LE(SECTORS - 1, 446 + 12); img.writeUInt16LE(0xaa55, 510);
  const entries = Buffer.alloc(ENTRIES * ESZ);
  const parts = [[34, 2081], [2082, 4129], [4130, 6177], [6178, 8000]];
  parts.forEach(([first, last], i) => {
    const e = entries.subarray(i * ESZ);
    e.fill(0x11 + i, 0, 16); e.fill(0x21 + i, 16, 32); // type and unique GUIDs
    e.writeBigUInt64LE(BigInt(first), 32); e.writeBigUInt64LE(BigInt(last), 40);
    e.write(`part${i + 1}`, 56, 'utf16le');
  });
  const ecrc = crc32(entries);
  const header = (cur: number, alt: number, elba: number) => {
    const h = Buffer.alloc(512);
    h.write('EFI PART', 0, 'latin1'); h.writeUInt32LE(0x10000, 8); h.writeUInt32LE(92, 12);
    h.writeBigUInt64LE(BigInt(cur), 24); h.writeBigUInt64LE(BigInt(alt), 32);
    h.writeBigUInt64LE(34n, 40); h.writeBigUInt64LE(BigInt(SECTORS - 34), 48); h.fill(0x5a, 56, 72);
    h.writeBigUInt64LE(BigInt(elba), 72); h.writeUInt32LE(ENTRIES, 80); h.writeUInt32LE(ESZ, 84); h.writeUInt32LE(ecrc, 88);
    h.writeUInt32LE(crc32(h.subarray(0, 92)), 16);
    return h;
  };
  header(1, SECTORS - 1, 2).copy(img, 512);
  entries.copy(img, 2 * 512);
  entries.copy(img, (SECTORS - 33) * 512);
  header(SECTORS - 1, 1, SECTORS - 33).copy(img, (SECTORS - 1) * 512);
  return img;
}

function checkHeader(img: Buffer, lba: number): Buffer {
  const h = Buffer.from(img.subarray(lba * 512, lba * 512 + 92));
  const hcrc = h.readUInt32LE(16); h.writeUInt32LE(0, 16);
  assert.equal(crc32(h), hcrc, `header CRC at LBA ${lba}`);
  const elba = Number(h.readBigUInt64LE(72));
  const entries = img.subarray(elba * 512, elba * 512 + ENTRIES * ESZ);
  assert.equal(crc32(entries), h.readUInt32LE(88), `entries CRC of header at LBA ${lba}`);
  return entries;
}

test('gpt-delete clears entries 1, 2, 4 in both arrays and rewrites all four CRCs; entry 3 untouched', { skip: !BUSYBOX && 'busybox not installed' }, () => {
  const { dir, script, env } = setup();
  try {
    const before = gptImage();
    const file = join(dir, 'gpt.img');
    writeFileSync(file, before);
    execFileSync(join(dir, 'bin', 'sh'), [script, 'gpt-delete', file, '1', '2', '4'], { env });
    const after = readFileSync(file);
    for (const lba of [1, SECTORS - 1]) {
      const entries = checkHeader(after, lba);
      for (const i of [0, 1, 3]) assert.ok(entries.subarray(i * ESZ, (i + 1) * ESZ).every((b) => b === 0), `entry ${i + 1} cleared`);
      assert.deepEqual(entries.subarray(2 * ESZ, 3 * ESZ), before.subarray(2 * 512 + 2 * ESZ, 2 * 512 + 3 * ESZ), 'entry 3 kept');
    }
    // nothing outside the two entry arrays and the two headers' CRC fields changed
    const allowed = (pos: number) => (pos >= 1024 && pos < 1024 + ENTRIES * ESZ) || (pos >= (SECTORS - 33) * 512 && pos < (SECTORS - 1) * 512)
      || [512 + 16, 512 + 88, (SECTORS - 1) * 512 + 16, (SECTORS - 1) * 512 + 88].some((o) => pos >= o && pos < o + 4);
    for (let i = 0; i < before.length; i++) if (before[i] !== after[i]) assert.ok(allowed(i), `byte ${i} changed`);
    // not a GPT: refuses without writing
    writeFileSync(file, Buffer.alloc(SECTORS * 512));
    assert.throws(() => execFileSync(join(dir, 'bin', 'sh'), [script, 'gpt-delete', file, '1'], { env }));
    assert.ok(readFileSync(file).every((b) => b === 0));
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('mbr-delete clears only the named primary entries', { skip: !BUSYBOX && 'busybox not installed' }, () => {
  const { dir, script, env } = setup();
  try {
    const before = Buffer.alloc(64 * 512, 0x77); // boot code and disk bytes are non-zero
    for (let i = 0; i < 4; i++) before.fill(0x31 + i, 446 + 16 * i, 462 + 16 * i);
    before.writeUInt16LE(0xaa55, 510);
    const file = join(dir, 'mbr.img');
    writeFileSync(file, before);
    execFileSync(join(dir, 'bin', 'sh'), [script, 'mbr-delete', file, '1', '3'], { env });
    const after = readFileSync(file);
    for (let i = 0; i < before.length; i++) {
      const inEntry = (n: number) => i >= 446 + 16 * (n - 1) && i < 462 + 16 * (n - 1);
      assert.equal(after[i], inEntry(1) || inEntry(3) ? 0 : before[i], `byte ${i}`);
    }
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
