// Boot storm: a datacentre power event as fleetboot sees it. All at once, against one daemon
// (`fleetboot serve`, own process, production logger at info to a file):
//  - C iPXE clients GET /boot.ipxe?mac=... on fresh connections (most MACs unknown: each is
//    recorded in `discovered`; M are hosts marked for reinstall: their answer issues a token
//    and records the boot), and every marked client then fetches its kernel and initrd
//    (helper processes, http-clients.ts: the unknown machines in one, the marked in another);
//  - T TFTP clients (atftp, real processes, launched from a helper process: tftp-clients.ts)
//    fetch a 96 KiB loader.
// Checks every client was served (status, Content-Length, bytes), prints p50/p99/max of the
// /boot.ipxe answers and the daemon's peak RSS (VmHWM). Rounds alternate between builds when
// --baseline DIR names another built checkout (before/after in one run); medians of rounds.
//   bench/storm/run [--clients 500] [--marked 50] [--tftp 200] [--rounds 3] [--baseline DIR]
// Bounded: every request times out after 60 s, every atftp after 60 s.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { cpus, setPriority } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { arg, load, median, percentile, startFleetboot, type Fleetboot } from '../lib.js';

const CLIENTS = arg('clients', 500);
const MARKED = arg('marked', 50);
const TFTP = arg('tftp', 200);
const ROUNDS = arg('rounds', 3);
const BASELINE = arg('baseline', '');
const PROFILE = arg('profile', '');
/**
 * Analysis aid, default 0 (off): run the simulated clients (this process's HTTP clients, the
 * atftp helper and its atftp processes) at this nice level, the daemon at 0. On a real network
 * the clients are other machines; here they share the daemon's 2 cores, and this shows how
 * much of the latency is that sharing. Reported figures use the default.
 */
const CLIENT_NICE = arg('client-nice', 0);
/**
 * Analysis aid, default off: --split 1 gives the daemon the last CPU to itself and runs this
 * bench and all its clients on the others (taskset), as when the machines are elsewhere and
 * the daemon has a core: what is left is the daemon's own latency on one core.
 */
const SPLIT = arg('split', 0);
const here = dirname(fileURLToPath(import.meta.url));
/** the bench's own event loop: a stall here is measured as server latency */
const elDelay = monitorEventLoopDelay({ resolution: 5 });
elDelay.enable();

const KERNEL = randomBytes(4 * 1024 * 1024);
const INITRD = randomBytes(16 * 1024 * 1024);
const LOADER = randomBytes(96 * 1024);

const hex = (n: number) => n.toString(16).padStart(2, '0');
const markedMac = (i: number) => `52:54:00:01:${hex(i >> 8)}:${hex(i & 255)}`;
const unknownMac = (i: number) => `52:54:00:99:${hex(i >> 8)}:${hex(i & 255)}`;

function inventory(): string {
  const hosts = Array.from({ length: MARKED }, (_, i) => `  - { name: m${i}, macs: ["${markedMac(i)}"], roles: [r] }`);
  return `roles:\n  r:\n    kernel: r/vmlinuz\n    initrd: r/initrd.img\n    cmdline: "console=ttyS0 fb.cb={{ urls.progress }}"\n    template: t.cfg\nhosts:\n${hosts.join('\n') || '  []'}\n`;
}


/**
 * Each simulated machine connects from its own loopback address (127.1.x.y), as a real storm
 * comes from distinct hosts: the daemon's per-address connection cap (http.maxConnectionsPerAddress,
 * 64 by default) stays in force and is not what the bench measures.
 */
const clientAddress = (i: number) => `127.1.${Math.floor(i / 250)}.${(i % 250) + 1}`;

interface Result { ms: number; ok: boolean; install?: boolean; status: number; connectMs: number; headersMs: number }

/** an iPXE client helper (http-clients.ts), loaded and waiting; go() starts it */
async function httpClients(base: string, spec: { mac: string; from: string; marked: boolean }[], file: string): Promise<{ go(): Promise<Result[]> }> {
  writeFileSync(file, JSON.stringify(spec));
  const p = spawn(process.execPath, [join(here, 'http-clients.js'), base, file, String(KERNEL.length), String(INITRD.length)], { stdio: ['pipe', 'pipe', 'inherit'] });
  if (CLIENT_NICE) setPriority(p.pid!, CLIENT_NICE);
  let out = '';
  const exited = new Promise<Result[]>((resolve) => {
    p.on('exit', () => {
      const line = out.split('\n').find((l) => l.startsWith('['));
      resolve(line ? (JSON.parse(line) as Result[]) : spec.map(() => ({ ms: NaN, ok: false, status: -1, connectMs: NaN, headersMs: NaN })));
    });
  });
  await new Promise<void>((resolve) => {
    p.stdout!.on('data', (c) => {
      out += c;
      if (out.startsWith('ready\n')) resolve();
    });
    p.on('exit', () => resolve());
  });
  return { go: () => (p.stdin!.end('go\n'), exited) };
}

/** the TFTP clients, launched from their own process (tftp-clients.ts) */
function tftpClients(port: number, dir: string): Promise<number> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(here, 'tftp-clients.js'), String(port), String(TFTP), dir, String(LOADER.length)], { stdio: ['ignore', 'pipe', 'inherit'] });
    if (CLIENT_NICE) setPriority(p.pid!, CLIENT_NICE); // its atftp children inherit it
    let out = '';
    p.stdout!.on('data', (c) => (out += c));
    p.on('exit', () => {
      try {
        resolve((JSON.parse(out) as { ok: number }).ok);
      } catch {
        resolve(0);
      }
    });
  });
}

/**
 * The daemon's own view (its /metrics, scraped once after the storm): event-loop delay since
 * start (prom-client's monitorEventLoopDelay) and how many /boot.ipxe answers took longer than
 * each histogram bound from request parse to the last byte written (no accept-queue time).
 */
async function daemonView(base: string): Promise<string> {
  const text = await fetch(`${base}/metrics`).then((r) => r.text(), () => '');
  const g = (name: string) => Number(new RegExp(`^${name} ([\\d.e+-]+)$`, 'm').exec(text)?.[1]) * 1000;
  const buckets = [...text.matchAll(/^fleetboot_http_request_duration_seconds_bucket\{le="([^"]+)",route="\/boot\.ipxe"\} (\d+)$/gm)].map((m) => `<=${m[1]}s:${m[2]}`);
  return `event-loop delay p50 ${g('nodejs_eventloop_lag_p50_seconds').toFixed(0)} ms, p99 ${g('nodejs_eventloop_lag_p99_seconds').toFixed(0)} ms, max ${g('nodejs_eventloop_lag_max_seconds').toFixed(0)} ms; /boot.ipxe server-side ${buckets.join(' ')}`;
}

/**
 * The daemon's main thread: [ns on a CPU, ns runnable but waiting for one], and the same two
 * summed over its other threads (TFTP transfer thread, libuv thread pool, V8) — /proc schedstat.
 */
function schedstat(pid: number): [number, number, number, number] {
  const out: [number, number, number, number] = [0, 0, 0, 0];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const [run, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
      const i = Number(tid) === pid ? 0 : 2;
      out[i] += run;
      out[i + 1] += wait;
    }
  } catch {
    return [NaN, NaN, NaN, NaN];
  }
  return out;
}

interface Round { build: string; p50: number; p99: number; max: number; ipxeOk: number; installOk: number; tftpOk: number; allMs: number; rssMb: number; load: string }

async function storm(fb: Fleetboot, build: string, dir: string): Promise<Round> {
  const l = load();
  elDelay.reset();
  const sched0 = schedstat(fb.proc.pid!);
  // the unknown and the marked interleaved, as a real storm would be
  const step = Math.max(1, Math.floor(CLIENTS / Math.max(1, MARKED)));
  const macs = Array.from({ length: CLIENTS }, (_, i) => (i % step === 0 && i / step < MARKED ? markedMac(i / step) : unknownMac(i)));
  const groups = [macs.filter((m) => !m.startsWith('52:54:00:01')), macs.filter((m) => m.startsWith('52:54:00:01'))].filter((g) => g.length);
  const helpers = await Promise.all(groups.map((g, k) => httpClients(fb.base, g.map((mac) => ({ mac, from: clientAddress(macs.indexOf(mac)), marked: mac.startsWith('52:54:00:01') })), join(dir, `clients-${k}.json`))));
  const t0 = performance.now();
  const tftp = tftpClients(fb.tftpPort, dir);
  const res = (await Promise.all(helpers.map((h) => h.go()))).flat();
  const tftpOk = await tftp;
  const allMs = performance.now() - t0;
  const ms = res.map((r) => r.ms);
  if (process.env.BENCH_STORM_DIST) {
    // completion-time histogram (100 ms buckets): a tail at ~1 s / ~3 s is a SYN retransmission
    const h = new Map<number, number>();
    for (const x of ms) h.set(Math.floor(x / 100) * 100, (h.get(Math.floor(x / 100) * 100) ?? 0) + 1);
    console.log(`  ${build} latency histogram: ${[...h].sort((a, b) => a[0] - b[0]).map(([b, n]) => `${b}:${n}`).join(' ')}`);
  }
  if (process.env.BENCH_STORM_DIST) {
    const c = res.map((r) => r.connectMs), hd = res.map((r) => r.headersMs);
    console.log(`  ${build} client: connect p50/p99 ${percentile(c, 50).toFixed(0)}/${percentile(c, 99).toFixed(0)} ms, headers p50/p99 ${percentile(hd, 50).toFixed(0)}/${percentile(hd, 99).toFixed(0)} ms; bench event-loop delay max ${(elDelay.max / 1e6).toFixed(0)} ms`);
    const sched1 = schedstat(fb.proc.pid!);
    console.log(`  ${build} daemon: ${await daemonView(fb.base)}`);
    const ms = (i: number) => ((sched1[i] - sched0[i]) / 1e6).toFixed(0);
    console.log(`  ${build} daemon during the storm: main thread on CPU ${ms(0)} ms, runnable but waiting for a CPU ${ms(1)} ms; its other threads on CPU ${ms(2)} ms, waiting ${ms(3)} ms`);
  }
  const failed = res.filter((r) => !r.ok);
  if (failed.length) {
    const by = new Map<number, number>();
    for (const f of failed) by.set(f.status, (by.get(f.status) ?? 0) + 1);
    console.log(`  ${build}: ${failed.length} /boot.ipxe failures by status (-1 = connection error/timeout): ${[...by].map(([s, n]) => `${s}: ${n}`).join(', ')}`);
  }
  return {
    build,
    p50: percentile(ms, 50),
    p99: percentile(ms, 99),
    max: Math.max(...ms),
    ipxeOk: res.filter((r) => r.ok).length,
    installOk: res.filter((r) => r.install).length,
    tftpOk,
    allMs,
    rssMb: fb.peakRssKb() / 1024,
    load: l,
  };
}

async function main() {
  if (SPLIT) execFileSync('taskset', ['-a', '-p', '-c', `0-${cpus().length - 2}`, String(process.pid)], { stdio: 'ignore' }); // children inherit it
  const dir = mkdtempSync(join(tmpdir(), 'fb-bench-storm-'));
  const builds = [{ name: 'fleetboot', root: undefined as string | undefined }];
  if (BASELINE) builds.push({ name: 'fb-baseline', root: BASELINE });
  const rounds: Round[] = [];
  console.log(`storm: ${CLIENTS} iPXE clients at once (${MARKED} marked: + kernel ${KERNEL.length >> 20} MiB + initrd ${INITRD.length >> 20} MiB), ${TFTP} atftp clients (${LOADER.length >> 10} KiB); ${ROUNDS} rounds`);
  console.log(`${'round'.padEnd(6)}${'build'.padEnd(13)}${'p50 ms'.padStart(8)}${'p99 ms'.padStart(8)}${'max ms'.padStart(8)}${'iPXE ok'.padStart(9)}${'install'.padStart(9)}${'TFTP ok'.padStart(9)}${'all s'.padStart(7)}${'RSS MB'.padStart(8)}   load avg`);
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const order = i % 2 === 0 ? builds : [...builds].reverse();
      for (const b of order) {
        const d = join(dir, `${b.name}-${i}`);
        // a fresh daemon and database per round: the marks are new, `discovered` starts empty
        const fb = await startFleetboot({
          root: b.root, dir: d, inventory: inventory(), tftp: true,
          assets: { 'r/vmlinuz': KERNEL, 'r/initrd.img': INITRD, 'undionly.kpxe': LOADER },
          mark: Array.from({ length: MARKED }, (_, k) => `m${k}`),
          nodeArgs: PROFILE && b.name === 'fleetboot' ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE}`] : [],
        });
        // --split: the daemon (every thread) on the last CPU, this bench and its clients on the others
        if (SPLIT) execFileSync('taskset', ['-a', '-p', '-c', String(cpus().length - 1), String(fb.proc.pid)], { stdio: 'ignore' });
        try {
          const r = await storm(fb, b.name, d);
          rounds.push(r);
          console.log(`${String(i + 1).padEnd(6)}${b.name.padEnd(13)}${r.p50.toFixed(0).padStart(8)}${r.p99.toFixed(0).padStart(8)}${r.max.toFixed(0).padStart(8)}${`${r.ipxeOk}/${CLIENTS}`.padStart(9)}${`${r.installOk}/${MARKED}`.padStart(9)}${`${r.tftpOk}/${TFTP}`.padStart(9)}${(r.allMs / 1000).toFixed(1).padStart(7)}${r.rssMb.toFixed(0).padStart(8)}   ${r.load}`);
        } finally {
          await fb.stop();
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const med: Record<string, Round> = {};
  for (const b of builds) {
    const rs = rounds.filter((r) => r.build === b.name);
    const m = (k: keyof Round) => median(rs.map((r) => r[k] as number));
    med[b.name] = { ...rs[0], p50: m('p50'), p99: m('p99'), max: m('max'), allMs: m('allMs'), rssMb: m('rssMb') };
    const allServed = rs.every((r) => r.ipxeOk === CLIENTS && r.installOk === MARKED && r.tftpOk === TFTP);
    console.log(`median ${b.name}: /boot.ipxe p50 ${m('p50').toFixed(0)} ms, p99 ${m('p99').toFixed(0)} ms; peak RSS ${m('rssMb').toFixed(0)} MB; all served in every round: ${allServed ? 'yes' : 'NO'}`);
  }
  if (BASELINE) console.log(`ratio fleetboot/baseline (median): p50 ${(med.fleetboot.p50 / med['fb-baseline'].p50).toFixed(2)}, p99 ${(med.fleetboot.p99 / med['fb-baseline'].p99).toFixed(2)}`);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
