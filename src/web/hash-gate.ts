// Bounds how many password hashes (scrypt, ~32 MiB and tens of ms each) run at once, and how
// many may wait. scrypt runs on libuv's thread pool, the same few threads that serve every
// fs call (boot assets, TFTP reads, the package cache): unbounded, a login burst queues
// hundreds of hashes in front of the boot path's file reads (issue 13: a kernel download
// took 80 s during 200 parallel logins). Attempts beyond active + queued are refused at once
// (the caller answers 503): a guesser gains nothing from waiting in line.
import { Slots } from '../slots.js';

export class HashBusyError extends Error {
  constructor() {
    super('too many password checks in progress');
  }
}

export class HashGate {
  private readonly slots: Slots;
  /** most hashes ever running at once (for /metrics and tests) */
  peak = 0;
  /** hashes started */
  started = 0;

  constructor(
    maxActive: () => number,
    private readonly maxQueued: () => number,
  ) {
    this.slots = new Slots(maxActive);
  }

  get running(): number {
    return this.slots.running;
  }

  get queued(): number {
    return this.slots.queued;
  }

  /** Runs fn when a slot is free; throws HashBusyError at once when the queue is full too. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.slots.full && this.slots.queued >= this.maxQueued()) throw new HashBusyError();
    return this.slots.run(fn, () => {
      this.started++;
      this.peak = Math.max(this.peak, this.slots.running);
    });
  }
}
