// A tiny network lab for the DHCP tests: one "switch" namespace holding a Linux bridge, and
// one namespace per node, each joined to the bridge by a veth pair (eth0 inside the node).
// Every name starts with the lab prefix (fbdhcpN), so teardown() removes exactly what we made.
// Processes started through the lab are remembered and killed (by pid) on teardown.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

export interface LabNode {
  name: string;
  /** address/prefix for eth0, e.g. 10.77.0.1/24; none for DHCP clients */
  addr?: string;
  mac?: string;
}

export function run(cmd: string, args: string[], opts: { allowFail?: boolean; timeout?: number } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: opts.timeout ?? 30_000 });
  } catch (err) {
    if (opts.allowFail) return String((err as { stdout?: string }).stdout ?? '');
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}

/** A missing client program fails the test (never skips): the test is about real clients. */
export function requireTools(...tools: string[]): void {
  const missing = tools.filter((t) => !run('sh', ['-c', `command -v ${t} || true`]).trim());
  if (missing.length) throw new Error(`missing tools: ${missing.join(', ')} (run .ci/apt-deps.sh)`);
}

export class Lab {
  private readonly procs: ChildProcess[] = [];
  private readonly namespaces: string[] = [];

  constructor(readonly prefix: string) {}

  ns(node: string): string {
    return `${this.prefix}-${node}`;
  }

  setup(nodes: LabNode[]): void {
    this.removeStale();
    const br = this.ns('br');
    this.addNs(br);
    run('ip', ['-n', br, 'link', 'add', 'br0', 'type', 'bridge', 'forward_delay', '0', 'stp_state', '0']);
    run('ip', ['-n', br, 'link', 'set', 'br0', 'up']);
    for (const n of nodes) {
      const ns = this.ns(n.name);
      this.addNs(ns);
      const port = `v-${n.name}`.slice(0, 15);
      run('ip', ['-n', br, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      run('ip', ['-n', br, 'link', 'set', port, 'master', 'br0', 'up']);
      if (n.mac) run('ip', ['-n', ns, 'link', 'set', 'eth0', 'address', n.mac]);
      if (n.addr) run('ip', ['-n', ns, 'addr', 'add', n.addr, 'dev', 'eth0']);
      run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    }
  }

  private addNs(ns: string): void {
    run('ip', ['netns', 'add', ns]);
    this.namespaces.push(ns);
    run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }

  private removeStale(): void {
    const list = run('ip', ['netns', 'list'], { allowFail: true });
    for (const line of list.split('\n')) {
      const name = line.split(' ')[0];
      if (name && name.startsWith(`${this.prefix}-`)) run('ip', ['netns', 'del', name], { allowFail: true });
    }
  }

  setMac(node: string, mac: string): void {
    const ns = this.ns(node);
    run('ip', ['-n', ns, 'link', 'set', 'eth0', 'down']);
    run('ip', ['-n', ns, 'link', 'set', 'eth0', 'address', mac]);
    run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
  }

  /** Runs to completion inside a node; returns stdout (and exit status via allowFail). */
  exec(node: string, cmd: string, args: string[], opts: { allowFail?: boolean; timeout?: number } = {}): string {
    return run('ip', ['netns', 'exec', this.ns(node), cmd, ...args], opts);
  }

  /** Starts a long-running process inside a node; killed on teardown. */
  spawn(node: string, cmd: string, args: string[]): ChildProcess {
    const p = spawn('ip', ['netns', 'exec', this.ns(node), cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.procs.push(p);
    return p;
  }

  async kill(p: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (p.exitCode !== null || p.signalCode !== null) return;
    const done = new Promise<void>((res) => p.once('exit', () => res()));
    p.kill(signal);
    const t = setTimeout(() => p.kill('SIGKILL'), 5000);
    await done;
    clearTimeout(t);
  }

  async teardown(): Promise<void> {
    for (const p of this.procs) await this.kill(p).catch(() => undefined);
    // deleting a namespace also kills nothing by itself: processes were stopped above
    for (const ns of this.namespaces.reverse()) run('ip', ['netns', 'del', ns], { allowFail: true });
  }
}

/** Collects a child's stdout lines; resolves waitFor() when a line matches. */
export class Lines {
  readonly all: string[] = [];
  private waiters: { re: RegExp; resolve: (l: string) => void }[] = [];

  constructor(stream: NodeJS.ReadableStream) {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        this.all.push(line);
        this.waiters = this.waiters.filter((w) => (w.re.test(line) ? (w.resolve(line), false) : true));
      }
    });
  }

  waitFor(re: RegExp, ms = 10_000): Promise<string> {
    const hit = this.all.find((l) => re.test(l));
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timeout waiting for ${re}; last lines:\n${this.all.slice(-15).join('\n')}`)), ms);
      this.waiters.push({ re, resolve: (l) => (clearTimeout(t), resolve(l)) });
    });
  }

  json(): Record<string, unknown>[] {
    return this.all.flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  }
}

/**
 * A log file written by a child, read on demand. Children in these tests must not log to a
 * pipe: the test body blocks in execFileSync while a client runs, nobody drains the pipe, and
 * a chatty server (dnsmasq --log-dhcp, pino at info) stalls once 64 KiB are buffered.
 */
export class LogFile {
  constructor(readonly path: string) {}

  get all(): string[] {
    return existsSync(this.path) ? readFileSync(this.path, 'utf8').split('\n').filter(Boolean) : [];
  }

  async waitFor(re: RegExp, ms = 10_000): Promise<string> {
    const end = Date.now() + ms;
    for (;;) {
      const hit = this.all.find((l) => re.test(l));
      if (hit) return hit;
      if (Date.now() > end) throw new Error(`timeout waiting for ${re} in ${this.path}; last lines:\n${this.all.slice(-15).join('\n')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  json(): Record<string, unknown>[] {
    return this.all.flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  }
}

/** Path of a compiled fixture next to this file (dist/test/dhcp/fixtures/NAME.js). */
export function fixture(name: string): string {
  return new URL(`./fixtures/${name}.js`, import.meta.url).pathname;
}

export interface Served {
  proc: ChildProcess;
  out: LogFile;
  err: Lines;
  /** SIGTERM, wait for exit; returns the metrics dump the fixture prints on the way out */
  stop(): Promise<{ name: string; values: { value: number; labels: Record<string, string> }[] }[]>;
}

/** Starts fixtures/serve-dhcp.js inside a lab node and waits until it is bound. */
/** `script`: another build's serve-dhcp.js (bench/dhcp --baseline) */
export async function serveDhcp(lab: Lab, node: string, spec: { db: string; logFile?: string } & Record<string, unknown>, script = fixture('serve-dhcp')): Promise<Served> {
  const logFile = spec.logFile ?? `${spec.db}.${Date.now()}.log`;
  // BENCH_NODE_ARGS: extra node flags for the server under test (bench/dhcp: --cpu-prof ...)
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const proc = lab.spawn(node, process.execPath, [...nodeArgs, script, JSON.stringify({ ...spec, logFile })]);
  const out = new LogFile(logFile);
  const err = new Lines(proc.stderr!);
  await Promise.race([
    err.waitFor(/^READY/, 15_000),
    err.waitFor(/^FAILED/, 15_000).then((l) => Promise.reject(new Error(`${l}\n${err.all.join('\n')}`))),
  ]);
  return {
    proc,
    out,
    err,
    async stop() {
      await lab.kill(proc);
      const m = out.json().find((r) => r.metrics);
      return (m?.metrics ?? []) as never;
    },
  };
}

export function metricValue(metrics: Awaited<ReturnType<Served['stop']>>, name: string, labels: Record<string, string> = {}): number {
  const m = metrics.find((x) => x.name === name);
  return (m?.values ?? []).filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val)).reduce((a, v) => a + v.value, 0);
}
