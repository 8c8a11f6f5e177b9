// The power layer's contract. Drivers (ipmi, redfish, ssh, manual) talk to one host's BMC;
// PowerService (service.ts) is what the rest of fleetboot calls: it adds per-call timeouts,
// retries, a concurrency bound and turns every failure into a per-host result, never a hang.
import type { Logger } from '../log.js';
import type { PowerConfig, PowerDriverName } from '../config/power-schema.js';

export type PowerState = 'on' | 'off' | 'unknown';
export type PowerAction = 'status' | 'on' | 'off' | 'cycle' | 'pxe';
export const POWER_ACTIONS: readonly PowerAction[] = ['status', 'on', 'off', 'cycle', 'pxe'];

/** What an action did. `instruction` set: nothing happened, a person must act (manual driver). */
export interface ActionOutcome {
  instruction?: string;
  /** what the driver did, for the run timeline ("bootdev pxe (once)", "power on: host was off") */
  detail?: string;
}

/**
 * One host's BMC. Every method takes the caller's AbortSignal: on abort the driver stops its
 * I/O (kills ipmitool/ssh, destroys the socket) and rejects. Methods throw PowerError.
 */
export interface PowerDriver {
  readonly driver: PowerDriverName;
  status(signal?: AbortSignal): Promise<PowerState>;
  on(signal?: AbortSignal): Promise<ActionOutcome>;
  off(signal?: AbortSignal): Promise<ActionOutcome>;
  /** power cycle; a host that is off is powered on */
  cycle(signal?: AbortSignal): Promise<ActionOutcome>;
  /** one-time network boot (the next boot only), then cycle (or on, when off) */
  pxeOnce(signal?: AbortSignal): Promise<ActionOutcome>;
}

/**
 * retryable: the BMC cannot have acted (connection refused, session not established, a 5xx
 * before anything was done), so trying again is safe even for cycle. A timeout is not
 * retryable for cycle: the BMC may have cycled the host and only the answer was lost.
 */
export class PowerError extends Error {
  constructor(
    message: string,
    readonly kind: 'timeout' | 'unreachable' | 'auth' | 'refused' | 'protocol' | 'config' | 'aborted',
    readonly retryable = false,
  ) {
    super(message);
  }
}

/** Secrets by name (the part after FLEETBOOT_SECRET_), read on use; see secrets.ts. */
export interface SecretSource {
  /** the secret's value; throws PowerError(kind config) naming the variable when it is unset */
  get(name: string): string;
}

export interface PowerDriverOptions {
  log: Logger;
  /** milliseconds for one BMC call (drivers use it for their own socket/process timeouts) */
  timeoutMs: number;
  /** env for child processes (ipmitool, ssh); default process.env without FLEETBOOT_SECRET_* */
  env?: NodeJS.ProcessEnv;
  /** executables, overridable for tests and odd installs */
  ipmitool?: string;
  ssh?: string;
}

/** The host fields the power layer reads (a subset of the inventory's Host). */
export interface PowerHost {
  name: string;
  power?: PowerConfig;
}

/** Per-host outcome of one PowerService call: ok or an error on that host, never a throw. */
export interface PowerResult {
  host: string;
  action: PowerAction;
  ok: boolean;
  driver?: PowerDriverName;
  /** status: the state read; other actions: absent */
  state?: PowerState;
  instruction?: string;
  detail?: string;
  error?: string;
  errorKind?: PowerError['kind'] | 'no-power-config' | 'unknown-host' | 'internal' | 'busy';
  attempts: number;
  ms: number;
}
