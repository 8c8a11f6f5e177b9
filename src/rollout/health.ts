// The per-host health check after the installed system is up: an http(s) URL (any 2xx passes;
// {host} and {address} are replaced, URL-encoded) or a shell command (exit 0 passes; the host
// comes in the environment as FLEETBOOT_HOST / FLEETBOOT_ADDRESS, never spliced into the
// command text, so a host name can never become shell syntax). Both are bounded in time and in
// how much output they keep.
import { spawn } from 'node:child_process';

export interface HealthResult {
  ok: boolean;
  error?: string;
}

export const HEALTH_TIMEOUT_MS = 15_000;
const KEEP = 400;

/** The useful part of a fetch() failure: undici hides the socket error in `cause`. */
export function fetchError(e: unknown, timeoutMs: number): string {
  const err = e as Error & { cause?: { code?: string; message?: string; errors?: { code?: string }[] } };
  if (err.name === 'TimeoutError') return `no answer within ${timeoutMs / 1000} s`;
  return err.cause?.code ?? err.cause?.errors?.[0]?.code ?? err.cause?.message ?? err.message;
}

export function isUrl(spec: string): boolean {
  return /^https?:\/\//i.test(spec);
}

export function healthUrl(spec: string, host: { name: string; address?: string }): string {
  return spec.replace(/\{host\}/g, encodeURIComponent(host.name)).replace(/\{address\}/g, encodeURIComponent(host.address ?? host.name));
}

export async function checkHealth(spec: string, host: { name: string; address?: string }, timeoutMs = HEALTH_TIMEOUT_MS): Promise<HealthResult> {
  if (isUrl(spec)) {
    const url = healthUrl(spec, host);
    try {
      const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
      await res.body?.cancel().catch(() => {});
      return res.status >= 200 && res.status < 300 ? { ok: true } : { ok: false, error: `HTTP ${res.status}` };
    } catch (e) {
      return { ok: false, error: fetchError(e, timeoutMs) };
    }
  }
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', spec], {
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', FLEETBOOT_HOST: host.name, FLEETBOOT_ADDRESS: host.address ?? '' },
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    let err = '';
    child.stderr.on('data', (b: Buffer) => {
      err = (err + b.toString('utf8')).slice(-KEEP);
    });
    const timer = setTimeout(() => {
      // the whole process group: a check that forked must not outlive its deadline
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ ok: false, error: e.message });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ ok: true });
      else resolve({ ok: false, error: signal ? `killed (${signal}) after ${timeoutMs / 1000} s` : `exit ${code}${err.trim() ? `: ${err.trim().split('\n').slice(-2).join(' / ')}` : ''}` });
    });
  });
}
