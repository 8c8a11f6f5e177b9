// Issue 13 hole 5: bodies that do not parse, bodies too large (plain and as gzip bombs) and
// malformed percent-escapes are the client's fault: 400/413, one warn line, never a 500, never a
// stack trace, never the install token in the log. Real daemon (UI on, package cache on), real
// clients: curl for the raw escapes and the gzip bomb, node:http for the rest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { makeFixture, startDaemon, captureLog } from '../helpers/fixture.js';

const run = promisify(execFile);

function send(port: number, method: string, path: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      let b = '';
      res.on('data', (c) => (b += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: b }));
    });
    // the server may answer 413 and close before the whole body is written
    req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'EPIPE' || (e as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(e)));
    req.end(body);
  });
}

async function curl(url: string, ...args: string[]): Promise<number> {
  const { stdout } = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--path-as-is', ...args, url]);
  return Number(stdout);
}

test('bad bodies, bombs and escapes get 400/413 with one log line, no token, no stack', async () => {
  const fx = makeFixture('', undefined, { web: '  enabled: true\n', cache: '  enabled: true\n  dir: cache\n  repos:\n    - { name: deb, url: "http://127.0.0.1:9/debian" }\n' });
  const cap = captureLog('info');
  const { d } = await startDaemon(fx, undefined, {}, { log: cap.log });
  try {
    const port = d.httpPort;
    const base = `http://127.0.0.1:${port}`;
    const [m] = d.installs.mark(['alpha'], 'test');
    assert.ok(m.ok);
    const token = d.store.run(m.runId)!.token;
    const progress = `/i/${token}/progress`;
    const json = { 'content-type': 'application/json' };
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20)); // 64 MiB of spaces, ~64 KiB on the wire
    assert.ok(bomb.length < 200 * 1024);
    const refused = () => cap.lines().filter((l) => l.msg === 'request refused');

    const cases: [string, () => Promise<number>, number][] = [
      ['invalid JSON to progress', async () => (await send(port, 'POST', progress, '{"stage": "x', json)).status, 400],
      ['invalid urlencoded charset to progress', async () => (await send(port, 'POST', progress, 'stage=x', { 'content-type': 'application/x-www-form-urlencoded; charset=ebcdic' })).status, 415],
      ['1 MiB JSON to progress', async () => (await send(port, 'POST', progress, JSON.stringify({ stage: 'x', message: 'y'.repeat(1 << 20) }), json)).status, 413],
      ['gzip bomb to progress (curl)', async () => { fx.write('bomb.gz', bomb); return curl(base + progress, '-X', 'POST', '-H', 'content-type: application/json', '-H', 'content-encoding: gzip', '--data-binary', `@${fx.dir}/bomb.gz`); }, 413],
      ['1 MiB form to /login', async () => (await send(port, 'POST', '/login', 'username=a&password=' + 'p'.repeat(1 << 20), { 'content-type': 'application/x-www-form-urlencoded' })).status, 413],
      ['gzip bomb to /login', async () => (await send(port, 'POST', '/login', bomb, { ...json, 'content-encoding': 'gzip' })).status, 413],
      ['invalid JSON to /login', async () => (await send(port, 'POST', '/login', '{', json)).status, 400],
      ['/assets/% (curl)', () => curl(`${base}/assets/%`), 400],
      ['/assets/tiny/%zz (curl)', () => curl(`${base}/assets/tiny/%zz`), 400],
      ['/i/%c0/answer (curl)', () => curl(`${base}/i/%c0/answer`), 400],
      [`/i/<token>%c0/answer`, async () => (await send(port, 'GET', `/i/${token}%c0/answer`)).status, 400],
      ['/mirror/deb/dists/%c0 (curl)', () => curl(`${base}/mirror/deb/dists/%c0`), 400],
    ];
    for (const [name, fn, want] of cases) {
      const before = refused().length;
      assert.equal(await fn(), want, name);
      assert.equal(refused().length, before + 1, `${name}: exactly one "request refused" line`);
      assert.equal(refused().at(-1)!.status, want, name);
    }
    // the daemon still works, and the right progress call is accepted
    assert.equal((await send(port, 'POST', progress, JSON.stringify({ stage: 'installing' }), json)).status, 200);

    const all = cap.lines();
    const text = JSON.stringify(all);
    assert.ok(!text.includes(token), 'the token never reaches the log');
    assert.ok(!/"stack"/.test(text), 'no stack trace for client errors');
    assert.equal(all.filter((l) => (l.level as number) >= 50).length, 0, 'nothing logged at error level');
    const paths = refused().map((l) => l.path as string).filter((p) => p.startsWith('/i/'));
    assert.ok(paths.includes(`/i/${token.slice(0, 6)}…/progress`), JSON.stringify(paths));
  } finally {
    await d.stop();
    fx.cleanup();
  }
});
