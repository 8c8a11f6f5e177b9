// Build lock, status and state (src/image/state.ts); a step's abort kills its whole process
// group and names the step (src/image/proc.ts); the progress output (src/image/progress.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { acquireBuildLock, roleImageState, writeBuildStatus, pidAlive } from '../../src/image/state.js';
import { runStep, StepError, LineTail } from '../../src/image/proc.js';
import { progressSink } from '../../src/image/progress.js';

function tmp() {
  const dir = mkdtempSync(join(tmpdir(), 'fb-imgstate-'));
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

test('lock: one holder per role; a second acquire names the holder; a dead holder\'s lock is taken over', async () => {
  const t = tmp();
  try {
    const release = acquireBuildLock(t.dir, 'web');
    assert.equal(typeof release, 'function');
    assert.deepEqual(acquireBuildLock(t.dir, 'web'), { heldBy: process.pid });
    assert.equal(typeof acquireBuildLock(t.dir, 'db'), 'function', 'other roles are independent');
    assert.equal(roleImageState(t.dir, 'web').state, 'building');
    (release as () => void)();
    assert.equal(roleImageState(t.dir, 'web').state, 'none');
    // a process that held the lock and died
    const child = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => child.on('exit', r));
    assert.equal(pidAlive(child.pid!), false);
    writeFileSync(join(t.dir, 'web/.build.lock'), `${child.pid} 2026-01-01T00:00:00Z\n`);
    const again = acquireBuildLock(t.dir, 'web');
    assert.equal(typeof again, 'function', 'stale lock taken over');
    assert.match(readFileSync(join(t.dir, 'web/.build.lock'), 'utf8'), new RegExp(`^${process.pid} `));
    (again as () => void)();
  } finally {
    t.done();
  }
});

test('state: a failure is shown until a newer image exists; a building status whose process died is a failure', () => {
  const t = tmp();
  try {
    const at = '2026-02-01T00:00:00.000Z';
    writeBuildStatus(t.dir, 'web', { state: 'failed', pid: 1, startedAt: at, updatedAt: at, step: 'debootstrap', error: 'step debootstrap failed: boom' });
    const s = roleImageState(t.dir, 'web');
    assert.equal(s.state, 'failed');
    assert.equal(s.build?.step, 'debootstrap');
    writeBuildStatus(t.dir, 'web', { state: 'building', pid: 999999999, startedAt: at, updatedAt: at, step: 'mkfs' });
    const dead = roleImageState(t.dir, 'web');
    assert.equal(dead.state, 'failed');
    assert.match(dead.build?.error ?? '', /ended without finishing.*step mkfs/);
  } finally {
    t.done();
  }
});

test('runStep: exit status and output tail in the error; abort kills the whole process group', async () => {
  const ac = new AbortController();
  await assert.rejects(runStep('sh', ['-c', 'echo one; echo two >&2; exit 3'], { step: 'mkfs', signal: ac.signal }), (e: unknown) => {
    assert.ok(e instanceof StepError);
    assert.equal(e.step, 'mkfs');
    assert.match(e.message, /^step mkfs failed: sh exited with status 3\none\ntwo$/);
    return true;
  });
  const t = tmp();
  try {
    const pidFile = join(t.dir, 'grandchild');
    // a grandchild in the same group (like debootstrap's dpkg under its shell)
    const p = runStep('sh', ['-c', `sleep 300 & echo $! > ${pidFile}; wait`], { step: 'debootstrap', signal: ac.signal });
    for (let i = 0; i < 100; i++) {
      try {
        if (readFileSync(pidFile, 'utf8').trim()) break;
      } catch {
        /* not yet */
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    ac.abort('timed out after 1 s (images.buildTimeoutSeconds)');
    await assert.rejects(p, (e: unknown) => e instanceof StepError && /^step debootstrap failed: timed out after 1 s/.test(e.message));
    for (let i = 0; i < 100 && pidAlive(grandchild); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(pidAlive(grandchild), false, 'the grandchild was killed with the group');
  } finally {
    t.done();
  }
});

test('LineTail keeps the last lines across chunk boundaries', () => {
  const t = new LineTail(3);
  const seen: string[] = [];
  t.push('a\nb', (l) => seen.push(l));
  t.push('c\nd\ne\nf', (l) => seen.push(l));
  assert.deepEqual(seen, ['a', 'bc', 'd', 'e']);
  assert.equal(t.text(), 'bc\nd\ne\nf', 'the last 3 complete lines and the unfinished one');
});

function sink(tty: boolean) {
  let out = '';
  const w = new Writable({
    write(c, _e, cb) {
      out += c.toString();
      cb();
    },
  }) as unknown as NodeJS.WriteStream;
  return { s: progressSink(w, tty), out: () => out };
}

test('progress: plain lines per step and per 10% off a terminal; a redrawn bar on one', () => {
  const plain = sink(false);
  for (const [step, i, pct] of [['debootstrap', 1, 0], ['debootstrap', 1, 5], ['debootstrap', 1, 12], ['mkfs', 3, 72], ['finish', 5, 100]] as const) plain.s.update({ step, stepIndex: i, steps: 5, percent: pct });
  plain.s.end();
  assert.equal(plain.out(), ['step 1/5 debootstrap', '0% (debootstrap)', '12% (debootstrap)', 'step 3/5 mkfs', '72% (mkfs)', 'step 5/5 finish', '100% (finish)', ''].join('\n'));
  const tty = sink(true);
  tty.s.update({ step: 'compress', stepIndex: 4, steps: 5, percent: 50, detail: 'zstd -6' });
  tty.s.end();
  assert.equal(tty.out(), '\r\x1b[2K[############------------]  50% 4/5 compress: zstd -6\n');
});
