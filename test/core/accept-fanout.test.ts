// Several accepting descriptors on the HTTP port (src/http/accept-fanout.ts): libuv accepts
// one connection per descriptor per event-loop iteration, so a burst of connections that
// waited in the kernel's queue while the loop was busy is taken up N per iteration instead of
// one. Real clients (curl, 40 connections at once), real sockets; `ss` (iproute2) counts the
// daemon's descriptors for its listening socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { fanOutAccepts } from '../../src/http/accept-fanout.js';
import { captureLog, makeFixture, startDaemon } from '../helpers/fixture.js';

const run = promisify(execFile);

/** descriptors of this host's process(es) listening on 127.0.0.1:port, per `ss -ltnp` */
async function listeningFds(port: number): Promise<number> {
  const { stdout } = await run('ss', ['-H', '-ltnp', `sport = :${port}`]);
  return (stdout.match(/fd=\d+/g) ?? []).length;
}

/**
 * Blocks this process's event loop while 40 curl clients connect (they wait in the kernel's
 * accept queue), then lets it run and returns the most connections accepted in one iteration
 * (iterations counted by a setImmediate chain: one per check phase).
 */
async function burst(server: Server, port: number): Promise<{ maxPerIteration: number; served: number }> {
  const perIteration = new Map<number, number>();
  let iteration = 0;
  let ticking = true;
  const tick = () => {
    iteration++;
    if (ticking) setImmediate(tick);
  };
  server.on('connection', () => perIteration.set(iteration, (perIteration.get(iteration) ?? 0) + 1));
  const urls = Array.from({ length: 40 }, () => `http://127.0.0.1:${port}/`);
  const curl = spawn('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}\\n', '--parallel', '--parallel-immediate', '--parallel-max', '40', '--max-time', '20', ...urls], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  curl.stdout.on('data', (c) => (out += c));
  const exited = new Promise<void>((r) => curl.on('exit', () => r()));
  // wait (without running the loop) until all 40 are in the accept queue: ss shows Recv-Q
  const until = Date.now() + 10_000;
  for (;;) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    const q = Number(/^\S+\s+(\d+)/.exec(execFileSync('ss', ['-H', '-ltn', `sport = :${port}`]).toString())?.[1] ?? 0);
    if (q >= 40 || Date.now() > until) break;
  }
  setImmediate(tick);
  await exited;
  ticking = false;
  return { maxPerIteration: Math.max(...perIteration.values()), served: out.split('\n').filter((l) => l === '200').length };
}

for (const descriptors of [1, 8]) {
  test(`accept fan-out: ${descriptors} descriptor(s) take up a queued burst ${descriptors === 1 ? 'one connection per iteration' : 'several per iteration'}`, async () => {
    const server = createServer((_req, res) => res.end('ok\n'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const { log } = captureLog();
    const extra = await fanOutAccepts(server, descriptors - 1, log);
    try {
      assert.equal(extra.length, descriptors - 1);
      assert.equal(await listeningFds(port), descriptors);
      const b = await burst(server, port);
      assert.equal(b.served, 40, 'every client answered');
      if (descriptors === 1) assert.equal(b.maxPerIteration, 1, "libuv's one accept per descriptor per iteration (why fan-out exists)");
      else assert.ok(b.maxPerIteration > 1, `more than one accept in an iteration (most: ${b.maxPerIteration})`);
    } finally {
      for (const s of extra) s.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
    assert.equal(await listeningFds(port), 0, 'every descriptor closed');
  });
}

test('accept fan-out in the daemon: http.acceptDescriptors descriptors, limits apply to all, all closed on stop', async () => {
  const fx = makeFixture('');
  fx.write('fleetboot.yaml', readFileSync(fx.configFile, 'utf8').replace('  port: 0\n', '  port: 0\n  acceptDescriptors: 4\n  maxConnectionsPerAddress: 3\n'));
  const { d, base } = await startDaemon(fx);
  const port = d.httpPort;
  const held: Socket[] = [];
  try {
    assert.equal(await listeningFds(port), 4);
    // the per-address cap counts connections whichever descriptor accepted them: 3 kept-alive
    // connections from 127.0.0.1 (each answered once), then curl from the same address is refused
    for (let i = 0; i < 3; i++) {
      const s = connect({ port, host: '127.0.0.1' });
      held.push(s);
      s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      await new Promise((r) => s.once('data', r));
    }
    const refused = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `${base}/healthz`]);
    assert.equal(refused.stdout, '503');
    const other = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--interface', '127.0.0.2', `${base}/healthz`]);
    assert.equal(other.stdout, '200');
  } finally {
    for (const s of held) s.destroy();
    await d.stop();
    fx.cleanup();
  }
  assert.equal(await listeningFds(port), 0, 'stop closed the listening socket and every extra descriptor');
});

test('accept fan-out: a helper that does not answer in time leaves one descriptor and a warning, never a failed start', async () => {
  const server = createServer((_req, res) => res.end('ok\n'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  const { log, lines } = captureLog('warn');
  try {
    const extra = await fanOutAccepts(server, 3, log, 1); // 1 ms: no Node process starts that fast
    assert.deepEqual(extra, []);
    assert.equal(await listeningFds(port), 1);
    assert.ok(lines().some((l) => /could not add accepting descriptors/.test(String(l.msg))));
    const { stdout } = await run('curl', ['-s', `http://127.0.0.1:${port}/`]);
    assert.equal(stdout, 'ok\n');
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});
