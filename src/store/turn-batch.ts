// Per-event-loop-turn write batching for request handlers that write SQLite before they
// answer (e.g. /boot.ipxe: an unknown MAC's `discovered` row, a marked host's boot event).
// run(fn) queues fn; once per turn (setImmediate, after the poll phase has read every request
// that arrived) all queued fns run inside one transaction, each in its own savepoint so one
// that throws leaves nothing behind, and the promises settle only after the commit: an answer
// is never sent before what it acknowledges is durable. A failed commit rejects every fn of
// the batch (nothing of it was stored). One commit per turn instead of one per request
// (docs/performance.md).
export type Transaction = <T>(fn: () => T) => T;

interface Job {
  fn: () => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export class TurnBatch {
  private queue: Job[] = [];
  private scheduled = false;
  /** batches committed, and jobs in them (tests, docs/performance.md) */
  readonly stats = { batches: 0, jobs: 0 };

  /** `tx` runs its argument in a transaction; nested calls must make savepoints (better-sqlite3's db.transaction does) */
  constructor(private readonly tx: Transaction, private readonly maxBatch = 256) {}

  run<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (this.queue.length >= this.maxBatch) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const jobs = this.queue;
    this.queue = [];
    if (jobs.length === 0) return;
    const results: { ok: boolean; v: unknown }[] = [];
    try {
      this.tx(() => {
        for (const j of jobs) {
          try {
            results.push({ ok: true, v: this.tx(j.fn) });
          } catch (e) {
            results.push({ ok: false, v: e });
          }
        }
      });
    } catch (e) {
      for (const j of jobs) j.reject(e);
      return;
    }
    this.stats.batches++;
    this.stats.jobs += jobs.length;
    jobs.forEach((j, i) => (results[i].ok ? j.resolve(results[i].v) : j.reject(results[i].v)));
  }
}
