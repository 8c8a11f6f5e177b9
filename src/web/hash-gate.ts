// Bounds how many password hashes (scrypt, ~32 MiB and tens of ms each) run at once, and how
// many may wait. scrypt runs on libuv's thread pool, the same few threads that serve every
// fs call (boot assets, TFTP reads, the package cache): unbounded, a login burst queues
// hundreds of hashes in front of the boot path's file reads (issue 13: a kernel download
// took 80 s during 200 parallel logins). Attempts beyond active + queued are refused at once
// (the caller answers 503): a guesser gains nothing from waiting in line.
export class HashBusyError extends Error {
  constructor() {
    super('too many password checks in progress');
  }
}

export class HashGate {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  /** most hashes ever running at once (for /metrics and tests) */
  peak = 0;
  /** hashes started */
  started = 0;

  constructor(
    private readonly maxActive: () => number,
    private readonly maxQueued: () => number,
  ) {}

  get running(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Runs fn when a slot is free; throws HashBusyError at once when the queue is full too. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.maxActive()) {
      if (this.waiting.length >= this.maxQueued()) throw new HashBusyError();
      // the finishing job hands its slot over: `active` stays as it is
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else this.active++;
    this.started++;
    this.peak = Math.max(this.peak, this.active);
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}
