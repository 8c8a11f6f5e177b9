// PowerService: what the CLI, the API, reinstall --power and rollouts call. Per try a hard
// timeout (the driver's AbortSignal fires, and the service stops waiting even if a driver
// ignored it), retries with backoff for failures that are safe to repeat, at most
// `concurrency` BMC calls at once, one call per host at a time, and a result per host: a
// dead BMC is an error on that host, never an exception or a hang of the caller.
import { Slots } from '../slots.js';
import type { Logger } from '../log.js';
import { powerFor } from './index.js';
import { PowerError, type PowerState, type PowerAction, type PowerDriver, type PowerDriverOptions, type PowerHost, type PowerResult, type SecretSource } from './types.js';

export interface PowerServiceOptions {
  /** the host's current inventory entry (read per call, so a config reload applies at once) */
  lookup: (name: string) => PowerHost | undefined;
  secrets: SecretSource;
  log: Logger;
  /** BMC calls in flight at once over all hosts (default 16) */
  concurrency?: number;
  /** calls accepted but not finished (queued + running) before new ones are refused as busy (default 1024) */
  maxPending?: number;
  /** base backoff before a retry, doubled per retry (default 500 ms) */
  backoffMs?: number;
  /** called with every result (metrics) */
  onResult?: (r: PowerResult) => void;
  /** extra driver options (executables, child env) */
  driverOptions?: Partial<Omit<PowerDriverOptions, 'log' | 'timeoutMs'>>;
}

/** What this process last learned of a host's power (status read or action done), for the UI. */
export interface KnownPower {
  state: PowerState;
  at: number;
  action: PowerAction;
  ok: boolean;
  error?: string;
}

// actions that leave the host in the same state when repeated: a timeout may be retried
const IDEMPOTENT = new Set<PowerAction>(['status', 'on', 'off']);

export class PowerService {
  private readonly log: Logger;
  private readonly slots = new Slots(() => this.o.concurrency ?? 16);
  private readonly hostChains = new Map<string, Promise<unknown>>();
  private readonly stopping = new AbortController();
  private readonly known = new Map<string, KnownPower>();
  private pending = 0;

  constructor(private readonly o: PowerServiceOptions) {
    this.log = o.log.child({ subsystem: 'power' });
  }

  /** The last power state this process saw for the host (no BMC call). */
  lastKnown(host: string): KnownPower | undefined {
    return this.known.get(host);
  }

  private remember(r: PowerResult): void {
    if (r.errorKind === 'unknown-host' || r.errorKind === 'no-power-config') return;
    const prev = this.known.get(r.host);
    // after an action the state is what it asked for; a manual instruction changes nothing
    const after: PowerState | undefined = r.instruction ? prev?.state : r.action === 'status' ? r.state : r.action === 'off' ? 'off' : 'on';
    this.known.set(r.host, { state: r.ok ? (after ?? 'unknown') : (prev?.state ?? 'unknown'), at: Date.now(), action: r.action, ok: r.ok, error: r.error });
  }

  /** BMC calls running now (never above the concurrency bound) and waiting for a slot. */
  get inFlight(): number {
    return this.slots.running;
  }
  get queued(): number {
    return this.slots.queued;
  }

  /** Aborts every call in flight (daemon shutdown); later calls fail at once. */
  stop(): void {
    this.stopping.abort();
  }

  /** One action on many hosts, concurrently within the bound; results in the order of `hosts`. */
  run(hosts: string[], action: PowerAction, signal?: AbortSignal): Promise<PowerResult[]> {
    return Promise.all([...new Set(hosts)].map((h) => this.call(h, action, signal)));
  }

  /** One action on one host. Never rejects. */
  call(host: string, action: PowerAction, signal?: AbortSignal): Promise<PowerResult> {
    // a flood of requests (API clients, a runaway script) queues no further than this
    if (this.pending >= (this.o.maxPending ?? 1024)) {
      return Promise.resolve({ host, action, ok: false, error: `too many power calls pending (${this.pending}); try again later`, errorKind: 'busy', attempts: 0, ms: 0 });
    }
    this.pending++;
    // one call per host at a time: an "off" must not overtake the "cycle" queued before it
    const prev = this.hostChains.get(host) ?? Promise.resolve();
    const next = prev.then(async () => {
      const r = await this.callNow(host, action, signal);
      this.remember(r);
      this.o.onResult?.(r);
      return r;
    });
    this.hostChains.set(host, next);
    void next.finally(() => {
      this.pending--;
      if (this.hostChains.get(host) === next) this.hostChains.delete(host);
    });
    return next;
  }

  private async callNow(name: string, action: PowerAction, signal?: AbortSignal): Promise<PowerResult> {
    const t0 = Date.now();
    const base = { host: name, action, attempts: 0 };
    const host = this.o.lookup(name);
    if (!host) return { ...base, ok: false, error: `unknown host "${name}"`, errorKind: 'unknown-host', ms: 0 };
    if (!host.power) return { ...base, ok: false, error: `host "${name}" has no power: entry in the inventory`, errorKind: 'no-power-config', ms: 0 };
    const cfg = host.power;
    const timeoutMs = Math.round(cfg.timeoutSeconds * 1000);
    let driver: PowerDriver;
    try {
      driver = powerFor(host, this.o.secrets, { ...this.o.driverOptions, log: this.log, timeoutMs });
    } catch (e) {
      return { ...base, ok: false, driver: cfg.driver, error: (e as Error).message, errorKind: 'config', ms: Date.now() - t0 };
    }
    let attempts = 0;
    let last: PowerError | undefined;
    for (;;) {
      attempts++;
      try {
        const out = await this.slots.run(() => this.once(driver, action, timeoutMs, signal));
        const r: PowerResult = { host: name, action, ok: true, driver: cfg.driver, attempts, ms: Date.now() - t0, ...out };
        this.log.info({ host: name, action, driver: cfg.driver, state: r.state, attempts, ms: r.ms, manual: !!r.instruction }, 'power action done');
        return r;
      } catch (e) {
        last = e instanceof PowerError ? e : new PowerError((e as Error).message, 'protocol');
      }
      const safe = last.retryable || (IDEMPOTENT.has(action) && (last.kind === 'timeout' || last.kind === 'unreachable'));
      const aborted = last.kind === 'aborted' || signal?.aborted || this.stopping.signal.aborted;
      if (!safe || aborted || attempts > cfg.retries) break;
      this.log.warn({ host: name, action, attempt: attempts, err: last.message }, 'power action failed; retrying');
      await sleep((this.o.backoffMs ?? 500) * 2 ** (attempts - 1), signal, this.stopping.signal);
    }
    const ms = Date.now() - t0;
    this.log.warn({ host: name, action, driver: cfg.driver, attempts, ms, kind: last.kind, err: last.message }, 'power action failed');
    return { host: name, action, ok: false, driver: cfg.driver, error: last.message, errorKind: last.kind, attempts, ms };
  }

  /** One try, bounded by timeoutMs even when the driver does not honour its signal. */
  private once(driver: PowerDriver, action: PowerAction, timeoutMs: number, outer?: AbortSignal): Promise<Pick<PowerResult, 'state' | 'instruction' | 'detail'>> {
    const ac = new AbortController();
    const signals = [this.stopping.signal, ...(outer ? [outer] : [])];
    return new Promise((resolve, reject) => {
      let done = false;
      const end = (fn: () => void) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        for (const s of signals) s.removeEventListener('abort', onAbort);
        ac.abort();
        fn();
      };
      const onAbort = () => end(() => reject(new PowerError(`${action}: aborted`, 'aborted')));
      // the driver's own timers fire first with a precise message; this one is the backstop
      const timer = setTimeout(() => end(() => reject(new PowerError(`${driver.driver} ${action}: no answer within ${timeoutMs} ms`, 'timeout'))), timeoutMs + 250);
      for (const s of signals) {
        if (s.aborted) return onAbort();
        s.addEventListener('abort', onAbort, { once: true });
      }
      const p = (async () => {
        switch (action) {
          case 'status':
            return { state: await driver.status(ac.signal) };
          case 'on':
            return driver.on(ac.signal);
          case 'off':
            return driver.off(ac.signal);
          case 'cycle':
            return driver.cycle(ac.signal);
          case 'pxe':
            return driver.pxeOnce(ac.signal);
        }
      })();
      p.then(
        (v) => end(() => resolve(v)),
        (e) => end(() => reject(e)),
      );
    });
  }
}

function sleep(ms: number, ...signals: (AbortSignal | undefined)[]): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    for (const s of signals) s?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });
}
