// Refused token URLs and traversal attempts are answered 404 AND logged (a real pino logger
// writing into a stream), and a full token never reaches a log line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { makeFixture, startDaemon, captureLog, FakeClock } from '../helpers/fixture.js';

function raw(port: number, path: string): Promise<number> {
  // node's http client sends the path byte for byte (fetch would normalise "..")
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end();
  });
}

test('refused tokens and traversal attempts are logged with the reason, never with the token', async () => {
  const fx = makeFixture('install:\n  tokenTtlSeconds: 60\n');
  fx.write('secret.txt', 'outside the root\n');
  symlinkSync(join(fx.dir, 'secret.txt'), join(fx.dir, 'assets/escape'));
  const cap = captureLog('info');
  const clock = new FakeClock();
  const { d } = await startDaemon(fx, clock, {}, { log: cap.log });
  try {
    const port = d.httpPort;
    const [m] = d.installs.mark(['alpha'], 'test');
    assert.ok(m.ok);
    const token = d.store.run(m.runId)!.token;
    const refused = () => cap.lines().filter((l) => l.msg === 'token URL refused');

    assert.equal(await raw(port, '/i/NoSuchToken123/answer'), 404);
    assert.equal(await raw(port, '/i/NoSuchToken123/progress?stage=bad%20stage!'), 404);
    clock.advance(61_000);
    assert.equal(await raw(port, `/i/${token}/answer`), 404);
    const r = refused();
    assert.equal(r.length, 3, JSON.stringify(r));
    assert.deepEqual(r.map((l) => [l.reason, l.tokenHint, l.path]), [
      ['unknown', 'NoSuch…', '/i/NoSuch…/answer'],
      ['unknown', 'NoSuch…', '/i/NoSuch…/progress'],
      ['expired', `${token.slice(0, 6)}…`, `/i/${token.slice(0, 6)}…/answer`],
    ]);
    assert.ok(r.every((l) => l.level === 40 && l.subsystem === 'http' && typeof l.ip === 'string'));

    assert.equal(await raw(port, '/assets/%2e%2e/secret.txt'), 404);
    assert.equal(await raw(port, '/assets/tiny/..%2f..%2fsecret.txt'), 404);
    assert.equal(await raw(port, '/assets/escape'), 404);
    const assets = cap.lines().filter((l) => l.msg === 'asset request refused');
    assert.deepEqual(assets.map((l) => [l.reason, l.path]), [
      ['invalid', '/assets/%2e%2e/secret.txt'],
      ['invalid', '/assets/tiny/..%2f..%2fsecret.txt'],
      ['outside', '/assets/escape'],
    ]);
    assert.ok(!JSON.stringify(cap.lines()).includes(token), 'the token itself is never logged');
  } finally {
    await d.stop();
    fx.cleanup();
  }
});

test('debug request logs cut per-run tokens from the path', async () => {
  const fx = makeFixture();
  const cap = captureLog('debug');
  const { d } = await startDaemon(fx, undefined, {}, { log: cap.log });
  try {
    const [m] = d.installs.mark(['alpha'], 'test');
    assert.ok(m.ok);
    const token = d.store.run(m.runId)!.token;
    assert.equal(await raw(d.httpPort, `/i/${token}/answer`), 200);
    const req = cap.lines().filter((l) => l.msg === 'request' && String(l.url).startsWith('/i/'));
    assert.deepEqual(req.map((l) => l.url), [`/i/${token.slice(0, 6)}…/answer`]);
    assert.ok(!JSON.stringify(cap.lines()).includes(token), 'the token itself is never logged');
  } finally {
    await d.stop();
    fx.cleanup();
  }
});
