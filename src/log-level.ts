// Changing the log level of a running daemon (config reload). pino copies the level into each
// child logger when the child is created, so setting the root's level does not reach the
// subsystems' children. LiveLevel notes every logger created below the root (weakly: per-
// request children come and go) and sets the level on all of them.
import type { Logger } from './log.js';

export class LiveLevel {
  private readonly refs = new Set<WeakRef<Logger>>();
  private readonly gone = new FinalizationRegistry<WeakRef<Logger>>((ref) => this.refs.delete(ref));
  private prev?: Logger['onChild'];

  constructor(private readonly root: Logger) {}

  /** From now on, children (and their children) of the root are followed. */
  attach(): void {
    const prev = (this.prev = this.root.onChild);
    this.root.onChild = (child) => {
      prev?.call(this.root, child);
      const ref = new WeakRef(child);
      this.refs.add(ref);
      this.gone.register(child, ref);
    };
  }

  detach(): void {
    if (this.prev) this.root.onChild = this.prev;
    this.refs.clear();
  }

  set(level: string): void {
    this.root.level = level;
    for (const ref of this.refs) {
      const l = ref.deref();
      if (l) l.level = level;
    }
  }
}
