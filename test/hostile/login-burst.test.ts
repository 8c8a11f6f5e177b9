// Issue 13 hole 1: a burst of parallel logins must not get past the rate limit (an attempt is
// counted before its hash runs), and must not starve the boot path's file reads (hashes run
// through a bounded gate; scrypt and fs share libuv's thread pool). Real daemon with the UI on;
// curl (-Z, 200 transfers at once) for the single-address burst, node:http from 10 loopback
// source addresses for the many-address burst.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { makeFixture, startDaemon, captureLog } from '../helpers/fixture.js';
import { AuthStore } from '../../src/web/auth.js';

const run = promisify(execFile);
const ADMIN = { username: 'admin', password: 'correct horse battery' };

async function withDaemon(web: string, fn: (port: number, auth: AuthStore, dir: string, logs: () => Record<string, unknown>[]) => Promise<void>) {
  const fx = makeFixture('', undefined, { web: `  enabled: true\n${web}` });
  const cap = captureLog('info');
  const { d } = await startDaemon(fx, undefined, {}, { log: cap.log });
  try {
    const auth = new AuthStore(d.db);
    await auth.setUser(ADMIN.username, ADMIN.password, 'test');
    await fn(d.httpPort, auth, fx.dir, cap.lines);
  } finally {
    await d.stop();
    fx.cleanup();
  }
}

const attempts = (auth: AuthStore) => auth.auditLog({ action: 'login', limit: 1000 }).length;

// scrypt costs ~0.1-1 s per hash on a busy CI machine: the limits are set low to keep this short
test('200 parallel logins (curl -Z): at most loginMaxAttempts are checked; the right password sent 151st is refused', async () => {
  await withDaemon('  loginMaxAttempts: 5\n', async (port, auth, dir, logs) => {
    const lines: string[] = [];
    for (let i = 1; i <= 200; i++) {
      const pw = i === 151 ? ADMIN.password : `wrong-guess-${i}`;
      lines.push(`url = "http://127.0.0.1:${port}/login?n=${i}"`, 'header = "content-type: application/json"', `data = "${JSON.stringify({ username: 'admin', password: pw }).replace(/"/g, '\\"')}"`, 'output = "/dev/null"', 'write-out = "%{url_effective} %{http_code}\\n"', 'next');
    }
    const { writeFileSync } = await import('node:fs');
    lines.pop(); // no `next` after the last transfer
    writeFileSync(`${dir}/curl.cfg`, lines.join('\n') + '\n');
    const { stdout } = await run('curl', ['-s', '-Z', '--parallel-immediate', '--parallel-max', '200', '-K', `${dir}/curl.cfg`], { maxBuffer: 1 << 20 });
    const got = new Map(stdout.trim().split('\n').map((l) => { const [u, s] = l.split(' '); return [Number(new URL(u).searchParams.get('n')), Number(s)] as const; }));
    assert.equal(got.size, 200);
    const counts: Record<number, number> = {};
    for (const s of got.values()) counts[s] = (counts[s] ?? 0) + 1;
    assert.notEqual(got.get(151), 200, `the right password after the limit must be refused: ${JSON.stringify(counts)}`);
    assert.ok([...got.values()].every((s) => s === 401 || s === 429 || s === 503), JSON.stringify(counts));
    // every password check leaves one audit row (login or login.failed)
    assert.ok(attempts(auth) <= 5, `at most loginMaxAttempts (5) passwords checked, got ${attempts(auth)}: ${JSON.stringify(counts)}`);
    assert.equal(counts[401], attempts(auth));
    // refused attempts (429, and 503 from the per-address connection cap) are not one line each
    const refusalLines = logs().filter((l) => /rate limited|too many/.test(String(l.msg)));
    assert.ok(refusalLines.length <= 3, `refusal log lines: ${refusalLines.length}`);
  });
});

function get(port: number, path: string, opts: { localAddress?: string; method?: string; body?: string } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', localAddress: opts.localAddress, agent: false, headers: opts.body ? { 'content-type': 'application/json' } : {} }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

test('a login burst from 10 addresses does not hold up /assets (it arrives while most password checks are pending); hashing stays bounded', async (t) => {
  // 30 may wait: enough checks in line that CPU contention on a busy machine cannot explain
  // the asset arriving late, few enough to keep the test short (each check is a real scrypt)
  await withDaemon('  loginMaxQueuedHashes: 30\n', async (port, auth) => {
    let checked = 0; // answers after a password check (401), as opposed to quick refusals
    let firstDone!: () => void;
    const first = new Promise<void>((r) => (firstDone = r));
    const burst: Promise<number>[] = [];
    for (let a = 0; a < 10; a++)
      for (let i = 0; i < 10; i++)
        burst.push(
          get(port, '/login', { method: 'POST', localAddress: `127.0.0.${10 + a}`, body: JSON.stringify({ username: 'admin', password: `guess-${a}-${i}` }) }).then((s) => {
            if (s === 401) checked++;
            firstDone();
            return s;
          }),
        );
    await first; // hashing is under way
    assert.equal(await get(port, '/assets/tiny/vmlinuz'), 200);
    const checkedWhenAssetArrived = checked;
    const statuses = await Promise.all(burst);
    // libuv's queue is FIFO: had the hashes filled the 4-thread pool, the asset's realpath would
    // have waited for all queued before it, leaving at most 3 (the threads still busy) unanswered
    t.diagnostic(`asset arrived after ${checkedWhenAssetArrived} of ${checked} password checks`);
    assert.ok(checked - checkedWhenAssetArrived >= checked / 4, `the asset arrived after ${checkedWhenAssetArrived} of ${checked} password checks: file I/O waited behind the hashes`);
    assert.ok(statuses.every((s) => s === 401 || s === 503), JSON.stringify(statuses));
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const peak = Number(/^fleetboot_web_password_hashes_peak (\d+)/m.exec(metrics)?.[1]);
    assert.ok(peak >= 1 && peak <= 2, `hashes at once: ${peak} (loginMaxConcurrentHashes 2)`);
    assert.equal(statuses.filter((s) => s === 401).length, attempts(auth));
  });
});
