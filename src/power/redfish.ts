// Redfish over HTTPS (DMTF DSP0266/DSP0268): ServiceRoot -> Systems collection -> the
// ComputerSystem; PowerState to read, ComputerSystem.Reset to act, a PATCH of
// Boot.BootSourceOverrideTarget=Pxe + BootSourceOverrideEnabled=Once for one network boot.
// Certificates are verified unless the host's config says `insecure: true`; `caFile` adds a CA.
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { readFileSync } from 'node:fs';
import type { RedfishPowerConfig } from '../config/power-schema.js';
import { PowerError, type ActionOutcome, type PowerDriver, type PowerDriverOptions, type PowerState, type SecretSource } from './types.js';

const MAX_BODY = 1024 * 1024;

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: Record<string, unknown> | undefined;
}

interface SystemInfo {
  path: string;
  etag?: string;
  powerState: string | undefined;
  resetTarget: string;
  resetTypes: string[] | undefined;
}

const RETRYABLE_NET = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EPIPE']);

export class RedfishDriver implements PowerDriver {
  readonly driver = 'redfish' as const;
  private ca: Buffer | undefined;
  constructor(
    private readonly cfg: RedfishPowerConfig,
    private readonly secrets: SecretSource,
    private readonly opts: PowerDriverOptions,
  ) {}

  private base(): string {
    const a = this.cfg.address;
    return `${a.includes(':') ? `[${a}]` : a}:${this.cfg.port}`;
  }

  private req(method: string, path: string, body: unknown, auth: Record<string, string>, signal?: AbortSignal): Promise<Reply> {
    const c = this.cfg;
    if (c.caFile && !this.ca) {
      try {
        this.ca = readFileSync(c.caFile);
      } catch (e) {
        throw new PowerError(`redfish ${c.address}: cannot read caFile ${c.caFile}: ${(e as Error).message}`, 'config');
      }
    }
    // only paths the BMC gave us (@odata.id, Location) or our own: same host, never another
    if (!path.startsWith('/redfish/') || /[\s\\]|\.\.|^\/\//.test(path)) throw new PowerError(`redfish ${c.address}: refusing path ${JSON.stringify(path.slice(0, 100))}`, 'protocol');
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const what = `redfish ${method} https://${this.base()}${path}`;
    const o: RequestOptions = {
      host: c.address,
      port: c.port,
      method,
      path,
      ca: this.ca,
      rejectUnauthorized: !c.insecure,
      servername: /^[\d.]+$|:/.test(c.address) ? undefined : c.address,
      headers: { Accept: 'application/json', 'OData-Version': '4.0', ...(data ? { 'Content-Type': 'application/json', 'Content-Length': String(data.length) } : {}), ...auth },
      signal,
      agent: false,
    };
    return new Promise<Reply>((resolve, reject) => {
      let done = false;
      const fail = (e: PowerError) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        req.destroy();
        reject(e);
      };
      const timer = setTimeout(() => fail(new PowerError(`${what}: no answer within ${this.opts.timeoutMs} ms`, 'timeout')), this.opts.timeoutMs);
      const req = httpsRequest(o, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (d: Buffer) => {
          size += d.length;
          if (size > MAX_BODY) fail(new PowerError(`${what}: reply larger than ${MAX_BODY} bytes`, 'protocol'));
          else chunks.push(d);
        });
        res.on('error', (e) => fail(new PowerError(`${what}: ${e.message}`, 'unreachable')));
        res.on('end', () => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          const text = Buffer.concat(chunks).toString('utf8');
          let json: Record<string, unknown> | undefined;
          if (text.trim()) {
            try {
              const v = JSON.parse(text) as unknown;
              if (v && typeof v === 'object' && !Array.isArray(v)) json = v as Record<string, unknown>;
            } catch {
              // error pages of some BMCs are HTML: the status code still tells
            }
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, json });
        });
      });
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (e.name === 'AbortError') return fail(new PowerError(`${what}: aborted`, 'aborted'));
        const tls = /certificate|self.signed|SSL|TLS|altname/i.test(e.message) || e.code?.startsWith('ERR_TLS') || e.code?.includes('CERT');
        fail(new PowerError(`${what}: ${e.message}${tls ? ' (set caFile, or insecure: true to skip verification)' : ''}`, tls ? 'config' : 'unreachable', !!e.code && RETRYABLE_NET.has(e.code)));
      });
      req.end(data);
    });
  }

  /** Turns a non-2xx reply into a PowerError with the Redfish @Message.ExtendedInfo text. */
  private check(r: Reply, what: string): Reply {
    if (r.status >= 200 && r.status < 300) return r;
    const err = r.json?.error as { message?: string; '@Message.ExtendedInfo'?: { Message?: string }[] } | undefined;
    const info = err?.['@Message.ExtendedInfo']?.map((m) => m.Message).filter(Boolean).join('; ');
    const msg = `redfish ${this.cfg.address}: ${what}: HTTP ${r.status}${info || err?.message ? ` (${String(info || err?.message).slice(0, 300)})` : ''}`;
    if (r.status === 401 || r.status === 403) throw new PowerError(msg, 'auth');
    // 503: the service is busy and did nothing; 5xx in general may have half-acted
    throw new PowerError(msg, r.status === 503 ? 'unreachable' : 'refused', r.status === 503);
  }

  /** Runs fn with auth headers: basic, or a session created for this call and deleted after it. */
  private async withAuth<T>(signal: AbortSignal | undefined, fn: (auth: Record<string, string>) => Promise<T>): Promise<T> {
    const c = this.cfg;
    const password = c.passwordSecret ? this.secrets.get(c.passwordSecret) : '';
    if (!c.user) return fn({});
    if (c.auth === 'basic') return fn({ Authorization: `Basic ${Buffer.from(`${c.user}:${password}`).toString('base64')}` });
    const r = this.check(await this.req('POST', '/redfish/v1/SessionService/Sessions', { UserName: c.user, Password: password }, {}, signal), 'create session');
    const token = r.headers['x-auth-token'];
    if (typeof token !== 'string' || !token) throw new PowerError(`redfish ${c.address}: session created without X-Auth-Token`, 'protocol');
    const loc = typeof r.headers.location === 'string' ? r.headers.location : (r.json?.['@odata.id'] as string | undefined);
    const auth = { 'X-Auth-Token': token };
    try {
      return await fn(auth);
    } finally {
      // best effort: BMCs hold few sessions; a leaked one times out on the BMC's side
      if (loc) {
        const path = loc.replace(/^https?:\/\/[^/]+/, '');
        await this.req('DELETE', path, undefined, auth).catch(() => undefined);
      }
    }
  }

  private async system(auth: Record<string, string>, signal?: AbortSignal): Promise<SystemInfo> {
    const c = this.cfg;
    const root = this.check(await this.req('GET', '/redfish/v1/', undefined, auth, signal), 'GET service root').json ?? {};
    const sysColl = (root.Systems as { '@odata.id'?: string } | undefined)?.['@odata.id'] ?? '/redfish/v1/Systems';
    let path: string;
    if (c.systemId) path = `${sysColl.replace(/\/$/, '')}/${c.systemId}`;
    else {
      const coll = this.check(await this.req('GET', sysColl, undefined, auth, signal), 'GET Systems').json ?? {};
      const members = Array.isArray(coll.Members) ? (coll.Members as { '@odata.id'?: string }[]).map((m) => m['@odata.id']).filter((x): x is string => typeof x === 'string') : [];
      if (members.length !== 1) throw new PowerError(`redfish ${c.address}: ${members.length} systems (${members.slice(0, 5).join(', ')}); set power.systemId`, 'config');
      path = members[0];
    }
    const r = this.check(await this.req('GET', path, undefined, auth, signal), `GET ${path}`);
    const s = r.json ?? {};
    const reset = (s.Actions as Record<string, { target?: string; 'ResetType@Redfish.AllowableValues'?: string[] }> | undefined)?.['#ComputerSystem.Reset'];
    const etag = typeof r.headers.etag === 'string' ? r.headers.etag : typeof s['@odata.etag'] === 'string' ? (s['@odata.etag'] as string) : undefined;
    return {
      path,
      etag,
      powerState: typeof s.PowerState === 'string' ? s.PowerState : undefined,
      resetTarget: reset?.target ?? `${path}/Actions/ComputerSystem.Reset`,
      resetTypes: Array.isArray(reset?.['ResetType@Redfish.AllowableValues']) ? reset['ResetType@Redfish.AllowableValues'] : undefined,
    };
  }

  private async reset(sys: SystemInfo, auth: Record<string, string>, prefer: string[], signal?: AbortSignal): Promise<string> {
    // the first preferred type the BMC lists; a BMC that lists nothing gets the first one
    const type = sys.resetTypes ? prefer.find((t) => sys.resetTypes!.includes(t)) : prefer[0];
    if (!type) throw new PowerError(`redfish ${this.cfg.address}: none of ${prefer.join('/')} in ResetType@Redfish.AllowableValues (${sys.resetTypes!.join(', ')})`, 'refused');
    this.check(await this.req('POST', sys.resetTarget, { ResetType: type }, auth, signal), `Reset ${type}`);
    return type;
  }

  status(signal?: AbortSignal): Promise<PowerState> {
    return this.withAuth(signal, async (auth) => mapState((await this.system(auth, signal)).powerState));
  }

  on(signal?: AbortSignal): Promise<ActionOutcome> {
    return this.withAuth(signal, async (auth) => ({ detail: `ComputerSystem.Reset ${await this.reset(await this.system(auth, signal), auth, ['On'], signal)}` }));
  }

  off(signal?: AbortSignal): Promise<ActionOutcome> {
    return this.withAuth(signal, async (auth) => ({ detail: `ComputerSystem.Reset ${await this.reset(await this.system(auth, signal), auth, ['ForceOff'], signal)}` }));
  }

  private async cycleWith(sys: SystemInfo, auth: Record<string, string>, signal?: AbortSignal): Promise<string> {
    if (mapState(sys.powerState) === 'off') return `ComputerSystem.Reset ${await this.reset(sys, auth, ['On'], signal)} (host was off)`;
    return `ComputerSystem.Reset ${await this.reset(sys, auth, ['ForceRestart', 'PowerCycle'], signal)}`;
  }

  cycle(signal?: AbortSignal): Promise<ActionOutcome> {
    return this.withAuth(signal, async (auth) => ({ detail: await this.cycleWith(await this.system(auth, signal), auth, signal) }));
  }

  pxeOnce(signal?: AbortSignal): Promise<ActionOutcome> {
    return this.withAuth(signal, async (auth) => {
      const sys = await this.system(auth, signal);
      const patch = { Boot: { BootSourceOverrideTarget: 'Pxe', BootSourceOverrideEnabled: 'Once' } };
      // some BMCs (iLO 5, newer iDRAC) answer 412 to a PATCH without If-Match
      const hdr = sys.etag ? { ...auth, 'If-Match': sys.etag } : auth;
      this.check(await this.req('PATCH', sys.path, patch, hdr, signal), 'PATCH Boot override Pxe/Once');
      return { detail: `BootSourceOverrideTarget Pxe (Once), then ${await this.cycleWith(sys, auth, signal)}` };
    });
  }
}

function mapState(s: string | undefined): PowerState {
  if (s === 'On' || s === 'PoweringOn') return 'on';
  if (s === 'Off' || s === 'PoweringOff') return 'off';
  return 'unknown';
}
