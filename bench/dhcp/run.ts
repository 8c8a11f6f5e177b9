// DHCP benchmark: perfdhcp (relay mode, DORA) against fleetboot, dnsmasq and kea-dhcp4, each
// started fresh inside the same throw-away namespace pair, in the same run, so the numbers are
// ratios against peers on this machine rather than absolute claims.
//   npm run build && node dist/bench/dhcp/run.js            (root: creates fbdhcpb-* namespaces)
//   BENCH_RATES=500,2000,0 BENCH_SECONDS=8 node dist/bench/dhcp/run.js   (0 = as fast as possible)
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
import { Lab, LogFile, requireTools, serveDhcp } from '../../test/dhcp/netns.js';

const SRV = '10.80.0.1';
const TOOL = '10.80.0.50';
const POOL = { start: '10.80.1.0', end: '10.80.200.255' }; // ~51k addresses: never exhausted
const rates = (process.env.BENCH_RATES ?? '500,2000,0').split(',').map(Number);
const seconds = Number(process.env.BENCH_SECONDS ?? 8);
const clients = Number(process.env.BENCH_CLIENTS ?? 20000);

interface Result { server: string; rate: number; achieved: number; doSent: number; doDrop: number; raSent: number; raDrop: number; avgMs: number; secs: number; leasesPerSec: number }

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

async function main() {
  requireTools('perfdhcp', 'dnsmasq', 'ip');
  const haveKea = (() => {
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
    for (const rate of rates) {
      // fleetboot
      const fb = await serveDhcp(lab, 'srv', {
        config: { enabled: true, mode: 'full', serverAddress: SRV, netmask: '255.255.0.0', pool: POOL, router: SRV, dns: [SRV], leaseSeconds: 3600, unknownPolicy: 'discover' },
        db: join(dir, `fleetboot-${rate}.sqlite`),
        logLevel: 'info',
        logSync: false,
      });
      results.push(parse(perf(lab, rate, 'fleetboot'), 'fleetboot', rate));
      await fb.stop();
      // dnsmasq
      // -k + log file: a stderr pipe nobody drains during the run would stall dnsmasq
      const dmLog = join(dir, `dnsmasq-${rate}.log`);
      const dm = lab.spawn('srv', 'dnsmasq', ['-k', `--log-facility=${dmLog}`, '-C', '/dev/null', '-p', '0', '-u', 'root', '--interface=eth0', '--bind-interfaces', '--no-ping',
        '--dhcp-authoritative', `--dhcp-range=${POOL.start},${POOL.end},255.255.0.0,1h`, '--dhcp-lease-max=100000', `--dhcp-leasefile=${join(dir, `dnsmasq-${rate}.leases`)}`,
        `--dhcp-option=6,${SRV}`]);
      await new LogFile(dmLog).waitFor(/DHCP, IP range/, 10_000);
      results.push(parse(perf(lab, rate, 'dnsmasq'), 'dnsmasq', rate));
      await lab.kill(dm);
      if (haveKea) {
        const conf = join(dir, `kea-${rate}.json`);
        writeFileSync(conf, JSON.stringify({
          Dhcp4: {
            'interfaces-config': { interfaces: ['eth0'], 'dhcp-socket-type': 'udp' },
            'lease-database': { type: 'memfile', persist: true, name: join(dir, `kea-${rate}.csv`), 'lfc-interval': 0 },
            'valid-lifetime': 3600,
            subnet4: [{ id: 1, subnet: '10.80.0.0/16', pools: [{ pool: `${POOL.start} - ${POOL.end}` }], 'option-data': [{ name: 'domain-name-servers', data: SRV }] }],
            loggers: [{ name: 'kea-dhcp4', severity: 'WARN', output_options: [{ output: join(dir, `kea-${rate}.log`) }] }],
          },
        }));
        // kea writes its pid/lock files where these point (not /run/kea, which is the host's)
        const kea = lab.spawn('srv', 'env', [`KEA_PIDFILE_DIR=${dir}`, `KEA_LOCKFILE_DIR=${dir}`, 'kea-dhcp4', '-c', conf]);
        await new Promise((r) => setTimeout(r, 1500));
        if (kea.exitCode !== null) console.error('kea-dhcp4 exited early');
        else results.push(parse(perf(lab, rate, 'kea-dhcp4'), 'kea-dhcp4', rate));
        await lab.kill(kea);
      }
    }
  } finally {
    await lab.teardown();
    rmSync(dir, { recursive: true, force: true });
  }
  const pad = (s: string | number, n: number) => String(s).padStart(n);
  console.log(`perfdhcp DORA via relay (giaddr), ${clients} simulated clients, ${seconds}s per run, options 60/93 set`);
  console.log(`${'server'.padEnd(10)} ${pad('target/s', 9)} ${pad('run s', 6)} ${pad('DORA/s', 9)} ${pad('leases/s', 9)} ${pad('DO drop%', 9)} ${pad('RA drop%', 9)} ${pad('RA avg ms', 10)} ${pad('vs dnsmasq', 11)}`);
  for (const r of results) {
    const peer = results.find((x) => x.server === 'dnsmasq' && x.rate === r.rate);
    const ratio = peer && peer.leasesPerSec > 0 ? (r.leasesPerSec / peer.leasesPerSec).toFixed(2) : '-';
    console.log(`${r.server.padEnd(10)} ${pad(r.rate || 'max', 9)} ${pad(r.secs.toFixed(2), 6)} ${pad(r.achieved.toFixed(0), 9)} ${pad(r.leasesPerSec.toFixed(0), 9)} ${pad(r.doDrop.toFixed(2), 9)} ${pad(r.raDrop.toFixed(2), 9)} ${pad(r.avgMs.toFixed(2), 10)} ${pad(ratio, 11)}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
