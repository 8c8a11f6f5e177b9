// "did you mean ...?" for the CLI: a mistyped flag, host, role, label, state or command is a
// usage error that names the closest valid word, so a typo never silently selects nothing.

/** Edit distance (insert, delete, substitute; adjacent swap counts one) between a and b. */
export function levenshtein(a: string, b: string): number {
  const m = a.length;
  const n = b.length;
  if (!m) return n;
  if (!n) return m;
  // three rows suffice for the Damerau (transposition) variant
  let prev2 = new Array<number>(n + 1).fill(0);
  let prev = Array.from({ length: n + 1 }, (_, j) => j);
  let cur = new Array<number>(n + 1).fill(0);
  for (let i = 1; i <= m; i++) {
    cur[0] = i;
    for (let j = 1; j <= n; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) cur[j] = Math.min(cur[j], prev2[j - 2] + 1);
    }
    [prev2, prev, cur] = [prev, cur, prev2];
  }
  return prev[n];
}

/**
 * The closest candidate to `word`, if it is close enough to be a typo: at most a third of the
 * word's length (min 1, max 3) edits, or `word` is a prefix of exactly one candidate.
 */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  const w = word.toLowerCase();
  const limit = Math.min(3, Math.max(1, Math.floor(w.length / 3)));
  let best: string | undefined;
  let bestD = Infinity;
  const prefixed: string[] = [];
  let seen = 0;
  for (const c of candidates) {
    // a huge inventory is compared in full: this runs only on the error path
    seen++;
    const d = levenshtein(w, c.toLowerCase());
    if (d < bestD) (best = c), (bestD = d);
    if (w.length >= 2 && c.toLowerCase().startsWith(w)) prefixed.push(c);
  }
  if (seen && bestD <= limit) return best;
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

/** " (did you mean X?)" or "" */
export function didYouMean(word: string, candidates: Iterable<string>, prefix = ''): string {
  const c = closest(word, candidates);
  return c === undefined ? '' : ` (did you mean ${prefix}${c}?)`;
}

/** A usage error: printed as "fleetboot CMD: message", exit 2. */
export class UsageError extends Error {}
