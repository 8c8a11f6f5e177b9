// The hosts page's server side: query parsing refuses junk, filter/sort/page over the fleet,
// and the row cache sees this process's writes, another process's writes and reloads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { makeFixture, startDaemon } from '../helpers/fixture.js';
import { HostRowsCache, parseHostQuery, queryHosts, hostQueryString } from '../../src/web/hosts-query.js';

test('parseHostQuery: unknown sort keys, bad numbers and odd page sizes fall back to defaults', () => {
  assert.deepEqual(parseHostQuery({ sort: 'constructor', dir: 'sideways', offset: '-5', limit: '100000', name: ['a', 'b'] }), { name: 'a', role: undefined, state: undefined, label: undefined, sort: 'name', dir: 1, offset: 0, limit: 100 });
  const q = parseHostQuery({ sort: 'updatedAt', dir: 'desc', offset: '200', limit: '50', state: 'failed', name: 'x'.repeat(5000) });
  assert.equal(q.name!.length, 200, 'capped');
  assert.equal(hostQueryString({ ...q, name: 'web' }), 'name=web&state=failed&sort=updatedAt&dir=desc&offset=200&limit=50');
});

test('queryHosts: filter by name/MAC/address, sort both ways, page; the cache follows every kind of write', async () => {
  // (session and audit writes, by contrast, must not throw the cache away: see below)
  const fx = makeFixture();
  const { d } = await startDaemon(fx);
  try {
    const cache = new HostRowsCache(d.holder, d.store, d.db);
    const q = (o: Record<string, string>) => queryHosts(d.holder, d.store, parseHostQuery(o), cache);
    assert.deepEqual(q({}).rows.map((h) => h.name), ['alpha', 'beta', 'gamma']);
    assert.deepEqual(q({ name: 'aa:00:02' }).rows.map((h) => h.name), ['beta'], 'by MAC');
    assert.deepEqual(q({ name: '10.99.0.11' }).rows.map((h) => h.name), ['alpha'], 'by address');
    assert.deepEqual(q({ sort: 'name', dir: 'desc' }).rows.map((h) => h.name), ['gamma', 'beta', 'alpha']);
    const p = q({ limit: '50', offset: '50' });
    assert.equal(p.query.offset, 0, 'an offset past the end shows the last page');
    const first = cache.all();
    assert.equal(cache.all(), first, 'nothing changed: the same rows');
    d.db.prepare(`INSERT INTO audit_log (at, actor, action) VALUES (1, 'x', 'login')`).run();
    assert.equal(cache.all(), first, 'an audit write (every request writes sessions/audit) keeps the rows');
    d.installs.mark(['beta'], 'test'); // this connection
    assert.notEqual(cache.all(), first);
    assert.deepEqual(q({ state: 'marked' }).rows.map((h) => h.name), ['beta']);
    assert.deepEqual(q({}).counts, { marked: 1, idle: 2 });
    // another process (the CLI) writes through its own connection
    const other = new Database(join(fx.dir, 'state/fb.sqlite'));
    // as InstallService does it: the run row and a state event
    other.prepare(`UPDATE install_runs SET state = 'failed', updated_at = updated_at + 1 WHERE host = 'beta'`).run();
    other.prepare(`INSERT INTO events (run_id, host, at, kind, stage, message) SELECT id, host, updated_at, 'state', 'failed', 'test' FROM install_runs WHERE host = 'beta'`).run();
    other.close();
    assert.deepEqual(q({ state: 'failed' }).rows.map((h) => h.name), ['beta']);
  } finally {
    await d.stop();
    fx.cleanup();
  }
});
