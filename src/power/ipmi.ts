// IPMI through ipmitool -I lanplus (Debian `ipmitool`): the de-facto client, which carries two
// decades of BMC quirks (cipher suites, RAKP oddities, vendor session handling) that a native
// RMCP+ implementation would have to rediscover. The password goes to the child in the env var
// IPMI_PASSWORD read with -E, never on argv (argv is visible in ps to every local user).
import type { IpmiPowerConfig } from '../config/power-schema.js';
import { execCapped, lastLine } from './exec.js';
import { childEnv } from './secrets.js';
import { PowerError, type ActionOutcome, type PowerDriver, type PowerDriverOptions, type PowerState, type SecretSource } from './types.js';

export class IpmiDriver implements PowerDriver {
  readonly driver = 'ipmi' as const;
  constructor(
    private readonly cfg: IpmiPowerConfig,
    private readonly secrets: SecretSource,
    private readonly opts: PowerDriverOptions,
  ) {}

  private async ipmitool(args: string[], signal?: AbortSignal): Promise<string> {
    const c = this.cfg;
    const env = { ...childEnv(this.opts.env), IPMI_PASSWORD: c.passwordSecret ? this.secrets.get(c.passwordSecret) : '' };
    // -R 1 -N: ipmitool's own retransmits stay inside our timeout (the service retries whole calls)
    const timeoutS = Math.max(1, Math.floor(this.opts.timeoutMs / 2000));
    // -v: only then does ipmitool say why a session failed ("RAKP 2 HMAC is invalid", "unauthorized
    // name"); without it a wrong password and a dead BMC read the same and we would retry the former
    const argv = ['-v', '-I', 'lanplus', '-H', c.address, '-p', String(c.port), '-L', c.privilege, '-C', String(c.cipherSuite), '-R', '1', '-N', String(timeoutS), '-E'];
    if (c.user) argv.push('-U', c.user); // else ipmitool's null user
    const what = `ipmitool ${args.join(' ')} on ${c.address}:${c.port}`;
    const r = await execCapped(this.opts.ipmitool ?? 'ipmitool', [...argv, ...args], { env, timeoutMs: this.opts.timeoutMs, signal, what });
    if (r.code === 0) return r.stdout;
    const auth = /RAKP 2 HMAC is invalid|RAKP \d message indicates an error|unauthori[sz]ed|invalid (user|role)|insufficient privilege/i.exec(r.stderr);
    const msg = (auth ? `${auth[0]}: ` : '') + (lastLine(r.stderr) || lastLine(r.stdout) || `exit ${r.code}`);
    if (auth) throw new PowerError(`${what}: ${msg}`, 'auth');
    // no session was established: the BMC did nothing, a retry is safe
    if (/unable to establish|no response|activate session|connection refused/i.test(r.stderr)) throw new PowerError(`${what}: ${msg}`, 'unreachable', true);
    throw new PowerError(`${what}: ${msg}`, 'refused');
  }

  async status(signal?: AbortSignal): Promise<PowerState> {
    const out = await this.ipmitool(['chassis', 'power', 'status'], signal);
    // "Chassis Power is on" / "Chassis Power is off"
    const m = /Chassis Power is (on|off)/i.exec(out);
    return m ? (m[1].toLowerCase() as PowerState) : 'unknown';
  }

  async on(signal?: AbortSignal): Promise<ActionOutcome> {
    await this.ipmitool(['chassis', 'power', 'on'], signal);
    return { detail: 'chassis power on' };
  }

  async off(signal?: AbortSignal): Promise<ActionOutcome> {
    await this.ipmitool(['chassis', 'power', 'off'], signal);
    return { detail: 'chassis power off' };
  }

  async cycle(signal?: AbortSignal): Promise<ActionOutcome> {
    // IPMI refuses "power cycle" on a host that is off (completion code 0xd5): power it on instead
    if ((await this.status(signal)) === 'off') {
      await this.ipmitool(['chassis', 'power', 'on'], signal);
      return { detail: 'chassis power on (host was off)' };
    }
    await this.ipmitool(['chassis', 'power', 'cycle'], signal);
    return { detail: 'chassis power cycle' };
  }

  async pxeOnce(signal?: AbortSignal): Promise<ActionOutcome> {
    // without options=persistent the boot flags are valid for the next boot only
    await this.ipmitool(['chassis', 'bootdev', 'pxe'], signal);
    const c = await this.cycle(signal);
    return { detail: `chassis bootdev pxe (next boot only), then ${c.detail}` };
  }
}
