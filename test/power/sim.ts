// Test rig for the power drivers: a QEMU VM per simulated BMC (test/fixtures/power/vmctl.py),
// the BMCs themselves (redfish_bmc.py, OpenIPMI's ipmi_sim), a witness HTTP server that sees
// the VM's network boot (iPXE chains to it through QEMU's user network), and an independent
// look at the VM over QMP, so a test checks the VM itself, not what the BMC claims.
// Every process that starts QEMU runs under `flock /tmp/fb-netns.lock` (docs/HACKING.md).
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { REPO } from '../helpers/fixture.js';
import { ensureTls } from '../../src/web/tls.js';

export const FIX = join(REPO, 'test/fixtures/power');
/** Debian's python3: python3-sushy lives in its dist-packages, not in a pyenv's */
export const PY = '/usr/bin/python3';
export const LOCK = '/tmp/fb-netns.lock';

export async function waitUntil<T>(fn: () => T | Promise<T>, ms: number, what: string, stepMs = 100): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** Records every GET the VMs' iPXE makes (`/pxe/<vm>`); answers 404 so iPXE gives up after one try. */
export class PxeWitness {
  readonly hits: string[] = [];
  private srv?: Server;
  async start(): Promise<number> {
    this.srv = createServer((req, res) => {
      this.hits.push(req.url ?? '');
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => this.srv!.listen(0, '127.0.0.1', () => r()));
    return this.port;
  }
  get port(): number {
    return (this.srv!.address() as AddressInfo).port;
  }
  count(vm: string): number {
    return this.hits.filter((h) => h === `/pxe/${vm}`).length;
  }
  async close(): Promise<void> {
    await new Promise<void>((r) => (this.srv ? this.srv.close(() => r()) : r()));
  }
}

/** A VM directory for vmctl.py: its iPXE script chains to the witness as /pxe/<name>. */
export function makeVm(name: string, witnessPort: number, qemu: string[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), `fb-power-${name}-`));
  mkdirSync(join(dir, 'tftp'));
  // QEMU's user network maps 10.0.2.2 to the host's loopback
  writeFileSync(join(dir, 'tftp/boot.ipxe'), `#!ipxe\nchain http://10.0.2.2:${witnessPort}/pxe/${name}\n`);
  writeFileSync(join(dir, 'vm.json'), JSON.stringify({ name, qemu }));
  return dir;
}

/** Starts recorded in boots.log ("... start order=c,strict=on,once=n"). */
export function boots(dir: string): string[] {
  const f = join(dir, 'boots.log');
  return existsSync(f) ? readFileSync(f, 'utf8').trim().split('\n').filter(Boolean) : [];
}

function pidAlive(dir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dir, 'qemu.pid'), 'utf8').trim());
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z') ? undefined : pid;
  } catch {
    return undefined;
  }
}

/** QMP query-status of the VM's QEMU, read by the test itself (not through any BMC). */
export function qmpStatus(dir: string, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(join(dir, 'qmp.sock'));
    let buf = '';
    let sent = 0;
    const t = setTimeout(() => (s.destroy(), reject(new Error('QMP timeout'))), timeoutMs);
    s.on('error', (e) => (clearTimeout(t), reject(e)));
    s.on('data', (d) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const msg = JSON.parse(buf.slice(0, i)) as { QMP?: unknown; return?: { status?: string }; event?: string };
        buf = buf.slice(i + 1);
        if (msg.event) continue;
        if (sent === 0) (s.write('{"execute":"qmp_capabilities"}\n'), sent++);
        else if (sent === 1) (s.write('{"execute":"query-status"}\n'), sent++);
        else {
          clearTimeout(t);
          s.end();
          resolve(msg.return?.status ?? 'unknown');
        }
      }
    });
  });
}

/** The VM as it is: "off" without a QEMU process, else QMP's run state ("running", ...). */
export async function vmState(dir: string): Promise<string> {
  if (!pidAlive(dir)) return 'off';
  try {
    return await qmpStatus(dir);
  } catch {
    return pidAlive(dir) ? 'starting' : 'off';
  }
}

/** Kills whatever QEMU the VM dir has running (test teardown). */
export function killVm(dir: string): void {
  const pid = pidAlive(dir);
  if (pid) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

/** A child process whose output lines are kept, with a wait for a matching line. */
export class Proc {
  readonly lines: string[] = [];
  readonly child: ChildProcess;
  constructor(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
    this.child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    for (const st of [this.child.stdout!, this.child.stderr!]) {
      let rest = '';
      st.setEncoding('utf8').on('data', (d: string) => {
        const parts = (rest + d).split('\n');
        rest = parts.pop()!;
        this.lines.push(...parts);
      });
    }
  }
  waitFor(re: RegExp, ms: number): Promise<RegExpMatchArray> {
    return waitUntil(() => {
      if (this.child.exitCode !== null) throw new Error(`process exited (${this.child.exitCode}): ${this.lines.slice(-10).join('\n')}`);
      for (const l of this.lines) {
        const m = re.exec(l);
        if (m) return m;
      }
      return undefined;
    }, ms, `${re}`);
  }
  /** SIGTERM to the group (the BMC stops its VM on TERM), then SIGKILL. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise<void>((r) => this.child.once('exit', () => r()));
    try {
      process.kill(-this.child.pid!, 'SIGTERM');
    } catch {
      return;
    }
    const t = setTimeout(() => {
      try {
        process.kill(-this.child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    }, 5000);
    await gone;
    clearTimeout(t);
  }
}

export interface RedfishSim {
  port: number;
  ca: string;
  dir: string;
  proc: Proc;
  requests(): string[];
  stop(): Promise<void>;
}

/** The Redfish BMC over a fresh VM, HTTPS with a certificate from a throw-away CA (ca.pem). */
export async function startRedfishSim(name: string, witness: PxeWitness, password: string): Promise<RedfishSim> {
  const dir = makeVm(name, witness.port);
  const tls = ensureTls(join(dir, 'tls'), ['localhost', '127.0.0.1']);
  writeFileSync(join(dir, 'cert.pem'), tls.cert);
  writeFileSync(join(dir, 'key.pem'), tls.key);
  const ca = join(dir, 'tls/ca.pem');
  // the lock is held while this BMC (and so its VM) lives: other checkouts wait for it
  const proc = new Proc('flock', [LOCK, PY, join(FIX, 'redfish_bmc.py'), '--dir', dir, '--port', '0', '--cert', join(dir, 'cert.pem'), '--key', join(dir, 'key.pem'), '--user', 'admin'], {
    ...process.env,
    REDFISH_BMC_PASSWORD: password,
  });
  const m = await proc.waitFor(/^listening (\d+)$/, 15 * 60_000);
  return {
    port: Number(m[1]),
    ca,
    dir,
    proc,
    requests: () => (existsSync(join(dir, 'requests.log')) ? readFileSync(join(dir, 'requests.log'), 'utf8').trim().split('\n') : []),
    stop: async () => {
      await proc.stop();
      killVm(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
