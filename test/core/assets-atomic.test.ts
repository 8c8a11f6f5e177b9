// `assets fetch` writes into a directory a running daemon serves: a reader must see the old
// file or the new one, never a partial one; MANIFEST.json must describe what is on disk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, readFileSync, readSync, readdirSync, rmSync, statSync, writeFileSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { installFiles, readManifest } from '../../src/cli/assets.js';
import { Jail, normaliseRequestPath } from '../../src/jail.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const origin = { name: 'ipxe', version: '1.0-1', source: 'installed package' as const };

test('files are replaced by rename: new inode, an open reader keeps the whole old file, no staging file left', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fb-atomic-'));
  try {
    const assets = join(dir, 'assets');
    const oldBytes = randomBytes(3 << 20);
    const newBytes = randomBytes(3 << 20);
    writeFileSync(join(dir, 'v1'), oldBytes);
    writeFileSync(join(dir, 'v2'), newBytes);
    installFiles(assets, origin, [{ src: join(dir, 'v1'), to: 'debian-12/linux' }]);
    const dest = join(assets, 'debian-12/linux');
    const before = statSync(dest).ino;
    const fd = openSync(dest, 'r'); // a download in progress
    try {
      const entries = installFiles(assets, { ...origin, version: '2.0-1' }, [{ src: join(dir, 'v2'), to: 'debian-12/linux' }]);
      assert.notEqual(statSync(dest).ino, before, 'replaced by rename, not rewritten in place');
      const seen = Buffer.alloc(oldBytes.length);
      assert.equal(readSync(fd, seen, 0, seen.length, 0), oldBytes.length);
      assert.deepEqual(seen, oldBytes, 'the open reader still reads the complete old file');
      assert.deepEqual(readFileSync(dest), newBytes);
      assert.equal(entries[0].sha256, sha(newBytes));
    } finally {
      closeSync(fd);
    }
    assert.deepEqual(readdirSync(join(assets, 'debian-12')), ['linux'], 'no staging file left behind');
    const m = readManifest(assets);
    assert.deepEqual(m.map((e) => [e.file, e.version, e.sha256, e.size]), [['debian-12/linux', '2.0-1', sha(newBytes), newBytes.length]]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the manifest is updated per package, keeping the entries of other packages', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fb-atomic-'));
  try {
    writeFileSync(join(dir, 'a'), 'A');
    writeFileSync(join(dir, 'b'), 'B');
    installFiles(dir, origin, [{ src: join(dir, 'a'), to: 'undionly.kpxe' }]);
    installFiles(dir, { name: 'debian-installer-12-netboot-amd64', version: '20230607', source: 'apt-get download' }, [{ src: join(dir, 'b'), to: 'debian-12/linux' }]);
    assert.deepEqual(readManifest(dir).map((e) => `${e.file} ${e.package} ${e.sha256}`), [`undionly.kpxe ipxe ${sha(Buffer.from('A'))}`, `debian-12/linux debian-installer-12-netboot-amd64 ${sha(Buffer.from('B'))}`]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('staging names are never served: the Jail refuses hidden names', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fb-atomic-'));
  try {
    writeFileSync(join(dir, '.linux.123-abcd.partial'), 'half');
    assert.equal(normaliseRequestPath('.linux.123-abcd.partial'), null);
    assert.equal(normaliseRequestPath('debian-12/.linux.partial'), null);
    assert.deepEqual(await new Jail(dir).resolve('.linux.123-abcd.partial'), { ok: false, reason: 'invalid' });
    assert.equal(normaliseRequestPath('debian-12/linux'), 'debian-12/linux');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a concurrent reader (another process) only ever sees a whole old or whole new file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fb-atomic-'));
  try {
    const versions = [randomBytes(4 << 20), randomBytes(4 << 20)];
    versions.forEach((b, i) => writeFileSync(join(dir, `v${i}`), b));
    installFiles(join(dir, 'assets'), origin, [{ src: join(dir, 'v0'), to: 'initrd.gz' }]);
    const dest = join(dir, 'assets/initrd.gz');
    const reader = spawn(process.execPath, ['-e', READER, dest, ...versions.map(sha)], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    reader.stdout.on('data', (c) => (out += c));
    while (!out.includes('ready')) await once(reader.stdout, 'data');
    for (let i = 1; i <= 20; i++) {
      installFiles(join(dir, 'assets'), origin, [{ src: join(dir, `v${i % 2}`), to: 'initrd.gz' }]);
      await new Promise((r) => setImmediate(r));
    }
    reader.stdin.end('stop\n');
    await once(reader, 'exit');
    const [, reads, bad] = /reads=(\d+) bad=(\d+)/.exec(out) ?? [];
    assert.ok(Number(reads) >= 1, out);
    assert.equal(Number(bad), 0, `a reader saw a partial or mixed file: ${out}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// reads the file in a loop until stdin says stop; counts reads whose hash is neither version
const READER = `
const { readFileSync } = require('node:fs');
const { createHash } = require('node:crypto');
const [file, ...ok] = process.argv.slice(1);
let reads = 0, bad = 0, stop = false;
process.stdin.on('data', () => { stop = true; });
function loop() {
  for (let i = 0; i < 5 && !stop; i++) {
    let h;
    try { h = createHash('sha256').update(readFileSync(file)).digest('hex'); } catch { h = 'missing'; }
    reads++;
    if (!ok.includes(h)) bad++;
  }
  if (reads === 5) process.stdout.write('ready\\n');
  if (stop) { process.stdout.write('reads=' + reads + ' bad=' + bad + '\\n'); process.exit(0); }
  setImmediate(loop);
}
loop();
`;
