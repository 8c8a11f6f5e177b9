// A state database the daemon cannot write is never "healthy": a file SQLite can only open
// read-only (mode 0444 in a writable directory) stops `serve` with a message naming the file,
// and a store that fails writes at run time (a full disk) turns /healthz to 503 naming the file.
// File modes mean nothing to root, so as root the daemon runs as `nobody` (setpriv).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, openSync, writeSync, closeSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeFixture, startDaemon, REPO } from '../helpers/fixture.js';
import { openDatabase } from '../../src/store/db.js';

const isRoot = process.getuid?.() === 0;

function serveAs(configFile: string): Promise<{ code: number | null; out: string; started: boolean }> {
  const cli = [join(REPO, 'dist/src/cli.js'), '--config', configFile, 'serve'];
  const [cmd, args] = isRoot ? ['setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', 'node', ...cli]] : ['node', cli];
  return new Promise((resolve) => {
    const p = spawn(cmd, args as string[], { env: { PATH: process.env.PATH, CI: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let started = false;
    const kill = setTimeout(() => p.kill('SIGKILL'), 20_000);
    const onData = (b: Buffer) => {
      out += b.toString();
      if (!started && out.includes('fleetboot is running')) {
        started = true;
        p.kill('SIGTERM');
      }
    };
    p.stdout.on('data', onData);
    p.stderr.on('data', onData);
    p.on('exit', (code) => {
      clearTimeout(kill);
      resolve({ code, out, started });
    });
  });
}

test('serve refuses a read-only database file (0444 in a writable directory), naming the file', async () => {
  const fx = makeFixture();
  try {
    const db = join(fx.dir, 'state/fb.sqlite');
    openDatabase(db).close(); // migrated, as a previous run left it
    for (const f of ['state/fb.sqlite-wal', 'state/fb.sqlite-shm']) rmSync(join(fx.dir, f), { force: true });
    chmodSync(fx.dir, 0o755);
    chmodSync(join(fx.dir, 'state'), 0o777); // the directory is writable: only the file is not
    chmodSync(db, 0o444);
    if (!isRoot) assert.throws(() => writeFileSync(db, 'x', { flag: 'a' }), 'the test user cannot write the file');
    const r = await serveAs(fx.configFile);
    assert.equal(r.started, false, `the daemon started on a read-only database:\n${r.out}`);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, new RegExp(`cannot start: ${db.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: the state database is not writable \\(SQLITE_READONLY`));
  } finally {
    fx.cleanup();
  }
});

test('a store that cannot take writes at run time (full disk): /healthz 503 naming the file, ok again once writes succeed', { skip: isRoot ? false : 'needs root to mount a small tmpfs' }, async () => {
  const mnt = mkdtempSync(join(tmpdir(), 'fb-dbfull-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt]);
  const fx = makeFixture(`# the database on its own small filesystem\n`);
  try {
    mkdirSync(join(mnt, 'state'));
    const dbFile = join(mnt, 'state/fb.sqlite');
    fx.write('fleetboot.yaml', (await import('node:fs')).readFileSync(fx.configFile, 'utf8').replace('db: state/fb.sqlite', `db: ${dbFile}`));
    const { d, base } = await startDaemon(fx);
    try {
      d.installs.mark(['alpha'], 'test');
      let h = await fetch(`${base}/healthz`);
      assert.equal(h.status, 200);
      // fill the filesystem
      const filler = join(mnt, 'filler');
      const fd = openSync(filler, 'w');
      const chunk = Buffer.alloc(64 * 1024, 1);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (e) {
        assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
      }
      try {
        for (;;) writeSync(fd, chunk.subarray(0, 512));
      } catch {
        /* every last block */
      }
      closeSync(fd);
      // boot answers and progress writes now fail
      let failures = 0;
      for (let i = 0; i < 50 && failures === 0; i++) {
        const r = await fetch(`${base}/boot.ipxe?mac=52:54:00:aa:00:01`);
        await r.arrayBuffer();
        if (r.status === 500) failures++;
      }
      assert.ok(failures > 0, 'a write failed');
      h = await fetch(`${base}/healthz`);
      assert.equal(h.status, 503);
      const body = (await h.json()) as { ok: boolean; store: { ok: boolean; file: string; error: { code: string } }; error: string };
      assert.equal(body.ok, false);
      assert.equal(body.store.file, dbFile);
      assert.match(body.store.error.code, /^SQLITE_(FULL|IOERR)/);
      assert.match(body.error, new RegExp(`state database ${dbFile.replace(/[.]/g, '\\.')} cannot be written`));
      // space again: the next write succeeds and health follows
      unlinkSync(filler);
      const r = await fetch(`${base}/boot.ipxe?mac=52:54:00:aa:00:01`);
      assert.equal(r.status, 200);
      h = await fetch(`${base}/healthz`);
      assert.equal(h.status, 200);
    } finally {
      await d.stop();
    }
  } finally {
    fx.cleanup();
    execFileSync('umount', [mnt]);
    rmSync(mnt, { recursive: true, force: true });
  }
});
