// Package cache benchmark: fleetboot's /mirror against apt-cacher-ng started by hand in the same
// run, both in front of the same loopback upstream (a small real repository, test/cache/repo.ts)
// running in its own process.
//  1. coalescing: 100 clients at once on a cold .deb behind a throttled upstream — upstream
//     requests/bytes and time until every client has a verified copy. Each round starts both
//     caches cold (fresh directories), the order alternating between rounds.
//  2. hit throughput: wrk on one cached small .deb and one cached large .deb, interleaved
//     rounds with alternating order; wrk's socket errors and non-2xx answers are reported.
// Prints per-round numbers, medians and fleetboot/apt-cacher-ng ratios. Needs no root
// (apt-cacher-ng runs in the foreground on an unprivileged loopback port). Usage:
//   bench/cache/run [--seconds 5] [--connections 32] [--clients 100] [--rounds 3] [--baseline DIR]
// --baseline DIR: another built checkout's cache measured alongside in the hit rounds
// (before/after in one run). The load average is printed with every hit round.
import { execFile, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { buildRepo } from '../../test/cache/repo.js';
import { startCache } from '../../test/cache/harness.js';
import { startAcng, freePort } from './acng.js';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const arg = (k: string, d: number) => {
  const i = process.argv.indexOf(`--${k}`);
  return i > 0 ? Number(process.argv[i + 1]) : d;
};
const SECONDS = arg('seconds', 5);
const CONNS = arg('connections', 32);
const CLIENTS = arg('clients', 100);
const ROUNDS = arg('rounds', 3);
const FB = 'fleetboot';
const BL = 'fb-baseline';
const BASELINE = (() => {
  const i = process.argv.indexOf('--baseline');
  return i > 0 ? process.argv[i + 1] : '';
})();
const ACNG = 'apt-cacher-ng';

interface Wrk {
  rps: number;
  mbps: number;
  socketErrors: number;
  non2xx: number;
}

async function wrk(url: string): Promise<Wrk> {
  const { stdout } = await run('wrk', ['-t2', `-c${CONNS}`, `-d${SECONDS}s`, url], { maxBuffer: 1 << 20 });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
  const m = /Transfer\/sec:\s+([\d.]+)([KMG]?B)/.exec(stdout);
  const mult = { B: 1 / 1e6, KB: 1 / 1e3, MB: 1, GB: 1e3 }[m?.[2] ?? 'MB'] ?? 1;
  const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  const socketErrors = se ? se.slice(1).reduce((n, x) => n + Number(x), 0) : 0;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0);
  return { rps, mbps: Number(m?.[1]) * mult * 1.048576, socketErrors, non2xx };
}

async function burst(url: string, sha256: string): Promise<{ ms: number; ok: number; bad: number }> {
  const { stdout } = await run(process.execPath, [join(here, 'clients.js'), url, String(CLIENTS), sha256], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout);
}

const fmt = (n: number, d = 1) => n.toFixed(d).padStart(10);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The upstream runs in its own process (upstream-proc.ts); this is its remote control. */
async function startUpstream(root: string, port: number) {
  const proc = spawn(process.execPath, [join(here, 'upstream-proc.js'), root, String(port)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
  const next = async () => JSON.parse((await lines.next()).value as string);
  const { url } = (await next()) as { url: string };
  const cmd = async (c: string): Promise<{ bodyBytes: number; counts: Record<string, number> }> => {
    proc.stdin!.write(c + '\n');
    return next();
  };
  return { url, cmd, stop: () => (proc.stdin!.end(), new Promise((r) => proc.once('exit', r))) };
}

/** A peer on a fresh directory: its base URL and how to stop it. */
async function peer(name: string, dir: string, upstream: string): Promise<{ base: string; stop: () => Promise<unknown> }> {
  if (name === BL) {
    const h = (await import(join(BASELINE, 'dist/test/cache/harness.js'))) as { startCache: typeof startCache };
    const fb = await h.startCache({ repos: [{ name: 'debian', url: upstream }] }, undefined, dir);
    return { base: `${fb.base}/debian`, stop: () => fb.close() };
  }
  if (name === FB) {
    const fb = await startCache({ repos: [{ name: 'debian', url: upstream }] }, undefined, dir);
    return { base: `${fb.base}/debian`, stop: () => fb.close() };
  }
  const a = await startAcng(dir, upstream);
  return { base: a.base, stop: () => a.stop() };
}

async function main() {
  const root = mkdtempSync(join(tmpdir(), 'fb-bench-cache-'));
  const repo = buildRepo(join(root, 'repo'));
  const up = await startUpstream(repo.root, await freePort()); // below 32768: see acng.ts
  const order = (i: number) => (i % 2 === 0 ? [FB, ACNG] : [ACNG, FB]);
  try {
    const big = repo.debs.find((d) => d.pkg === 'libc6')!;
    const small = repo.debs.find((d) => d.pkg === 'hello')!;
    const rate = 8 * 1024 * 1024;
    await up.cmd(`slow ${big.path} ${rate}`);
    console.log(`upstream: loopback, own process, ${big.path} throttled to ${rate / 1048576} MiB/s (${(big.size / 1048576).toFixed(2)} MiB)\n`);
    console.log(`1) ${CLIENTS} clients at once on the cold file, ${ROUNDS} rounds (both caches cold each round, order alternating)`);
    console.log(`${'round'.padEnd(6)}${'cache'.padEnd(15)}${'upstr.reqs'.padStart(10)}${'upstr.MiB'.padStart(10)}${'time ms'.padStart(10)}${'ok'.padStart(10)}${'failed'.padStart(10)}`);
    const co: Record<string, { reqs: number[]; bytes: number[]; ms: number[]; bad: number }> = { [FB]: { reqs: [], bytes: [], ms: [], bad: 0 }, [ACNG]: { reqs: [], bytes: [], ms: [], bad: 0 } };
    for (let i = 0; i < ROUNDS; i++) {
      for (const name of order(i)) {
        const p = await peer(name, join(root, `cold-${name}-${i}`), up.url);
        try {
          const s0 = await up.cmd('stats');
          const r = await burst(`${p.base}/${big.path}`, big.sha256);
          const s1 = await up.cmd('stats');
          const reqs = (s1.counts[big.path] ?? 0) - (s0.counts[big.path] ?? 0);
          co[name].reqs.push(reqs);
          co[name].bytes.push(s1.bodyBytes - s0.bodyBytes);
          co[name].ms.push(r.ms);
          co[name].bad += r.bad;
          console.log(`${String(i + 1).padEnd(6)}${name.padEnd(15)}${fmt(reqs, 0)}${fmt((s1.bodyBytes - s0.bodyBytes) / 1048576, 2)}${fmt(r.ms, 0)}${fmt(r.ok, 0)}${fmt(r.bad, 0)}`);
        } finally {
          await p.stop();
        }
      }
    }
    const m = (n: string, k: 'reqs' | 'bytes' | 'ms') => median(co[n][k]);
    console.log(`median: fleetboot ${m(FB, 'ms').toFixed(0)} ms, ${m(FB, 'reqs')} upstream req(s); apt-cacher-ng ${m(ACNG, 'ms').toFixed(0)} ms, ${m(ACNG, 'reqs')} upstream req(s)`);
    console.log(`ratio fleetboot/apt-cacher-ng (median): time ${(m(FB, 'ms') / m(ACNG, 'ms')).toFixed(2)}, upstream bytes ${(m(FB, 'bytes') / Math.max(1, m(ACNG, 'bytes'))).toFixed(2)}; failed clients: fleetboot ${co[FB].bad}, apt-cacher-ng ${co[ACNG].bad}\n`);
    await up.cmd('clear');

    console.log(`2) hits: wrk -t2 -c${CONNS} -d${SECONDS}s on a cached file, ${ROUNDS} interleaved rounds (order alternating), medians`);
    const names = [FB, ...(BASELINE ? [BL] : []), ACNG];
    const warm: Record<string, Awaited<ReturnType<typeof peer>>> = {};
    for (const n of names) warm[n] = await peer(n, join(root, `hot-${n}`), up.url);
    try {
      console.log(`${'cache'.padEnd(15)}${'file'.padEnd(14)}${'req/s'.padStart(10)}${'MB/s'.padStart(10)}${'sock.err'.padStart(10)}${'non-2xx'.padStart(10)}   per round req/s (load avg)`);
      for (const f of [small, big]) {
        const runs: Record<string, (Wrk & { load: string })[]> = Object.fromEntries(names.map((n) => [n, []]));
        for (const n of names) await burst(`${warm[n].base}/${f.path}`, f.sha256); // make sure it is cached
        for (let i = 0; i < ROUNDS; i++) {
          for (const n of names.map((_, k) => names[(k + i) % names.length])) {
            const load = loadavg()[0].toFixed(2);
            runs[n].push({ ...(await wrk(`${warm[n].base}/${f.path}`)), load });
          }
        }
        const res: Record<string, number> = {};
        for (const n of names) {
          const rs = runs[n];
          res[n] = median(rs.map((r) => r.rps));
          const errs = rs.reduce((a, r) => a + r.socketErrors, 0);
          const non2xx = rs.reduce((a, r) => a + r.non2xx, 0);
          console.log(`${n.padEnd(15)}${`${f.pkg} ${Math.round(f.size / 1024)}K`.padEnd(14)}${fmt(res[n])}${fmt(median(rs.map((r) => r.mbps)))}${fmt(errs, 0)}${fmt(non2xx, 0)}   ${rs.map((r) => `${r.rps.toFixed(0)} (${r.load})`).join(' ')}`);
          if (errs || non2xx) console.log(`  WARNING: ${n} had ${errs} socket errors and ${non2xx} non-2xx answers on ${f.pkg}: its numbers are suspect`);
        }
        console.log(`ratio fleetboot/apt-cacher-ng (${f.pkg}, median req/s): ${(res[FB] / res[ACNG]).toFixed(2)}${BASELINE ? `; baseline/apt-cacher-ng ${(res[BL] / res[ACNG]).toFixed(2)}` : ''}`);
      }
    } finally {
      for (const n of names) await warm[n].stop();
    }
  } finally {
    await up.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
