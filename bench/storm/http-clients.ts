// bench/storm's iPXE side, in helper processes: each simulated machine GETs /boot.ipxe on a
// fresh connection, and a machine marked for reinstall then fetches its kernel and initrd.
// Own processes (one for the unknown machines, one for the marked ones) because one Node
// process playing all 500 timed its answers behind its own work: receiving the installers'
// 1 GB of kernels and initrds in the same loop added up to ~100 ms to the /boot.ipxe times.
// Prints "ready", starts on "go" from stdin (all helpers at once), prints a JSON result line.
//   node http-clients.js BASE SPEC.json KERNEL_BYTES INITRD_BYTES
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { connect } from 'node:net';

interface Got { status: number; bytes: number; length: number; ms: number; body?: string; connectMs?: number; headersMs?: number }
const TIMEOUT_MS = 60_000;
const [base, specFile, kernelBytes, initrdBytes] = process.argv.slice(2);
const spec = JSON.parse(readFileSync(specFile, 'utf8')) as { mac: string; from: string; marked: boolean }[];

/** GET on a fresh connection (a booting machine has no keep-alive to reuse). */
function get(url: string, keepBody: boolean, localAddress: string): Promise<Got> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    let connectMs: number | undefined;
    const req = http.get(url, { agent: false, timeout: TIMEOUT_MS, localAddress }, (res) => {
      const headersMs = performance.now() - t0;
      let bytes = 0;
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => ((bytes += c.length), keepBody && parts.push(c)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, length: Number(res.headers['content-length'] ?? -1), ms: performance.now() - t0, body: keepBody ? Buffer.concat(parts).toString() : undefined, connectMs, headersMs }));
      res.on('error', () => resolve({ status: -1, bytes, length: -1, ms: performance.now() - t0 }));
    });
    req.on('socket', (s) => s.once('connect', () => (connectMs = performance.now() - t0)));
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: -1, bytes: 0, length: -1, ms: performance.now() - t0 }));
  });
}

/**
 * The /boot.ipxe GET of one machine: a raw socket and one pre-built request (HTTP/1.1,
 * Connection: close), as iPXE sends it. Not http.get: creating 500 ClientRequests (agent,
 * parser, timers) kept this process's own loop busy ~100 ms before the first connect
 * completed, and that wait was counted as the server's latency (docs/performance.md).
 * Checked like `get`: status 200, a Content-Length, and exactly that many body bytes.
 */
function rawGet(base: string, path: string, localAddress: string): Promise<Got> {
  const t0 = performance.now();
  const { hostname, port } = new URL(base);
  return new Promise((resolve) => {
    let connectMs: number | undefined;
    let headersMs: number | undefined;
    const parts: Buffer[] = [];
    let have = 0;
    let done = false;
    const finish = (g: Got) => {
      if (done) return;
      done = true;
      s.destroy();
      resolve({ ...g, connectMs, headersMs });
    };
    const s = connect({ host: hostname, port: Number(port), localAddress });
    s.setTimeout(TIMEOUT_MS, () => finish({ status: -1, bytes: 0, length: -1, ms: performance.now() - t0 }));
    s.once('connect', () => {
      connectMs = performance.now() - t0;
      s.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUser-Agent: iPXE/1.21.1\r\nConnection: close\r\n\r\n`);
    });
    const parse = (): Got | null => {
      const all = Buffer.concat(parts, have);
      const end = all.indexOf('\r\n\r\n');
      if (end < 0) return null;
      const head = all.subarray(0, end).toString('latin1');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? -1);
      const body = all.subarray(end + 4);
      if (length >= 0 && body.length < length) return null;
      return { status, bytes: body.length, length, ms: performance.now() - t0, body: body.toString() };
    };
    s.on('data', (c: Buffer) => {
      headersMs ??= performance.now() - t0;
      parts.push(c);
      have += c.length;
      const g = parse();
      if (g) finish(g);
    });
    s.on('error', () => {});
    s.on('close', () => finish(parse() ?? { status: -1, bytes: have, length: -1, ms: performance.now() - t0 }));
  });
}


async function machine(m: { mac: string; from: string; marked: boolean }) {
  const r = await rawGet(base, `/boot.ipxe?mac=${encodeURIComponent(m.mac)}`, m.from);
  const ok = r.status === 200 && r.body?.startsWith('#!ipxe') === true && r.bytes === r.length;
  let install: boolean | undefined;
  const k = /^kernel (\S+)/m.exec(r.body ?? '')?.[1];
  const i = /^initrd (\S+)/m.exec(r.body ?? '')?.[1];
  if (m.marked) {
    install = false;
    if (k && i) {
      const kr = await get(k, false, m.from);
      const ir = await get(i, false, m.from);
      install = kr.status === 200 && kr.bytes === Number(kernelBytes) && ir.status === 200 && ir.bytes === Number(initrdBytes);
    }
  }
  return { ms: r.ms, ok, install, status: r.status, connectMs: r.connectMs ?? NaN, headersMs: r.headersMs ?? NaN };
}

process.stdout.write('ready\n');
process.stdin.once('data', async () => {
  const res = await Promise.all(spec.map(machine));
  process.stdout.write(JSON.stringify(res) + '\n', () => process.exit(0));
});
