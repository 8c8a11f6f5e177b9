// A counting semaphore that hands a finished job's slot straight to the next waiter, so a
// newcomer can never overtake a job already in line (FIFO). Used to bound concurrent password
// hashes (web/hash-gate.ts) and BMC calls (power/service.ts).
export class Slots {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly max: () => number) {}

  /** jobs holding a slot now */
  get running(): number {
    return this.active;
  }

  /** jobs waiting for a slot */
  get queued(): number {
    return this.waiting.length;
  }

  /** true when a new job would have to wait */
  get full(): boolean {
    return this.active >= this.max();
  }

  /** Runs fn once a slot is free; `started` is called when it got one, before fn. */
  async run<T>(fn: () => Promise<T>, started?: () => void): Promise<T> {
    // the finishing job hands its slot over: `active` stays as it is
    if (this.full) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    started?.();
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}
