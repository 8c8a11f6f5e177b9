// Helpers shared by bench/http and bench/storm: a fleetboot daemon started as its own process
// (`fleetboot serve`, the production entry point and logger) from a package root — this tree,
// or another build given with --baseline to compare two versions in one run — on loopback
// ports, plus the statistics the benches print.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import net from 'node:net';
import dgram from 'node:dgram';

export const run = promisify(execFile);
/** the package root this bench was built from (dist/bench/lib.js -> ../..) */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

export const median = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : NaN);
export function percentile(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}
export const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');

export function arg(name: string, d: string): string;
export function arg(name: string, d: number): number;
export function arg(name: string, d: string | number): string | number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return d;
  return typeof d === 'number' ? Number(process.argv[i + 1]) : process.argv[i + 1];
}

export async function freeTcpPort(): Promise<number> {
  return new Promise((r, j) => {
    const s = net.createServer().once('error', j).listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => r(p));
    });
  });
}

export async function freeUdpPort(): Promise<number> {
  return new Promise((r, j) => {
    const s = dgram.createSocket('udp4').once('error', j);
    s.bind(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => r(p));
    });
  });
}

export interface Fleetboot {
  proc: ChildProcess;
  base: string;
  tftpPort: number;
  dir: string;
  /** VmHWM of the daemon process (kB): its peak resident set so far */
  peakRssKb(): number;
  stop(): Promise<void>;
}

export interface FleetbootSpec {
  /** package root holding dist/src/cli.js (default: this tree) */
  root?: string;
  dir: string;
  inventory: string;
  /** files under the assets directory (also the TFTP root) */
  assets: Record<string, Buffer>;
  /** hosts to mark for reinstall before the daemon starts */
  mark?: string[];
  tftp?: boolean;
  logLevel?: string;
  /** extra node flags for the daemon (e.g. --cpu-prof --cpu-prof-dir=DIR) */
  nodeArgs?: string[];
}

/** Writes a config into spec.dir and runs `fleetboot serve` there; the log goes to a file, as
 *  a service's journal would (a pipe nobody drains would stall the daemon). */
export async function startFleetboot(spec: FleetbootSpec): Promise<Fleetboot> {
  const root = spec.root ?? ROOT;
  const cli = join(root, 'dist/src/cli.js');
  for (const [rel, body] of Object.entries(spec.assets)) {
    mkdirSync(dirname(join(spec.dir, 'assets', rel)), { recursive: true });
    writeFileSync(join(spec.dir, 'assets', rel), body);
  }
  mkdirSync(join(spec.dir, 'templates'), { recursive: true });
  writeFileSync(join(spec.dir, 'templates/t.cfg'), 'host={{ host.name }}\n');
  writeFileSync(join(spec.dir, 'inventory.yaml'), spec.inventory);
  const port = await freeTcpPort();
  const tftpPort = await freeUdpPort();
  const cfg = join(spec.dir, 'fleetboot.yaml');
  writeFileSync(
    cfg,
    [
      'server:', '  address: 127.0.0.1', 'http:', '  listen: 127.0.0.1', `  port: ${port}`,
      'paths:', '  db: state/fb.sqlite', '  assets: assets', '  templates: templates',
      'tftp:', `  enabled: ${spec.tftp ?? false}`, '  address: 127.0.0.1', `  port: ${tftpPort}`,
      'dhcp:', '  enabled: false', 'syslog:', '  enabled: false', 'cache:', '  enabled: false', 'web:', '  enabled: false',
      'log:', `  level: ${spec.logLevel ?? 'info'}`, 'inventory: inventory.yaml', '',
    ].join('\n'),
  );
  if (spec.mark?.length) await run(process.execPath, [cli, '--config', cfg, 'reinstall', '--yes', ...spec.mark], { maxBuffer: 8 << 20 });
  const logFd = openSync(join(spec.dir, 'fleetboot.log'), 'a');
  const proc = spawn(process.execPath, [...(spec.nodeArgs ?? []), cli, '--config', cfg, 'serve'], { stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null) throw new Error(`fleetboot exited: ${readFileSync(join(spec.dir, 'fleetboot.log'), 'utf8').slice(-2000)}`);
    const ok = await fetch(`${base}/healthz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (i > 200) {
      proc.kill('SIGKILL'); // never leave a daemon behind
      throw new Error('fleetboot did not come up within 20 s');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    proc,
    base,
    tftpPort,
    dir: spec.dir,
    peakRssKb: () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'))?.[1] ?? NaN),
    stop: () =>
      new Promise<void>((r) => {
        if (proc.exitCode !== null) return r();
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
        proc.once('exit', () => (clearTimeout(t), r()));
        proc.kill('SIGTERM');
      }),
  };
}

export interface WrkResult {
  rps: number;
  mibps: number;
  errors: number;
  non2xx: number;
}

/** wrk -t2 -cN -dS: requests/s, MiB/s, socket errors, non-2xx answers. */
export async function wrk(url: string, conns: number, seconds: number): Promise<WrkResult> {
  const { stdout } = await run('wrk', ['-t2', `-c${conns}`, `-d${seconds}s`, '--timeout', '10s', url], { maxBuffer: 1 << 20, timeout: (seconds + 30) * 1000 });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
  const m = /Transfer\/sec:\s+([\d.]+)([KMG]?B)/.exec(stdout);
  const mult = { B: 1 / 1048576, KB: 1 / 1024, MB: 1, GB: 1024 }[m?.[2] ?? 'MB'] ?? 1;
  const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  return {
    rps,
    mibps: Number(m?.[1]) * mult,
    errors: se ? se.slice(1).reduce((n, x) => n + Number(x), 0) : 0,
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0),
  };
}
