// Statements prepared once per SQL text: preparing costs more than running. Per-call prepares
// were 8 % of the main thread for a marked host's boot in a storm (RunStore) and ~8 % of a
// package-cache hit (CacheStore: its row lookup) (docs/performance.md).
import type { Statement } from 'better-sqlite3';
import type { DB } from './db.js';

export class Statements {
  private readonly byText = new Map<string, Statement>();

  /** `max`: SQL texts come from the caller's file (a few dynamic shapes: SET lists, IN lists);
   *  the cap keeps an unexpected variety from growing the map without end */
  constructor(private readonly db: DB, private readonly max = 256) {}

  get(sql: string): Statement {
    let s = this.byText.get(sql);
    if (!s) {
      if (this.byText.size >= this.max) this.byText.clear();
      this.byText.set(sql, (s = this.db.prepare(sql)));
    }
    return s;
  }
}
