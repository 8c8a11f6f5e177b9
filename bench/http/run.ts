// HTTP asset benchmark: fleetboot's /assets against nginx serving the same files, both started
// here on loopback ports (nginx in the foreground with its own prefix, config and logs — never
// the host's service), in the same run. wrk -t2 -cN on a 60 KiB and a 30 MiB asset, rounds
// interleaved with the order alternating, medians of the rounds, ratios fleetboot/nginx.
//   bench/http/run [--seconds 5] [--connections 32] [--rounds 3] [--baseline DIR]
// --baseline DIR: another fleetboot build (a checkout with dist/ built) measured alongside, to
// print before/after in one run. nginx runs with Debian's defaults that matter here:
// worker_processes auto, sendfile on, tcp_nopush on, an access log file; and the same with one
// worker (nginx-1w), a per-core comparison.
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { arg, freeTcpPort, load, median, startFleetboot, wrk, type WrkResult } from '../lib.js';

const SECONDS = arg('seconds', 5);
const CONNS = arg('connections', 32);
const ROUNDS = arg('rounds', 3);
const BASELINE = arg('baseline', '');
/** --profile DIR: the daemon under test writes a V8 CPU profile there (node --cpu-prof) */
const PROFILE = arg('profile', '');

async function startNginx(dir: string, root: string, workers: string) {
  const port = await freeTcpPort();
  for (const d of ['logs', 'tmp']) mkdirSync(join(dir, d), { recursive: true });
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `daemon off;
worker_processes ${workers};
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 1024; }
http {
  sendfile on;
  tcp_nopush on;
  types { application/octet-stream bin; }
  default_type application/octet-stream;
  access_log ${dir}/logs/access.log;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  server {
    listen 127.0.0.1:${port};
    location /assets/ { alias ${root}/; }
  }
}
`,
  );
  const proc = spawn('nginx', ['-p', dir, '-c', conf], { stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; ; i++) {
    const up = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1', () => (s.end(), r(true))).on('error', () => r(false));
    });
    if (up) break;
    if (proc.exitCode !== null || i > 100) throw new Error('nginx did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    base: `http://127.0.0.1:${port}`,
    stop: () => new Promise<void>((r) => (proc.exitCode !== null ? r() : (proc.once('exit', () => r()), proc.kill('SIGQUIT')))),
  };
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'fb-bench-http-'));
  const files = { 'small.bin': randomBytes(60 * 1024), 'large.bin': randomBytes(30 * 1024 * 1024) };
  const inventory = 'roles: {}\nhosts: []\n';
  const peers: { name: string; base: string; stop: () => Promise<void> }[] = [];
  try {
    const fb = await startFleetboot({ dir: join(dir, 'fb'), inventory, assets: files, nodeArgs: PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE}`] : [] });
    peers.push({ name: 'fleetboot', base: fb.base, stop: fb.stop });
    if (BASELINE) {
      const bl = await startFleetboot({ root: BASELINE, dir: join(dir, 'baseline'), inventory, assets: files });
      peers.push({ name: 'fb-baseline', base: bl.base, stop: bl.stop });
    }
    // nginx's workers drop root (user nobody): the tree they read must be world-readable
    chmodSync(dir, 0o755);
    for (const d of ['fb', 'fb/assets']) chmodSync(join(dir, d), 0o755);
    for (const f of Object.keys(files)) chmodSync(join(dir, 'fb/assets', f), 0o644);
    const ng = await startNginx(join(dir, 'nginx'), join(dir, 'fb/assets'), 'auto');
    peers.push({ name: 'nginx', base: ng.base, stop: ng.stop });
    // one worker: one core's worth of nginx, as fleetboot serves from one JavaScript thread
    const ng1 = await startNginx(join(dir, 'nginx-1w'), join(dir, 'fb/assets'), '1');
    peers.push({ name: 'nginx-1w', base: ng1.base, stop: ng1.stop });
    // every peer must serve the same bytes before anything is timed
    for (const p of peers) {
      for (const [f, body] of Object.entries(files)) {
        const got = Buffer.from(await (await fetch(`${p.base}/assets/${f}`)).arrayBuffer());
        if (!got.equals(body)) throw new Error(`${p.name} served wrong bytes for ${f}`);
      }
    }
    console.log(`wrk -t2 -c${CONNS} -d${SECONDS}s, ${ROUNDS} rounds interleaved (order rotating), medians; load average at start: ${load()}`);
    console.log(`${'file'.padEnd(12)}${'server'.padEnd(13)}${'req/s'.padStart(10)}${'MiB/s'.padStart(10)}${'errors'.padStart(8)}${'non-2xx'.padStart(8)}   per round req/s (load avg)`);
    for (const [f, label] of [['small.bin', '60 KiB'], ['large.bin', '30 MiB']] as const) {
      const res = new Map<string, { r: WrkResult; load: string }[]>(peers.map((p) => [p.name, []]));
      for (let i = 0; i < ROUNDS; i++) {
        const order = peers.map((_, k) => peers[(k + i) % peers.length]);
        for (const p of order) {
          const l = load();
          res.get(p.name)!.push({ r: await wrk(`${p.base}/assets/${f}`, CONNS, SECONDS), load: l });
        }
      }
      const med = new Map<string, number>();
      for (const p of peers) {
        const rs = res.get(p.name)!;
        const rps = median(rs.map((x) => x.r.rps));
        med.set(p.name, rps);
        const errs = rs.reduce((a, x) => a + x.r.errors, 0);
        const bad = rs.reduce((a, x) => a + x.r.non2xx, 0);
        med.set(`${p.name} MiB/s`, median(rs.map((x) => x.r.mibps)));
        console.log(`${label.padEnd(12)}${p.name.padEnd(13)}${rps.toFixed(0).padStart(10)}${median(rs.map((x) => x.r.mibps)).toFixed(1).padStart(10)}${String(errs).padStart(8)}${String(bad).padStart(8)}   ${rs.map((x) => `${x.r.rps.toFixed(0)} (${x.load.split(' ')[0]})`).join(', ')}`);
        if (errs || bad) console.log(`  WARNING: ${p.name} had ${errs} socket errors and ${bad} non-2xx answers: its numbers are suspect`);
      }
      // the large file: MiB/s (a handful of requests per second is too coarse a unit)
      const k = (n: string) => (f === 'large.bin' ? `${n} MiB/s` : n);
      const unit = f === 'large.bin' ? 'MiB/s' : 'req/s';
      const line = [`ratio fleetboot/nginx ${label} (${unit}): ${(med.get(k('fleetboot'))! / med.get(k('nginx'))!).toFixed(2)}`];
      line.push(`fleetboot/nginx-1w ${(med.get(k('fleetboot'))! / med.get(k('nginx-1w'))!).toFixed(2)}`);
      if (BASELINE) line.push(`baseline/nginx ${(med.get(k('fb-baseline'))! / med.get(k('nginx'))!).toFixed(2)}`);
      console.log(line.join('; '));
    }
  } finally {
    for (const p of peers) await p.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
