// The image installer's partitioning step (src/installer/env/partition.sh), run as in the
// installer environment — busybox applets plus util-linux sfdisk — against disk image files
// built here with sfdisk and mke2fs: keep-data keeps the data partition's table entry and
// every byte of it, refuses (writing nothing) when the data partition is missing or
// ambiguous; wipe writes the fresh layout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, symlinkSync, mkdirSync, writeSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from '../helpers/fixture.js';

const which = (b: string) => spawnSync('sh', ['-c', `PATH=$PATH:/sbin:/usr/sbin command -v ${b}`], { encoding: 'utf8' }).stdout.trim() || undefined;
const BUSYBOX = which('busybox');
const SFDISK = which('sfdisk');
const MKE2FS = which('mke2fs');
const skip = (!BUSYBOX || !SFDISK || !MKE2FS) && 'needs busybox, sfdisk (fdisk) and mke2fs (e2fsprogs): .ci/apt-deps.sh';
const LIB = join(REPO, 'src/installer/env/partition.sh');
const MiB = 1024 * 1024;

function env(): { dir: string; run: (script: string) => { status: number; out: string } } {
  const dir = mkdtempSync(join(tmpdir(), 'fb-inst-pt-'));
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  for (const a of ['sh', 'tr', 'sed', 'head', 'tail', 'grep', 'dd', 'od', 'stat', 'basename', 'cat', 'wc', 'echo', 'printf']) symlinkSync(BUSYBOX!, join(bin, a));
  symlinkSync(SFDISK!, join(bin, 'sfdisk'));
  const run = (script: string) => {
    const r = spawnSync(join(bin, 'sh'), ['-c', `. ${LIB}; ${script}`], { cwd: dir, env: { PATH: bin }, encoding: 'utf8' });
    return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
  };
  return { dir, run };
}

function disk(file: string, sizeMiB: number, table: string) {
  const fd = openSync(file, 'w');
  ftruncateSync(fd, sizeMiB * MiB);
  closeSync(fd);
  execFileSync(SFDISK!, ['-q', file], { input: table });
}

function parts(file: string): { n: number; start: number; size: number; line: string }[] {
  const d = JSON.parse(execFileSync(SFDISK!, ['-J', file], { encoding: 'utf8' })) as { partitiontable: { partitions: { node: string; start: number; size: number }[] } };
  const dump = execFileSync(SFDISK!, ['-d', file], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(' : '));
  return d.partitiontable.partitions.map((p) => {
    const n = Number(/(\d+)$/.exec(p.node)![1]);
    return { n, start: p.start, size: p.size, line: dump.find((l) => new RegExp(`[^0-9]${n} : `).test(l))!.split(' : ')[1] };
  });
}

function ext4(file: string, startSector: number, sizeSectors: number, label: string) {
  execFileSync(MKE2FS!, ['-q', '-F', '-t', 'ext4', '-L', label, '-E', `offset=${startSector * 512}`, file, `${sizeSectors / 2}k`]);
}

/** random bytes over the whole partition after its superblock area, so any write shows */
function fill(file: string, startSector: number, bytes: number) {
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.from(createHash('sha512').update(String(startSector)).digest().toString('hex').repeat(bytes / 128)), 0, bytes, startSector * 512 + 64 * 1024);
  closeSync(fd);
}

function sha(file: string, start = 0, len?: number): string {
  const fd = openSync(file, 'r');
  const h = createHash('sha256');
  const buf = Buffer.alloc(MiB);
  let pos = start;
  const end = len === undefined ? Infinity : start + len;
  for (;;) {
    const n = readSync(fd, buf, 0, Math.min(buf.length, end - pos), pos);
    if (n <= 0) break;
    h.update(buf.subarray(0, n));
    pos += n;
  }
  closeSync(fd);
  return h.digest('hex');
}

const layout = (scheme: string, table = 'gpt', minRoot = 64) => `fb_layout d.img ${scheme} data ${table} ${minRoot} 32 96 t.sfdisk t.vars; rc=$?; cat t.vars 2>/dev/null; [ $rc = 0 ] || exit $rc; fb_apply d.img ${scheme} t.sfdisk`;

test('keep-data on MBR: the data entry and every byte of the data partition kept; the OS partitions replaced in the freed space', { skip }, () => {
  const { dir, run } = env();
  try {
    const file = join(dir, 'd.img');
    disk(file, 384, 'label: dos\nunit: sectors\n\nstart=2048, size=262144, type=83, bootable\nstart=264192, size=262144, type=83\n');
    ext4(file, 2048, 262144, 'oldroot');
    ext4(file, 264192, 262144, 'data');
    fill(file, 264192, 4 * MiB);
    const before = parts(file);
    const labelId = execFileSync(SFDISK!, ['-d', file], { encoding: 'utf8' }).match(/label-id: (\S+)/)![1];
    const dataSha = sha(file, 264192 * 512, 262144 * 512);
    const r = run(layout('keep-data', 'gpt'));
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /FB_P_ESP=1 FB_P_ROOT=3 FB_P_DATA=2 FB_NEW_DATA=0 FB_TABLE=dos/, 'keeps the table type, data stays partition 2');
    const after = parts(file);
    assert.deepEqual(after.find((p) => p.n === 2), before.find((p) => p.n === 2), 'data entry unchanged');
    assert.equal(sha(file, 264192 * 512, 262144 * 512), dataSha, 'data partition bytes unchanged');
    const root = after.find((p) => p.n === 3)!;
    const esp = after.find((p) => p.n === 1)!;
    assert.match(esp.line, /type=ef/);
    assert.ok(esp.start >= 2048 && root.start === esp.start + esp.size && root.start + root.size <= 264192, 'ESP + root in the space the old root left');
    assert.equal(execFileSync(SFDISK!, ['-d', file], { encoding: 'utf8' }).match(/label-id: (\S+)/)![1], labelId, 'disk identifier kept');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('keep-data on GPT with the data partition between OS partitions: uuid, name, label-id kept; bios_grub + ESP + root in the larger free region', { skip }, () => {
  const { dir, run } = env();
  try {
    const file = join(dir, 'd.img');
    disk(file, 512, 'label: gpt\nunit: sectors\n\nstart=2048, size=65536, type=U\nstart=67584, size=131072, type=L\nstart=198656, size=131072, type=L, name="stuff"\nstart=329728, size=262144, type=L\n');
    ext4(file, 67584, 131072, 'oldroot');
    ext4(file, 198656, 131072, 'data');
    fill(file, 198656, 8 * MiB);
    const labelId = execFileSync(SFDISK!, ['-d', file], { encoding: 'utf8' }).match(/label-id: (\S+)/)![1];
    const before = parts(file).find((p) => p.n === 3)!;
    const dataSha = sha(file, 198656 * 512, 131072 * 512);
    const r = run(layout('keep-data'));
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /FB_P_BIOS=1 FB_P_ESP=2 FB_P_ROOT=4 FB_P_DATA=3 FB_NEW_DATA=0 FB_TABLE=gpt/);
    const after = parts(file);
    assert.deepEqual(after.find((p) => p.n === 3), before, 'data entry (start, size, type, uuid, name) unchanged');
    assert.equal(sha(file, 198656 * 512, 131072 * 512), dataSha);
    assert.equal(execFileSync(SFDISK!, ['-d', file], { encoding: 'utf8' }).match(/label-id: (\S+)/)![1], labelId, 'disk GUID kept');
    assert.equal(after.length, 4, 'old partitions 1, 2, 4 are gone; 3 new ones + data');
    const [bios, esp, root] = [1, 2, 4].map((n) => after.find((p) => p.n === n)!);
    assert.match(bios.line, /21686148-6449-6E6F-744E-656564454649/);
    assert.match(esp.line, /C12A7328-F81F-11D2-BA4B-00A0C93EC93B/);
    assert.ok(bios.start >= 198656 + 131072, 'the free region after the data partition (larger) is used');
    assert.ok(root.start + root.size <= 1048576 - 33);
    assert.equal(spawnSync(SFDISK!, ['--verify', file], { encoding: 'utf8' }).status, 0);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('keep-data refuses without writing: no data partition, two of them, a logical one, no room', { skip }, () => {
  const { dir, run } = env();
  try {
    const file = join(dir, 'd.img');
    const check = (table: string, fs: [number, number, string][], expectRc: number, msg: RegExp, minRoot = 64) => {
      disk(file, 256, table);
      for (const [s, n, l] of fs) ext4(file, s, n, l);
      const whole = sha(file);
      const r = run(layout('keep-data', 'gpt', minRoot));
      assert.equal(r.status, expectRc, r.out);
      assert.match(r.out, msg);
      assert.equal(sha(file), whole, 'nothing written');
    };
    const two = 'label: dos\nunit: sectors\n\nstart=2048, size=131072, type=83\nstart=133120, size=131072, type=83\nstart=264192, size=131072, type=83\n';
    check(two, [[2048, 131072, 'oldroot'], [133120, 131072, 'scratch']], 2, /no partition labelled "data"/);
    check(two, [[2048, 131072, 'oldroot'], [133120, 131072, 'data'], [264192, 131072, 'data']], 3, /several partitions labelled "data" on d.img \(2 3\)/);
    check('label: dos\nunit: sectors\n\nstart=2048, size=131072, type=83\nstart=133120, type=5\nstart=135168, size=131072, type=83\n', [[135168, 131072, 'data']], 5, /logical partition/);
    check('label: dos\nunit: sectors\n\nstart=2048, size=131072, type=83\nstart=133120, type=83\n', [[133120, 131072, 'data']], 4, /no room beside the data partition/, 200);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('wipe: a fresh GPT [bios_grub][ESP][root][data] and a fresh MBR [ESP][root][data]', { skip }, () => {
  const { dir, run } = env();
  try {
    const file = join(dir, 'd.img');
    disk(file, 256, 'label: dos\nunit: sectors\n\nstart=2048, type=83\n');
    let r = run(layout('wipe', 'gpt'));
    assert.equal(r.status, 0, r.out);
    let p = parts(file);
    assert.deepEqual(p.map((x) => x.n), [1, 2, 3, 4]);
    assert.match(p[0].line, /name="bios_grub"/);
    assert.match(p[1].line, /name="esp"/);
    assert.equal(p[2].size, 96 * 2048, 'root as asked');
    assert.match(p[3].line, /name="data"/);
    r = run(layout('wipe', 'dos'));
    assert.equal(r.status, 0, r.out);
    p = parts(file);
    assert.deepEqual(p.map((x) => x.n), [1, 2, 3]);
    assert.match(p[0].line, /type=ef/);
    assert.match(r.out, /FB_NEW_DATA=1 FB_TABLE=dos/);
    // too small a disk: refused
    disk(file, 64, 'label: dos\n');
    r = run(layout('wipe', 'gpt'));
    assert.equal(r.status, 4, r.out);
    assert.match(r.out, /disk too small/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
