// Opens the SQLite file that holds runtime state (never configuration) and brings its schema
// up to date. Migrations are db/NNN_name.sql, applied in order inside one transaction each;
// PRAGMA user_version records the last applied NNN, so a file is never applied twice and a
// database newer than this code is refused rather than misread.
import Database from 'better-sqlite3';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertWritable, trackWrites } from './db-health.js';

export type DB = Database.Database;

/** db/ at the package root (works from src/ via tsx-less runs and from dist/src/). */
export function migrationsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // dist/src/store -> ../../../db ; src/store -> ../../db
  for (const up of ['../../../db', '../../db']) {
    const p = join(here, up);
    try {
      if (readdirSync(p).some((f) => /^\d{3}_.+\.sql$/.test(f))) return p;
    } catch {
      /* try the next candidate */
    }
  }
  throw new Error(`migrations directory not found near ${here}`);
}

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function loadMigrations(dir = migrationsDir()): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3}_.+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: Number(f.slice(0, 3)), name: f, sql: readFileSync(join(dir, f), 'utf8') }));
}

export function migrate(db: DB, migrations = loadMigrations()): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  const latest = migrations.length ? migrations[migrations.length - 1].version : 0;
  if (current > latest) {
    throw new Error(`database schema version ${current} is newer than this fleetboot (knows up to ${latest}): it was written by a newer release; run that release, or restore a backup made for this one`);
  }
  for (const m of migrations) {
    if (m.version <= current) continue;
    try {
      db.transaction(() => {
        db.exec(m.sql);
        db.pragma(`user_version = ${m.version}`);
      })();
    } catch (e) {
      throw new Error(`migration ${m.name} failed (rolled back; schema stays at version ${db.pragma('user_version', { simple: true })}): ${(e as Error).message}`);
    }
  }
  return db.pragma('user_version', { simple: true }) as number;
}

/** Opens (creating if needed) and migrates. ":memory:" is accepted for tests. */
export function openDatabase(file: string, migrations?: Migration[]): DB {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  try {
    if (file !== ':memory:') db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    db.pragma('synchronous = NORMAL');
    migrate(db, migrations);
    // a file SQLite could only open read-only is refused here, not at the first boot answer
    assertWritable(db, file);
  } catch (e) {
    db.close();
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  trackWrites(db, file);
  return db;
}
