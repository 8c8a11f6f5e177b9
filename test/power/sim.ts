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

/** A free port on 127.0.0.1 (udp or tcp), released for the caller to bind. */
export async function freePort(kind: 'udp' | 'tcp'): Promise<number> {
  if (kind === 'tcp') {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    const p = (s.address() as AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    return p;
  }
  const { createSocket } = await import('node:dgram');
  const u = createSocket('udp4');
  await new Promise<void>((r) => u.bind(0, '127.0.0.1', () => r()));
  const p = u.address().port;
  await new Promise<void>((r) => u.close(() => r()));
  return p;
}

export interface IpmiSim {
  port: number;
  serialPort: number;
  dir: string;
  proc: Proc;
  stop(): Promise<void>;
}

/**
 * OpenIPMI's ipmi_sim on 127.0.0.1:<udp port> (lanplus), its chassis_control program being
 * vmctl.py over a fresh VM; the VM carries QEMU's ipmi-bmc-extern device connected to the same
 * ipmi_sim's VM serial interface (the guest sees this BMC through a KCS interface).
 */
export async function startIpmiSim(name: string, witness: PxeWitness, user: string, password: string): Promise<IpmiSim> {
  const port = await freePort('udp');
  const serialPort = await freePort('tcp');
  const dir = makeVm(name, witness.port, [
    '-chardev', `socket,id=ipmi0,host=127.0.0.1,port=${serialPort},reconnect=2`,
    '-device', 'ipmi-bmc-extern,id=bmc0,chardev=ipmi0',
    '-device', 'isa-ipmi-kcs,bmc=bmc0',
  ]);
  mkdirSync(join(dir, 'state'));
  // ipmi_sim reads users from its config file; a test-only password in a temp dir
  writeFileSync(join(dir, 'lan.conf'), `name "${name}"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 ${port}
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  chassis_control "${PY} ${join(FIX, 'vmctl.py')} ${dir} chassis 0x20"
  serial 15 127.0.0.1 ${serialPort} codec VM
  user 2 true "${user}" "${password}" admin 10 none md2 md5 straight
`);
  // mc_enable: without it ipmi_sim never opens its LAN and serial sockets
  writeFileSync(join(dir, 'sim.emu'), 'mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\nsel_enable 0x20 1000 0x0a\nmc_enable 0x20\n');
  const proc = new Proc('flock', [LOCK, 'ipmi_sim', '-c', join(dir, 'lan.conf'), '-f', join(dir, 'sim.emu'), '-s', join(dir, 'state'), '-n']);
  return {
    port,
    serialPort,
    dir,
    proc,
    stop: async () => {
      await proc.stop();
      killVm(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** ESTABLISHED TCP connections to 127.0.0.1:<port> (from /proc/net/tcp; `ss` may lack netlink here). */
export function establishedTo(port: number): number {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const rows = readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1);
  // columns: sl local rem st ...; st 01 = ESTABLISHED; the client side has rem_address :port
  return rows.filter((r) => {
    const c = r.trim().split(/\s+/);
    return c[3] === '01' && c[2]?.endsWith(`:${hex}`);
  }).length;
}
