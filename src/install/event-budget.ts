// How many client-triggered events (progress callbacks, boot/file-fetch notes) one install run
// may store: a cap per run and a token bucket per run. A token URL (and, for boot notes, a MAC)
// is all it takes to add events, and every one is a SQLite row: without a budget one client
// grew the database by 54 MiB in 15 s. Events fleetboot writes itself (state changes) are never
// budgeted, and a refused callback that would change the run's state still changes it (see
// InstallService.progress), so a flood cannot keep a real installer's "done" out.
import type { Clock } from './service.js';

export interface EventLimits {
  /** stored client events per run, in all */
  maxPerRun: number;
  /** sustained rate per run (events per second) ... */
  perSecond: number;
  /** ... and the burst above it */
  burst: number;
}

/** How refusals name what is counted, the settings that bound it, and what still gets through. */
export interface BudgetWords {
  noun: string;
  max: string;
  rate: string;
  /** appended to the cap's message */
  capNote?: string;
}

const EVENT_WORDS: BudgetWords = { noun: 'events', max: 'install.maxEventsPerRun', rate: 'install.eventsPerSecond', capNote: ', state changes (done, failed) still apply' };

export type Admission = { ok: true } | { ok: false; reason: 'cap' | 'rate'; message: string; retryAfterSeconds?: number };

interface Slot {
  count: number;
  tokens: number;
  at: number;
}

/** runs tracked at once (open runs in practice); the oldest is dropped beyond it and recounted on return */
const MAX_RUNS = 10_000;

export class EventBudget {
  private readonly runs = new Map<number, Slot>();

  constructor(
    /** events of the budgeted kinds already stored for a run (after a restart, the count goes on) */
    private readonly stored: (runId: number) => number,
    private readonly clock: Clock,
    private readonly words: BudgetWords = EVENT_WORDS,
  ) {}

  admit(runId: number, l: EventLimits): Admission {
    const now = this.clock.now();
    let s = this.runs.get(runId);
    if (!s) {
      if (this.runs.size >= MAX_RUNS) this.runs.delete(this.runs.keys().next().value!);
      s = { count: this.stored(runId), tokens: l.burst, at: now };
      this.runs.set(runId, s);
    }
    s.tokens = Math.min(l.burst, s.tokens + ((now - s.at) / 1000) * l.perSecond);
    s.at = now;
    if (s.count >= l.maxPerRun) {
      const w = this.words;
      return { ok: false, reason: 'cap', message: `this install run has ${s.count} ${w.noun}, the most one run may store (${w.max} ${l.maxPerRun}); further ${w.noun} are refused${w.capNote ?? ''}` };
    }
    if (s.tokens < 1) {
      const wait = Math.max(1, Math.ceil((1 - s.tokens) / l.perSecond));
      return { ok: false, reason: 'rate', message: `too many ${this.words.noun} for this install run (${this.words.rate} ${l.perSecond}, burst ${l.burst}); retry in ${wait} s`, retryAfterSeconds: wait };
    }
    s.tokens -= 1;
    s.count++;
    return { ok: true };
  }

  /** the run ended: its slot is not needed any more */
  forget(runId: number): void {
    this.runs.delete(runId);
  }
}

/** The event kinds a client can cause; `state` (ours) is not, and `log` (syslog) has a budget of its own. */
export const BUDGETED_KINDS = ['progress', 'boot', 'http', 'tftp', 'dhcp'] as const;
