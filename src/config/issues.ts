// A problem found in the configuration, before the loader knows which file (or environment
// variable) to blame for it: a path into the merged config and a message.
import type { ZodError } from 'zod';

export interface Issue {
  path: (string | number)[];
  message: string;
  /** reported, but the config still loads (e.g. a boot asset not fetched yet) */
  warning?: boolean;
}

/** zod issues under `prefix`; an unknown key is reported at its own path (its own line). */
export function fromZod(err: ZodError, prefix: (string | number)[] = []): Issue[] {
  const out: Issue[] = [];
  for (const i of err.issues) {
    if (i.code === 'unrecognized_keys') {
      for (const k of i.keys) out.push({ path: [...prefix, ...i.path, k], message: 'unknown key' });
    } else {
      out.push({ path: [...prefix, ...i.path], message: i.message });
    }
  }
  return out;
}
