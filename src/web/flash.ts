// One-shot notices after a form post ("2 hosts marked for reinstall"), kept server-side per
// session and shown by the next page that session renders. Nothing of the message travels in
// the redirect URL, so a crafted link cannot make the UI claim anything (a count included).
// In memory: a notice lost in a restart costs nothing.
const TTL_MS = 60_000;
const MAX = 1000;

export class Flash {
  private readonly notes = new Map<string, { text: string; at: number }>();
  constructor(private readonly now: () => number) {}

  set(key: string, text: string): void {
    if (this.notes.size >= MAX) {
      // drop stale ones first; if all are fresh, the oldest
      for (const [k, v] of this.notes) if (this.now() - v.at > TTL_MS) this.notes.delete(k);
      if (this.notes.size >= MAX) this.notes.delete(this.notes.keys().next().value!);
    }
    this.notes.delete(key);
    this.notes.set(key, { text, at: this.now() });
  }

  take(key: string): string | undefined {
    const n = this.notes.get(key);
    if (!n) return undefined;
    this.notes.delete(key);
    return this.now() - n.at <= TTL_MS ? n.text : undefined;
  }
}
