// Issue 13 hole 2 (HTTP side): slow headers and slow bodies are dropped (headersTimeoutMs,
// requestTimeoutMs), and one client address cannot hold more than maxConnectionsPerAddress
// connections (the rest get 503 and are closed) nor all of them together more than
// maxConnections. Real daemon, raw TCP sockets for the slow senders, curl for the refused one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { makeFixture, startDaemon } from '../helpers/fixture.js';

const run = promisify(execFile);

async function daemon(limits: string) {
  const fx = makeFixture();
  const cfg = readFileSync(fx.configFile, 'utf8').replace('http:\n  listen: 127.0.0.1\n', `http:\n  listen: 127.0.0.1\n${limits}`);
  fx.write('fleetboot.yaml', cfg);
  const { d } = await startDaemon(fx);
  return { d, port: d.httpPort, async stop() { await d.stop(); fx.cleanup(); } };
}

function open(port: number, localAddress = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', localAddress }, () => resolve(s));
    s.on('error', reject);
  });
}

/** Writes `chunks` one every `everyMs` until the server closes the socket; what it sent back. */
function trickle(s: Socket, chunks: string[], everyMs: number): Promise<{ closedAfter: number; reply: string }> {
  return new Promise((resolve) => {
    let reply = '';
    let sent = 0;
    s.on('data', (c) => (reply += c));
    s.on('error', () => {});
    const t = setInterval(() => {
      if (sent < chunks.length && !s.destroyed) s.write(chunks[sent++]);
      // all sent and still open: give the server 3 s more, then give up (the test fails)
      else if (sent === chunks.length) (clearInterval(t), setTimeout(() => s.destroy(), 3000));
    }, everyMs);
    s.once('close', () => {
      clearInterval(t);
      resolve({ closedAfter: sent, reply });
    });
  });
}

test('slowloris headers and a slow body are dropped; other clients are served meanwhile', async () => {
  const h = await daemon('  headersTimeoutMs: 600\n  requestTimeoutMs: 1200\n');
  try {
    const headerBytes = 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(200);
    const slowHeaders = trickle(await open(h.port), headerBytes.split(''), 100);
    const body = 'stage=installing&message=' + 'b'.repeat(200);
    const slowBody = trickle(await open(h.port), [`POST /i/nosuchtoken/progress HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n`, ...body.split('')], 100);
    const { stdout } = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${h.port}/boot.ipxe?mac=52:54:00:aa:00:01`]);
    assert.equal(stdout, '200');
    const [a, b] = await Promise.all([slowHeaders, slowBody]);
    // closed by the server long before the client was done sending (it never would be)
    assert.ok(a.closedAfter < headerBytes.length, `slow headers: connection closed only after ${a.closedAfter} of ${headerBytes.length} bytes`);
    assert.ok(b.closedAfter < body.length + 1, `slow body: closed only after ${b.closedAfter} chunks`);
    assert.match(a.reply, /^HTTP\/1\.1 408|^$/);
    assert.match(b.reply, /^HTTP\/1\.1 408/);
  } finally {
    await h.stop();
  }
});

test('connections per client address are capped (503, closed); other addresses and the total cap', async () => {
  const h = await daemon('  maxConnectionsPerAddress: 5\n  maxConnections: 8\n');
  const socks: Socket[] = [];
  try {
    // five keep-alive connections from 127.0.0.1, each having completed one request
    for (let i = 0; i < 5; i++) {
      const s = await open(h.port);
      socks.push(s);
      s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      await new Promise((r) => s.once('data', r));
    }
    const refused = await run('curl', ['-s', '-i', `http://127.0.0.1:${h.port}/healthz`]);
    assert.match(refused.stdout, /^HTTP\/1\.1 503/);
    assert.match(refused.stdout, /Retry-After: 5/);
    // another address is not affected
    const other = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--interface', '127.0.0.2', `http://127.0.0.1:${h.port}/healthz`]);
    assert.equal(other.stdout, '200');
    // one closed, one more allowed
    socks.shift()!.destroy();
    await new Promise((r) => setTimeout(r, 100));
    const again = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${h.port}/healthz`]);
    assert.equal(again.stdout, '200');
    // total cap: 4 held from .1 + 4 from .3 = 8; the next one (from .4) is dropped by the server
    for (let i = 0; i < 4; i++) socks.push(await open(h.port, '127.0.0.3'));
    await new Promise((r) => setTimeout(r, 100));
    const over = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--interface', '127.0.0.4', '--max-time', '5', `http://127.0.0.1:${h.port}/healthz`]).catch((e: { stdout: string }) => e);
    assert.equal(over.stdout, '000', 'over the total cap the connection is closed without an answer');
  } finally {
    for (const s of socks) s.destroy();
    await h.stop();
  }
});
