// ssh driver: runs the configured command per action on a machine that can switch the host
// (a PDU, a hypervisor, a BMC shell) through the system `ssh` client. BatchMode: a missing key
// or unknown host key fails at once instead of prompting; ConnectTimeout bounds the connect and
// execCapped's timer bounds the command.
import type { SshPowerConfig } from '../config/power-schema.js';
import { execCapped, lastLine } from './exec.js';
import { childEnv } from './secrets.js';
import { PowerError, type ActionOutcome, type PowerDriver, type PowerDriverOptions, type PowerState } from './types.js';

type Cmd = keyof SshPowerConfig['commands'];

export class SshDriver implements PowerDriver {
  readonly driver = 'ssh' as const;
  constructor(
    private readonly cfg: SshPowerConfig,
    private readonly opts: PowerDriverOptions,
  ) {}

  private async run(cmd: Cmd, signal?: AbortSignal): Promise<string> {
    const c = this.cfg;
    const command = c.commands[cmd];
    if (!command) throw new PowerError(`ssh power of ${c.address}: no commands.${cmd} configured`, 'config');
    const connectS = Math.max(1, Math.floor(this.opts.timeoutMs / 1000));
    const args = ['-o', 'BatchMode=yes', '-o', `ConnectTimeout=${connectS}`, '-o', 'ServerAliveInterval=5', '-o', 'ServerAliveCountMax=2', '-p', String(c.port), '-T'];
    if (c.identityFile) args.push('-i', c.identityFile, '-o', 'IdentitiesOnly=yes');
    if (c.knownHostsFile) args.push('-o', `UserKnownHostsFile=${c.knownHostsFile}`, '-o', 'StrictHostKeyChecking=yes');
    if (c.user) args.push('-l', c.user);
    // "--" ends ssh's options: the address can never be read as one
    args.push('--', c.address, command);
    const what = `ssh ${c.address} ${cmd}`;
    const r = await execCapped(this.opts.ssh ?? 'ssh', args, { env: childEnv(this.opts.env), timeoutMs: this.opts.timeoutMs, signal, what });
    // 255: ssh itself failed (connect, auth, host key): the command never ran
    if (r.code === 255) throw new PowerError(`${what}: ${lastLine(r.stderr) || 'ssh failed'}`, /denied|authenticat|host key/i.test(r.stderr) ? 'auth' : 'unreachable', !/denied|authenticat|host key/i.test(r.stderr));
    if (r.code !== 0) throw new PowerError(`${what}: exit ${r.code}${lastLine(r.stderr) ? `: ${lastLine(r.stderr)}` : ''}`, 'refused');
    return r.stdout;
  }

  async status(signal?: AbortSignal): Promise<PowerState> {
    const word = (await this.run('status', signal)).trim().split(/\s+/)[0]?.toLowerCase();
    return word === 'on' || word === 'off' ? word : 'unknown';
  }

  async on(signal?: AbortSignal): Promise<ActionOutcome> {
    await this.run('on', signal);
    return { detail: 'commands.on' };
  }

  async off(signal?: AbortSignal): Promise<ActionOutcome> {
    await this.run('off', signal);
    return { detail: 'commands.off' };
  }

  async cycle(signal?: AbortSignal): Promise<ActionOutcome> {
    if (this.cfg.commands.status && (await this.status(signal)) === 'off') {
      await this.run('on', signal);
      return { detail: 'commands.on (host was off)' };
    }
    await this.run('cycle', signal);
    return { detail: 'commands.cycle' };
  }

  async pxeOnce(signal?: AbortSignal): Promise<ActionOutcome> {
    await this.run('pxe', signal);
    const c = await this.cycle(signal);
    return { detail: `commands.pxe, then ${c.detail}` };
  }
}
