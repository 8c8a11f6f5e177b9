// DHCP benchmark: perfdhcp (relay mode, DORA) against fleetboot, dnsmasq and kea-dhcp4, each
// started fresh inside the same throw-away namespace pair, in the same run, so the numbers are
// ratios against peers on this machine rather than absolute claims.
//   npm run build && node dist/bench/dhcp/run.js            (root: creates fbdhcpb-* namespaces)
//   BENCH_RATES=500,2000,0 BENCH_SECONDS=8 node dist/bench/dhcp/run.js   (0 = as fast as possible)
//   BENCH_ROUNDS=3 (rounds per rate, server order rotating; medians), BENCH_BASELINE=DIR (another
//   built checkout's fleetboot measured alongside: before/after in one run),
//   BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" (profile the fleetboot under test),
//   BENCH_SERVERS=fleetboot,kea-dhcp4 (a subset).
// Ratios: leases/s against kea-dhcp4 (the goal: >= 0.9x at 2,000/s) and against dnsmasq.
// fleetboot pays the daemon's per-packet costs: one info log line per decision, written
// asynchronously to a file (the daemon's default level and writer), and an SQLite upsert into
// `discovered` for every request from an unknown MAC (all perfdhcp clients are unknown).
// Left out: the inventory lookups go to a Map here, not the daemon's ConfigHolder index (whose
// `reserved` check scans all hosts per pool candidate: negligible with this empty inventory,
// linear in inventory size in production); and nothing else shares the event loop (HTTP, TFTP).
// dnsmasq logs each DHCP transaction to its log file too (its default); kea logs at WARN.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { Lab, LogFile, requireTools, serveDhcp } from '../../test/dhcp/netns.js';

const SRV = '10.80.0.1';
const TOOL = '10.80.0.50';
const POOL = { start: '10.80.1.0', end: '10.80.200.255' }; // ~51k addresses: never exhausted
const rates = (process.env.BENCH_RATES ?? '500,2000').split(',').map(Number);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const baseline = process.env.BENCH_BASELINE;
const seconds = Number(process.env.BENCH_SECONDS ?? 8);
const clients = Number(process.env.BENCH_CLIENTS ?? 20000);

interface Result { load?: string; server: string; rate: number; achieved: number; doSent: number; doDrop: number; raSent: number; raDrop: number; avgMs: number; secs: number; leasesPerSec: number }

/** perfdhcp's report plus the wall-clock seconds its run took (sending period + exit wait + start-up). */
interface Run { out: string; secs: number }

function parse({ out, secs }: Run, server: string, rate: number): Result {
  const sect = (name: string) => out.slice(out.indexOf(`Statistics for: ${name}`));
  const doS = sect('DISCOVER-OFFER');
  const raS = sect('REQUEST-ACK');
  const r: Result = {
    server,
    rate,
    achieved: Number(/Rate: ([\d.]+) 4-way/.exec(out)?.[1] ?? NaN),
    doSent: Number(/sent packets: (\d+)/.exec(doS)?.[1] ?? 0),
    doDrop: Number(/drops ratio: ([\d.]+)/.exec(doS)?.[1] ?? NaN),
    raSent: Number(/sent packets: (\d+)/.exec(raS)?.[1] ?? 0),
    raDrop: Number(/drops ratio: ([\d.]+)/.exec(raS)?.[1] ?? NaN),
    avgMs: Number(/avg delay: ([\d.]+) ms/.exec(raS)?.[1] ?? NaN),
    secs,
    // ACKs over the measured run time, not the configured -p: perfdhcp also waits -W for late
    // replies and needs a moment to start, and an overloaded server's ACKs arrive late
    leasesPerSec: Number(/received packets: (\d+)/.exec(raS)?.[1] ?? 0) / secs,
  };
  return r;
}

function perf(lab: Lab, rate: number, name: string): Run {
  const args = ['-4', '-l', TOOL, '-R', String(clients), '-p', String(seconds), '-d', '1', '-W', '500000',
    '-o', `60,${Buffer.from('PXEClient:Arch:00007:UNDI:003016').toString('hex')}`, '-o', '93,0007'];
  if (rate > 0) args.push('-r', String(rate));
  args.push(SRV);
  const t0 = performance.now();
  const out = lab.exec('tool', 'perfdhcp', args, { allowFail: true, timeout: (seconds + 30) * 1000 });
  const secs = (performance.now() - t0) / 1000;
  if (process.env.BENCH_RAW) writeFileSync(join(process.env.BENCH_RAW, `${name}-${rate}.txt`), out);
  return { out, secs };
}

let haveKea = false;

async function runOne(lab: Lab, dir: string, name: string, rate: number, tag: string): Promise<Result | undefined> {
  if (name === 'fleetboot' || name === 'fb-baseline') {
    const fb = await serveDhcp(lab, 'srv', {
      config: { enabled: true, mode: 'full', serverAddress: SRV, netmask: '255.255.0.0', pool: POOL, router: SRV, dns: [SRV], leaseSeconds: 3600, unknownPolicy: 'discover' },
      db: join(dir, `${tag}.sqlite`),
      logLevel: 'info',
      logSync: false,
    }, name === 'fb-baseline' ? join(baseline!, 'dist/test/dhcp/fixtures/serve-dhcp.js') : undefined);
    try {
      return parse(perf(lab, rate, tag), name, rate);
    } finally {
      await fb.stop();
    }
  }
  if (name === 'dnsmasq') {
    // -k + log file: a stderr pipe nobody drains during the run would stall dnsmasq
    const dmLog = join(dir, `${tag}.log`);
    const dm = lab.spawn('srv', 'dnsmasq', ['-k', `--log-facility=${dmLog}`, '-C', '/dev/null', '-p', '0', '-u', 'root', '--interface=eth0', '--bind-interfaces', '--no-ping',
      '--dhcp-authoritative', `--dhcp-range=${POOL.start},${POOL.end},255.255.0.0,1h`, '--dhcp-lease-max=100000', `--dhcp-leasefile=${join(dir, `${tag}.leases`)}`,
      `--dhcp-option=6,${SRV}`]);
    try {
      await new LogFile(dmLog).waitFor(/DHCP, IP range/, 10_000);
      return parse(perf(lab, rate, tag), name, rate);
    } finally {
      await lab.kill(dm);
    }
  }
  const conf = join(dir, `${tag}.json`);
  writeFileSync(conf, JSON.stringify({
    Dhcp4: {
      'interfaces-config': { interfaces: ['eth0'], 'dhcp-socket-type': 'udp' },
      'lease-database': { type: 'memfile', persist: true, name: join(dir, `${tag}.csv`), 'lfc-interval': 0 },
      'valid-lifetime': 3600,
      subnet4: [{ id: 1, subnet: '10.80.0.0/16', pools: [{ pool: `${POOL.start} - ${POOL.end}` }], 'option-data': [{ name: 'domain-name-servers', data: SRV }] }],
      loggers: [{ name: 'kea-dhcp4', severity: 'WARN', output_options: [{ output: join(dir, `${tag}.log`) }] }],
    },
  }));
  // kea writes its pid/lock files where these point (not /run/kea, which is the host's)
  const kea = lab.spawn('srv', 'env', [`KEA_PIDFILE_DIR=${dir}`, `KEA_LOCKFILE_DIR=${dir}`, 'kea-dhcp4', '-c', conf]);
  try {
    await new Promise((r) => setTimeout(r, 1500));
    if (kea.exitCode !== null) {
      console.error('kea-dhcp4 exited early');
      return undefined;
    }
    return parse(perf(lab, rate, tag), name, rate);
  } finally {
    await lab.kill(kea);
  }
}

async function main() {
  requireTools('perfdhcp', 'dnsmasq', 'ip');
  haveKea = (() => {
    try {
      requireTools('kea-dhcp4');
      return true;
    } catch {
      return false;
    }
  })();
  const dir = mkdtempSync(join(tmpdir(), 'fbdhcpb-'));
  const lab = new Lab('fbdhcpb');
  const results: Result[] = [];
  try {
    lab.setup([{ name: 'srv', addr: `${SRV}/16` }, { name: 'tool', addr: `${TOOL}/16` }]);
    const only = process.env.BENCH_SERVERS?.split(','); // e.g. fleetboot,kea-dhcp4
    const servers = ['fleetboot', ...(baseline ? ['fb-baseline'] : []), 'dnsmasq', ...(haveKea ? ['kea-dhcp4'] : [])].filter((x) => !only || only.includes(x));
    for (const rate of rates) {
      for (let round = 0; round < rounds; round++) {
        // rotate the order so a busy moment of the shared machine does not always hit one server
        const order = servers.map((_, k) => servers[(k + round) % servers.length]);
        for (const name of order) {
          const tag = `${name}-${rate}-${round}`;
          const load = loadavg()[0].toFixed(2);
          const r = await runOne(lab, dir, name, rate, tag);
          if (r) results.push({ ...r, load });
        }
      }
    }
  } finally {
    await lab.teardown();
    rmSync(dir, { recursive: true, force: true });
  }
  const pad = (s: string | number, n: number) => String(s).padStart(n);
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(`perfdhcp DORA via relay (giaddr), ${clients} simulated clients, ${seconds}s per run, options 60/93 set; ${rounds} rounds per rate, order rotating`);
  console.log('per run:');
  console.log(`${'server'.padEnd(12)} ${pad('target/s', 9)} ${pad('run s', 6)} ${pad('DORA/s', 9)} ${pad('leases/s', 9)} ${pad('DO drop%', 9)} ${pad('RA drop%', 9)} ${pad('RA avg ms', 10)} ${pad('load', 6)}`);
  for (const r of results) console.log(`${r.server.padEnd(12)} ${pad(r.rate || 'max', 9)} ${pad(r.secs.toFixed(2), 6)} ${pad(r.achieved.toFixed(0), 9)} ${pad(r.leasesPerSec.toFixed(0), 9)} ${pad(r.doDrop.toFixed(2), 9)} ${pad(r.raDrop.toFixed(2), 9)} ${pad(r.avgMs.toFixed(2), 10)} ${pad(r.load ?? '', 6)}`);
  console.log('medians:');
  console.log(`${'server'.padEnd(12)} ${pad('target/s', 9)} ${pad('leases/s', 9)} ${pad('DO drop%', 9)} ${pad('RA drop%', 9)} ${pad('RA avg ms', 10)} ${pad('vs kea', 7)} ${pad('vs dnsmasq', 11)}`);
  const m = (server: string, rate: number, k: keyof Result) => med(results.filter((x) => x.server === server && x.rate === rate).map((x) => x[k] as number));
  for (const rate of rates) {
    for (const server of [...new Set(results.map((r) => r.server))]) {
      if (!results.some((x) => x.server === server && x.rate === rate)) continue;
      const lps = m(server, rate, 'leasesPerSec');
      const vs = (peer: string) => (results.some((x) => x.server === peer && x.rate === rate) ? (lps / m(peer, rate, 'leasesPerSec')).toFixed(2) : '-');
      console.log(`${server.padEnd(12)} ${pad(rate || 'max', 9)} ${pad(lps.toFixed(0), 9)} ${pad(m(server, rate, 'doDrop').toFixed(2), 9)} ${pad(m(server, rate, 'raDrop').toFixed(2), 9)} ${pad(m(server, rate, 'avgMs').toFixed(2), 10)} ${pad(vs('kea-dhcp4'), 7)} ${pad(vs('dnsmasq'), 11)}`);
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
