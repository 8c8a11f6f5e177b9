// Runs ipmitool/ssh for a driver: argv only (no shell), a hard timeout, abort on the caller's
// signal, output capped. The child gets its own process group so a timeout kills whatever it
// started too (ssh's ProxyCommand, a wrapper script), and stdin is closed so nothing prompts.
import { spawn } from 'node:child_process';
import { PowerError } from './types.js';

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const CAP = 64 * 1024;

export function execCapped(file: string, args: string[], o: { env: NodeJS.ProcessEnv; timeoutMs: number; signal?: AbortSignal; what: string }): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    if (o.signal?.aborted) return reject(new PowerError(`${o.what}: aborted`, 'aborted'));
    let stdout = '';
    let stderr = '';
    let settled = false;
    const child = spawn(file, args, { env: o.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const kill = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    const finish = (err: PowerError | null, r?: ExecResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      if (err) {
        kill();
        reject(err);
      } else resolve(r!);
    };
    const onAbort = () => finish(new PowerError(`${o.what}: aborted`, 'aborted'));
    const timer = setTimeout(() => finish(new PowerError(`${o.what}: no answer within ${o.timeoutMs} ms`, 'timeout')), o.timeoutMs);
    o.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < CAP) stdout += d.slice(0, CAP - stdout.length);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < CAP) stderr += d.slice(0, CAP - stderr.length);
    });
    child.on('error', (e) => finish(new PowerError(`${o.what}: cannot run ${file}: ${e.message}`, 'config')));
    child.on('close', (code) => finish(null, { code, stdout, stderr }));
  });
}

/** The last non-empty line of a tool's stderr, trimmed: enough for an error message. */
export function lastLine(s: string): string {
  const lines = s.split('\n').map((l) => l.trim()).filter(Boolean);
  return (lines[lines.length - 1] ?? '').slice(0, 300);
}
