// Time spent writing large bodies per event-loop turn, across all responses.
//
// Why: in a boot storm 50 installers pull kernels and initrds while 500 machines wait for
// /boot.ipxe. Every socket that drained wakes its body writer in the same turn, and each
// writes a 512 KiB chunk (a copy into the kernel, ~0.1–0.3 ms): 50 of them made one turn
// 5–15 ms long, and every answer, accept and DHCP packet queued behind it
// (docs/performance.md). With a budget per turn the remaining writers wait for the next turn —
// which comes at once when nothing else is waiting, so an idle daemon still sends at full
// speed. Time, not bytes: a byte budget small enough for the storm (2 MiB a turn) cut the
// 30 MiB bench to 0.78x nginx; the cost of a write is what delays the others.
export class TurnBudget {
  private spentMs = 0;
  private readonly waiters: (() => void)[] = [];
  private scheduled = false;

  constructor(private readonly perTurnMs: number, private readonly now: () => number = () => performance.now()) {}

  /** null: write now; a promise: ask again when it resolves (the next turn; first come, first asked) */
  take(): Promise<void> | null {
    this.arm();
    if (this.spentMs < this.perTurnMs) return null;
    return new Promise<void>((r) => this.waiters.push(r));
  }

  /** runs a write and counts its time against this turn */
  spend<T>(write: () => T): T {
    const t = this.now();
    try {
      return write();
    } finally {
      this.spentMs += this.now() - t;
    }
  }

  private arm(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.turn());
  }

  private turn(): void {
    this.scheduled = false;
    this.spentMs = 0;
    // every waiter asks again, in order; those past the budget queue for the next turn
    for (const w of this.waiters.splice(0)) w();
  }
}
