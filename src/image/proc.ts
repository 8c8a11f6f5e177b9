// Child processes of a build: each runs in its own process group (so a timeout or a daemon
// shutdown kills debootstrap's whole tree, not just its shell), with the last lines of its
// output kept for the failure message. And a removal that never crosses a mount point.
import { spawn, type SpawnOptions } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { resolve, sep } from 'node:path';
import { execFileSync } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

/** A failed build step; `tail` is the last lines of its log. */
export class StepError extends Error {
  constructor(
    readonly step: string,
    readonly reason: string,
    readonly tail: string = '',
  ) {
    super(`step ${step} failed: ${reason}${tail ? `\n${tail}` : ''}`);
  }
}

/** Last `max` lines of text fed in chunks. */
export class LineTail {
  private lines: string[] = [];
  private partial = '';
  constructor(private readonly max = 40) {}
  push(chunk: string, onLine?: (l: string) => void): void {
    const parts = (this.partial + chunk).split(/\r?\n/);
    this.partial = parts.pop() ?? '';
    for (const l of parts) {
      onLine?.(l);
      this.lines.push(l.length > 500 ? `${l.slice(0, 500)}…` : l);
      if (this.lines.length > this.max) this.lines.shift();
    }
  }
  text(): string {
    return [...this.lines, ...(this.partial ? [this.partial] : [])].join('\n');
  }
}

export interface RunOptions {
  step: string;
  signal: AbortSignal;
  onLine?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  /** extra log text for the failure message (e.g. debootstrap's own log file) */
  extraTail?: () => string;
  stdin?: Readable;
  stdout?: Writable;
}

/** Runs cmd to completion; rejects with a StepError naming the step (exit status or abort). */
export function runStep(cmd: string, args: string[], o: RunOptions): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    if (o.signal.aborted) return reject(new StepError(o.step, String(o.signal.reason ?? 'aborted')));
    const tail = new LineTail();
    const opts: SpawnOptions = { detached: true, stdio: [o.stdin ? 'pipe' : 'ignore', o.stdout ? 'pipe' : 'pipe', 'pipe'], env: o.env ?? process.env };
    const child = spawn(cmd, args, opts);
    let killTimer: NodeJS.Timeout | undefined;
    const kill = () => {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        /* already gone */
      }
      killTimer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }, 5000);
      killTimer.unref();
    };
    o.signal.addEventListener('abort', kill, { once: true });
    if (o.stdin) {
      o.stdin.pipe(child.stdin!);
      child.stdin!.on('error', () => {}); // the child died early: its exit status tells why
    }
    if (o.stdout) child.stdout!.pipe(o.stdout);
    else child.stdout!.on('data', (d: Buffer) => tail.push(d.toString('utf8'), o.onLine));
    child.stderr!.on('data', (d: Buffer) => tail.push(d.toString('utf8'), o.onLine));
    child.on('error', (e) => {
      o.signal.removeEventListener('abort', kill);
      reject(new StepError(o.step, `cannot run ${cmd}: ${e.message}`));
    });
    child.on('close', (code, sig) => {
      o.signal.removeEventListener('abort', kill);
      clearTimeout(killTimer);
      if (code === 0 && !o.signal.aborted) return resolvePromise();
      const extra = o.extraTail?.() ?? '';
      const text = [tail.text(), extra].filter(Boolean).join('\n');
      const why = o.signal.aborted ? String(o.signal.reason ?? 'aborted') : sig ? `${cmd} killed by ${sig}` : `${cmd} exited with status ${code}`;
      reject(new StepError(o.step, why, lastLines(text, 25)));
    });
  });
}

export function lastLines(text: string, n: number): string {
  return text.split('\n').filter((l) => l.trim() !== '').slice(-n).join('\n');
}

/** Tail of a log file, '' when absent. */
export function fileTail(path: string, n = 25): string {
  try {
    return lastLines(readFileSync(path, 'utf8').slice(-64 * 1024), n);
  } catch {
    return '';
  }
}

/** Mount points at or below dir (from /proc/self/mountinfo), deepest first. */
export function mountsBelow(dir: string): string[] {
  const base = resolve(dir);
  let info = '';
  try {
    info = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
  return info
    .split('\n')
    .map((l) => unescape(l.split(' ')[4] ?? ''))
    .filter((m) => m === base || m.startsWith(base + sep))
    .sort((a, b) => b.length - a.length);
}

/**
 * rm -rf that first detaches what a failed debootstrap may have left mounted inside the tree
 * (proc, sys, dev/pts): a recursive removal must never walk into the host's /proc or /dev.
 * Throws (removing nothing) when a mount cannot be detached.
 */
export function removeTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const m of mountsBelow(dir)) {
    try {
      execFileSync('umount', ['-l', m], { stdio: 'ignore' });
    } catch {
      /* checked below */
    }
  }
  const left = mountsBelow(dir);
  if (left.length) throw new Error(`not removing ${dir}: still mounted below it: ${left.join(', ')}`);
  rmSync(dir, { recursive: true, force: true });
}
