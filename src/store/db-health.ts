// Is the state database really writable? SQLite opens a file it may not write (mode 0444, a
// read-only mount, another owner) READ-ONLY without a word, and every write then fails with
// SQLITE_READONLY: the daemon looked healthy while every boot answer was a 500. So a database is
// proven writable at open (a real write, rolled back), and every write failure at run time is
// remembered so /healthz can say "not ok" and name the file.
import type Database from 'better-sqlite3';

type DB = Database.Database;

/** Error codes that mean "the store cannot take writes", as opposed to a bad statement. */
const STORE_DOWN = /^SQLITE_(READONLY|IOERR|FULL|CANTOPEN|CORRUPT|NOTADB|PERM)/;

export interface StoreHealthState {
  ok: boolean;
  file: string;
  /** the last failed write: when and why (cleared by the next successful write) */
  error?: { at: number; code: string; message: string };
}

export class StoreHealth {
  private failure?: { at: number; code: string; message: string };
  constructor(readonly file: string) {}

  failed(e: unknown, now = Date.now()): void {
    const code = String((e as { code?: unknown })?.code ?? '');
    if (STORE_DOWN.test(code)) this.failure = { at: now, code, message: (e as Error).message };
  }

  succeeded(): void {
    this.failure = undefined;
  }

  state(): StoreHealthState {
    return this.failure ? { ok: false, file: this.file, error: this.failure } : { ok: true, file: this.file };
  }

  /** one line for /healthz and logs */
  describe(): string | undefined {
    const f = this.failure;
    return f && `state database ${this.file} cannot be written (${f.code}: ${f.message}) since ${new Date(f.at).toISOString()}`;
  }
}

const registry = new WeakMap<DB, StoreHealth>();

/** The health tracker of a database opened with openDatabase (undefined for other handles). */
export function storeHealth(db: DB): StoreHealth | undefined {
  return registry.get(db);
}

/**
 * A real write, rolled back: BEGIN IMMEDIATE alone succeeds on a read-only WAL database, writing
 * the header (user_version, unchanged) does not. Throws an error that says what to fix.
 */
export function assertWritable(db: DB, file: string): void {
  if (file === ':memory:') return;
  const v = db.pragma('user_version', { simple: true }) as number;
  try {
    db.exec(`BEGIN IMMEDIATE; PRAGMA user_version = ${v}; ROLLBACK`);
  } catch (e) {
    if (db.inTransaction) db.exec('ROLLBACK');
    const code = (e as { code?: string }).code ?? '';
    throw new Error(
      `the state database is not writable (${code}: ${(e as Error).message}): this process (uid ${process.getuid?.() ?? '?'}) needs write access to the file and to its directory (for the -wal and -shm files); fix the owner/mode or the mount, or point paths.db elsewhere`,
    );
  }
}

/**
 * Wraps the handle's statement runners so each write's outcome reaches the StoreHealth: one
 * place for every store (runs, leases, cache index, users) instead of a try/catch in each.
 */
export function trackWrites(db: DB, file: string): StoreHealth {
  const health = new StoreHealth(file);
  registry.set(db, health);
  const prepare = db.prepare.bind(db);
  db.prepare = ((sql: string) => {
    const st = prepare(sql);
    if (st.reader) return st; // reads do not prove or disprove writability
    const run = st.run.bind(st);
    st.run = ((...args: unknown[]) => {
      try {
        const r = run(...(args as []));
        health.succeeded();
        return r;
      } catch (e) {
        health.failed(e);
        throw e;
      }
    }) as typeof st.run;
    return st;
  }) as typeof db.prepare;
  const exec = db.exec.bind(db);
  db.exec = ((sql: string) => {
    try {
      return exec(sql);
    } catch (e) {
      health.failed(e);
      throw e;
    }
  }) as typeof db.exec;
  // a batched write (store/turn-batch.ts) fails at COMMIT, which better-sqlite3's transaction
  // wrapper runs itself: watch the wrapper too, or a full disk would pass for healthy
  const transaction = db.transaction.bind(db);
  db.transaction = ((fn: (...a: unknown[]) => unknown) => {
    const t = transaction(fn) as unknown as Record<string, (...a: unknown[]) => unknown> & ((...a: unknown[]) => unknown);
    const watch = (call: (...a: unknown[]) => unknown) => (...a: unknown[]) => {
      try {
        return call(...a);
      } catch (e) {
        health.failed(e);
        throw e;
      }
    };
    const wrapped = watch(t) as typeof t;
    for (const k of ['deferred', 'immediate', 'exclusive'] as const) wrapped[k] = watch(t[k]);
    wrapped.default = wrapped;
    return wrapped;
  }) as unknown as typeof db.transaction;
  return health;
}
