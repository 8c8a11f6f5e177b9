// SQLite state: migrations by number (user_version), WAL, a failed migration rolled back, a
// database written by a newer fleetboot refused with a clear error (library and CLI).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openDatabase, loadMigrations, type Migration } from '../../src/store/db.js';
import { makeFixture, REPO } from '../helpers/fixture.js';

function tmp() {
  const dir = mkdtempSync(join(tmpdir(), 'fb-db-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

test("the shipped migrations: applied in order, user_version = the last one's number, WAL on", () => {
  const t = tmp();
  try {
    const ms = loadMigrations();
    assert.deepEqual(ms.map((m) => m.version), [...ms.map((m) => m.version)].sort((a, b) => a - b));
    assert.ok(ms.length >= 4 && ms[0].version === 1);
    const db = openDatabase(join(t.dir, 'state/fb.sqlite'));
    assert.equal(db.pragma('user_version', { simple: true }), ms.at(-1)!.version);
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name);
    for (const t of ['install_runs', 'events', 'reinstall_marks', 'discovered']) assert.ok(tables.includes(t), t);
    db.close();
    // opening again applies nothing twice
    openDatabase(join(t.dir, 'state/fb.sqlite')).close();
  } finally {
    t.cleanup();
  }
});

test('migrations run by number, each once; a failing one is rolled back and stops the open', () => {
  const t = tmp();
  try {
    const file = join(t.dir, 'x.sqlite');
    // given out of order: 002 needs 001's table, 003 needs 002's column
    const ms: Migration[] = [
      { version: 3, name: '003_c.sql', sql: "INSERT INTO a (n, label) VALUES (1, 'one');" },
      { version: 1, name: '001_a.sql', sql: 'CREATE TABLE a (n INTEGER);' },
      { version: 2, name: '002_b.sql', sql: 'ALTER TABLE a ADD COLUMN label TEXT;' },
    ].sort((x, y) => x.version - y.version);
    let db = openDatabase(file, ms);
    assert.equal(db.pragma('user_version', { simple: true }), 3);
    db.close();
    db = openDatabase(file, ms); // ALTER TABLE again would throw: nothing is re-applied
    assert.deepEqual(db.prepare('SELECT n, label FROM a').all(), [{ n: 1, label: 'one' }]);
    db.close();
    const broken = [...ms, { version: 4, name: '004_bad.sql', sql: 'CREATE TABLE b (x INTEGER); INSERT INTO nope VALUES (1);' }];
    assert.throws(() => openDatabase(file, broken), /x\.sqlite: migration 004_bad\.sql failed \(rolled back; schema stays at version 3\): no such table: nope/);
    const raw = new Database(file);
    assert.equal(raw.pragma('user_version', { simple: true }), 3);
    assert.equal(raw.prepare("SELECT name FROM sqlite_master WHERE name = 'b'").get(), undefined, '004 left nothing behind');
    raw.close();
  } finally {
    t.cleanup();
  }
});

test('a database newer than this code is refused, by the library and by the CLI', () => {
  const fx = makeFixture();
  try {
    const file = join(fx.dir, 'state/fb.sqlite');
    openDatabase(file).close();
    const raw = new Database(file);
    raw.pragma('user_version = 999');
    raw.close();
    const latest = loadMigrations().at(-1)!.version;
    assert.throws(() => openDatabase(file), new RegExp(`^Error: ${file.replace(/[/.]/g, '\\$&')}: database schema version 999 is newer than this fleetboot \\(knows up to ${latest}\\)`));
    const r = spawnSync('node', [join(REPO, 'dist/src/cli.js'), '--config', fx.configFile, 'hosts'], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /database schema version 999 is newer than this fleetboot/);
    const s = spawnSync('node', [join(REPO, 'dist/src/cli.js'), '--config', fx.configFile, 'serve'], { encoding: 'utf8', env: { PATH: process.env.PATH }, timeout: 20_000 });
    assert.equal(s.status, 1);
    assert.match(s.stderr, /cannot start: .*database schema version 999 is newer than this fleetboot/);
  } finally {
    fx.cleanup();
  }
});
