// How long a boot asset takes to download while a login burst runs, per thread-pool size and
// login hash gate, against the same daemon idle (the peer measured in the same run).
//   npm run build && node dist/bench/login-burst.js [logins=60] [addresses=20]
// Each variant is a real `fleetboot serve` child (UV_THREADPOOL_SIZE must be set before the
// pool starts, so it cannot vary within one process). Logins are wrong passwords from
// 127.0.0.x source addresses (each address stays under the per-address limit), so every one
// costs a real scrypt; the asset is fetched 3 times during the burst.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '../src/cli.js');
const [logins = 60, addresses = 20] = process.argv.slice(2).map(Number);

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });

function http(port: number, path: string, o: { localAddress?: string; body?: string } = {}): Promise<number> {
  const t = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: o.body ? 'POST' : 'GET', localAddress: o.localAddress, agent: false, headers: o.body ? { 'content-type': 'application/json' } : {} }, (res) => {
      res.resume();
      res.on('end', () => resolve(performance.now() - t));
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

async function variant(name: string, pool: string, hashes: number, queue: number) {
  const dir = mkdtempSync(join(tmpdir(), 'fb-bench-login-'));
  mkdirSync(join(dir, 'assets/k'), { recursive: true });
  writeFileSync(join(dir, 'assets/k/vmlinuz'), Buffer.alloc(8 << 20, 7));
  const port = await freePort();
  writeFileSync(
    join(dir, 'fb.yaml'),
    `server: { address: 127.0.0.1 }\nhttp: { listen: 127.0.0.1, port: ${port}, maxConnectionsPerAddress: 1000, maxConnections: 10000 }\npaths: { db: fb.sqlite, assets: assets, templates: assets }\ntftp: { enabled: false }\ndhcp: { enabled: false }\nsyslog: { enabled: false }\nlog: { level: error }\nweb: { loginMaxConcurrentHashes: ${hashes}, loginMaxQueuedHashes: ${queue}, loginMaxAttempts: 1000 }\nroles: {}\nhosts: []\n`,
  );
  const child: ChildProcess = spawn(process.execPath, [CLI, 'serve', '--config', join(dir, 'fb.yaml')], { env: { ...process.env, UV_THREADPOOL_SIZE: pool }, stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    for (let i = 0; ; i++) {
      try {
        await http(port, '/healthz');
        break;
      } catch {
        if (i > 100) throw new Error('daemon did not start');
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const idle: number[] = [];
    for (let i = 0; i < 3; i++) idle.push(await http(port, '/assets/k/vmlinuz'));
    const burst = [];
    for (let i = 0; i < logins; i++) burst.push(http(port, '/login', { localAddress: `127.0.0.${10 + (i % addresses)}`, body: JSON.stringify({ username: 'nobody', password: `guess-${i}` }) }));
    await new Promise((r) => setTimeout(r, 50));
    const during: number[] = [];
    for (let i = 0; i < 3; i++) during.push(await http(port, '/assets/k/vmlinuz'));
    const t = performance.now();
    await Promise.all(burst);
    const median = (a: number[]) => [...a].sort((x, y) => x - y)[1];
    console.log(
      `${name.padEnd(34)} asset idle ${median(idle).toFixed(1).padStart(7)} ms  during burst ${median(during).toFixed(1).padStart(8)} ms  ratio ${(median(during) / median(idle)).toFixed(1).padStart(7)}x  (burst ended ${(performance.now() - t).toFixed(0)} ms after the last asset)`,
    );
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`${logins} wrong-password logins from ${addresses} addresses; 8 MiB asset fetched 3x during the burst (median shown)`);
await variant('pool 4, hashing unbounded (old)', '4', 64, 10_000);
await variant('pool 4, 2 hashes at once', '4', 2, 10_000);
await variant('pool 8 (default), 2 hashes at once', '8', 2, 10_000);
