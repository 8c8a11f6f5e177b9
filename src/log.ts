// One pino root logger; every subsystem takes a child ({ subsystem: 'tftp' } etc.) and adds
// mac/xid/ip fields per request. Secrets never reach a log line: the redact list below
// covers the field names we use for them, as a second line of defence.
import { pino, destination, type Logger } from 'pino';

export type { Logger };

export interface LogOptions {
  level?: string;
  pretty?: boolean;
  destination?: NodeJS.WritableStream | number;
}

export function createLogger(opts: LogOptions = {}): Logger {
  const level = opts.level ?? process.env.FLEETBOOT_LOG_LEVEL ?? 'info';
  const redact = {
    paths: ['password', '*.password', 'token', '*.token', 'secret', '*.secret', 'headers.authorization', 'headers.cookie', 'rootPassword', '*.rootPassword'],
    censor: '[redacted]',
  };
  if (opts.pretty) {
    return pino({ level, redact, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } });
  }
  const dest = opts.destination;
  const stream = dest === undefined || typeof dest === 'number' ? destination({ fd: dest ?? 1, sync: false }) : dest;
  return pino({ level, redact, base: { pid: process.pid } }, stream as never);
}

/** A logger that drops everything: for tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** Shortens a token for logs: enough to correlate, useless to an attacker. */
export function tokenHint(token: string): string {
  return token.length > 6 ? `${token.slice(0, 6)}…` : '…';
}

/** A request path for logs: a per-run token URL (/i/<token>/...) keeps only the token's hint. */
export function logPath(path: string): string {
  return path.replace(/^\/i\/([^/]+)/, (_m, t: string) => `/i/${tokenHint(t)}`);
}
