// Build progress for a person: a redrawn bar on a terminal, plain lines otherwise (CI logs,
// pipes): one line per step and one per 10% of the whole build.
import type { BuildProgress } from './build.js';

export interface ProgressSink {
  update(p: BuildProgress): void;
  /** ends the bar line (before the result or the error is printed) */
  end(): void;
}

export function bar(percent: number, width: number): string {
  const full = Math.round((Math.max(0, Math.min(100, percent)) / 100) * width);
  return `[${'#'.repeat(full)}${'-'.repeat(width - full)}]`;
}

export function progressSink(out: NodeJS.WriteStream, tty = Boolean(out.isTTY)): ProgressSink {
  let lastStep = '';
  let lastTenth = -1;
  let lastDraw = 0;
  let drawn = false;
  return {
    update(p) {
      if (tty) {
        const now = Date.now();
        if (now - lastDraw < 100 && p.step === lastStep && p.percent < 100) return;
        lastDraw = now;
        lastStep = p.step;
        const line = `${bar(p.percent, 24)} ${String(p.percent).padStart(3)}% ${p.stepIndex}/${p.steps} ${p.step}${p.detail ? `: ${p.detail}` : ''}`;
        out.write(`\r\x1b[2K${line.slice(0, Math.max(20, (out.columns || 80) - 1))}`);
        drawn = true;
        return;
      }
      if (p.step !== lastStep) {
        lastStep = p.step;
        out.write(`step ${p.stepIndex}/${p.steps} ${p.step}${p.detail ? `: ${p.detail}` : ''}\n`);
      }
      const tenth = Math.floor(p.percent / 10);
      if (tenth > lastTenth) {
        lastTenth = tenth;
        out.write(`${p.percent}% (${p.step}${p.detail ? `: ${p.detail}` : ''})\n`);
      }
    },
    end() {
      if (tty && drawn) out.write('\n');
      drawn = false;
    },
  };
}
