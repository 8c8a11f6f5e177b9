// Package cache benchmark: fleetboot's /mirror against apt-cacher-ng started by hand in the same
// run, both in front of the same loopback upstream (a small real repository, test/cache/repo.ts).
//  1. coalescing: 100 clients at once on a cold .deb behind a throttled upstream —
//     upstream requests/bytes and time until every client has a verified copy;
//  2. hit throughput: wrk on one cached small .deb and one cached large .deb.
// Prints absolute numbers and fleetboot/apt-cacher-ng ratios. Usage:
//   bench/cache/run [--seconds 5] [--connections 32] [--clients 100] [--rounds 3]
import { execFile, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

async function wrk(url: string): Promise<{ rps: number; mbps: number }> {
  const { stdout } = await run('wrk', ['-t2', `-c${CONNS}`, `-d${SECONDS}s`, url], { maxBuffer: 1 << 20 });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
  const m = /Transfer\/sec:\s+([\d.]+)([KMG]?B)/.exec(stdout);
  const mult = { B: 1 / 1e6, KB: 1 / 1e3, MB: 1, GB: 1e3 }[m?.[2] ?? 'MB'] ?? 1;
  const errs = /Non-2xx or 3xx responses: (\d+)/.exec(stdout);
  if (errs) throw new Error(`wrk saw ${errs[1]} error responses from ${url}`);
  return { rps, mbps: Number(m?.[1]) * mult * 1.048576 };
}

async function burst(url: string, sha256: string): Promise<{ ms: number; ok: number; bad: number }> {
  const { stdout } = await run(process.execPath, [join(here, 'clients.js'), url, String(CLIENTS), sha256], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout);
}

const fmt = (n: number, d = 1) => n.toFixed(d).padStart(10);

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

async function main() {
  const root = mkdtempSync(join(tmpdir(), 'fb-bench-cache-'));
  const repo = buildRepo(join(root, 'repo'));
  const up = await startUpstream(repo.root, await freePort()); // below 32768: see acng.ts
  const fb = await startCache({ repos: [{ name: 'debian', url: up.url }] }, undefined, join(root, 'fb'));
  const acng = await startAcng(join(root, 'acng'), up.url);
  const peers = [
    { name: 'fleetboot', base: `${fb.base}/debian` },
    { name: 'apt-cacher-ng', base: acng.base },
  ];
  try {
    const big = repo.debs.find((d) => d.pkg === 'libc6')!;
    const small = repo.debs.find((d) => d.pkg === 'hello')!;
    const rate = 8 * 1024 * 1024;
    await up.cmd(`slow ${big.path} ${rate}`);
    console.log(`upstream: loopback, ${big.path} throttled to ${rate / 1048576} MiB/s (${(big.size / 1048576).toFixed(2)} MiB)\n`);
    console.log(`1) ${CLIENTS} clients at once on the cold file`);
    console.log(`${'cache'.padEnd(15)}${'upstr.reqs'.padStart(10)}${'upstr.MiB'.padStart(10)}${'time ms'.padStart(10)}${'ok'.padStart(10)}${'failed'.padStart(10)}`);
    const co: Record<string, { reqs: number; bytes: number; ms: number }> = {};
    for (const p of peers) {
      const s0 = await up.cmd('stats');
      const r = await burst(`${p.base}/${big.path}`, big.sha256);
      const s1 = await up.cmd('stats');
      co[p.name] = { reqs: (s1.counts[big.path] ?? 0) - (s0.counts[big.path] ?? 0), bytes: s1.bodyBytes - s0.bodyBytes, ms: r.ms };
      console.log(`${p.name.padEnd(15)}${fmt(co[p.name].reqs, 0)}${fmt(co[p.name].bytes / 1048576, 2)}${fmt(r.ms, 0)}${fmt(r.ok, 0)}${fmt(r.bad, 0)}`);
    }
    await up.cmd('clear');
    console.log(`ratio fleetboot/apt-cacher-ng: time ${(co.fleetboot.ms / co['apt-cacher-ng'].ms).toFixed(2)}, upstream bytes ${(co.fleetboot.bytes / Math.max(1, co['apt-cacher-ng'].bytes)).toFixed(2)}\n`);

    console.log(`2) hits: wrk -t2 -c${CONNS} -d${SECONDS}s on a cached file (median of ${ROUNDS} interleaved rounds)`);
    console.log(`${'cache'.padEnd(15)}${'file'.padEnd(14)}${'req/s'.padStart(10)}${'MB/s'.padStart(10)}`);
    for (const f of [small, big]) {
      const runs: Record<string, { rps: number; mbps: number }[]> = { fleetboot: [], 'apt-cacher-ng': [] };
      for (const p of peers) await burst(`${p.base}/${f.path}`, f.sha256); // make sure it is cached
      // interleaved rounds, median taken: the machine is shared, neighbours come and go
      for (let i = 0; i < ROUNDS; i++) for (const p of peers) runs[p.name].push(await wrk(`${p.base}/${f.path}`));
      const res: Record<string, { rps: number; mbps: number }> = {};
      for (const p of peers) {
        const sorted = runs[p.name].sort((a, b) => a.rps - b.rps);
        res[p.name] = sorted[Math.floor(sorted.length / 2)];
        console.log(`${p.name.padEnd(15)}${`${f.pkg} ${Math.round(f.size / 1024)}K`.padEnd(14)}${fmt(res[p.name].rps)}${fmt(res[p.name].mbps)}`);
      }
      console.log(`ratio fleetboot/apt-cacher-ng (${f.pkg}): req/s ${(res.fleetboot.rps / res['apt-cacher-ng'].rps).toFixed(2)}`);
    }
    const s = fb.cache.stats();
    console.log(`\nfleetboot stats: hits=${s.hits} misses=${s.misses} coalesced=${s.coalesced} fromUpstream=${s.bytesFromUpstream} fromCache=${s.bytesFromCache}`);
  } finally {
    await acng.stop();
    await fb.close();
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
