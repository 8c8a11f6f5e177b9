// The cache through the real daemon: POST /api/v1/cache/warm (dry run lists the files; a
// real run fetches them), GET /api/v1/cache/stats and /metrics over HTTP agree with what the
// upstream server counted.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRepo, type FixtureRepo } from './repo.js';
import { Upstream } from './upstream.js';
import { makeFleet } from './fleet.js';
import { get } from './client.js';
import { startDaemon, mintToken } from '../helpers/fixture.js';
import type { WarmReport } from '../../src/cache/warm.js';

let repo: FixtureRepo;
let root: string;

before(() => {
  root = mkdtempSync(join(tmpdir(), 'fb-cache-api-'));
  repo = buildRepo(join(root, 'repo'));
});
after(() => rmSync(root, { recursive: true, force: true }));

let auth: Record<string, string> = {}; // /api/v1 always needs credentials: a Bearer token here

async function post(url: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify(body) });
  return { status: r.status, json: (await r.json()) as Record<string, unknown> };
}

function metric(text: string, name: string): number {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  assert.ok(m, `metric ${name}`);
  return Number(m[1]);
}

test('POST /api/v1/cache/warm, GET /api/v1/cache/stats and /metrics through the daemon', { timeout: 120_000 }, async () => {
  const up = new Upstream(repo.root);
  await up.start();
  const fleet = makeFleet(up.url);
  const { d, base } = await startDaemon(fleet.fx);
  try {
    auth = { authorization: `Bearer ${await mintToken(d)}` };
    assert.equal((await fetch(`${base}/api/v1/cache/stats`)).status, 401, 'no token, no stats');
    const dry = await post(`${base}/api/v1/cache/warm`, { role: 'web', dryRun: true });
    assert.equal(dry.status, 200, JSON.stringify(dry.json));
    const rep = dry.json as unknown as WarmReport;
    assert.equal(rep.ok, true);
    assert.equal(rep.dryRun, true);
    const files = rep.results[0].toFetch.files;
    assert.equal(files.length, 16);
    assert.ok(files.every((f) => f.path.startsWith('pool/') && f.size > 0));
    assert.equal(rep.results[0].toFetch.bytes, files.reduce((n, f) => n + f.size, 0));
    assert.equal(up.requests.filter((p) => p.startsWith('pool/')).length, 0);

    const real = await post(`${base}/api/v1/cache/warm`, { role: 'web' });
    assert.equal(real.status, 200);
    const r2 = real.json as unknown as WarmReport;
    assert.equal(r2.ok, true);
    assert.equal(r2.results[0].fetched.count, 16);
    assert.equal(up.requests.filter((p) => p.startsWith('pool/')).length, 16);

    assert.equal((await post(`${base}/api/v1/cache/warm`, { role: 'nope' })).status, 404);
    assert.equal((await post(`${base}/api/v1/cache/warm`, {})).status, 400);
    assert.equal((await post(`${base}/api/v1/cache/warm`, { role: 'web', dryRun: 'yes' })).status, 400);
    const ghost = await post(`${base}/api/v1/cache/warm`, { role: 'ghost', dryRun: true });
    assert.equal(ghost.status, 200);
    assert.equal((ghost.json as unknown as WarmReport).ok, false);
    assert.deepEqual((ghost.json as unknown as WarmReport).results[0].unresolved, ['no-such-package']);

    // a hit and a remembered 404 from clients
    const statsUrl = `${base}/api/v1/cache/stats`;
    const s0 = (await (await fetch(statsUrl, { headers: auth })).json()) as Record<string, number>;
    const hello = repo.debs.find((x) => x.pkg === 'hello')!;
    assert.equal((await get(`${base}/mirror/debian/${hello.path}`)).headers['x-cache'], 'HIT');
    assert.equal((await get(`${base}/mirror/debian/dists/bookworm/main/i18n/Translation-de.xz`)).status, 404);
    assert.equal((await get(`${base}/mirror/debian/dists/bookworm/main/i18n/Translation-de.xz`)).status, 404);
    const stats = (await (await fetch(statsUrl, { headers: auth })).json()) as Record<string, number>;
    assert.equal(stats.bytesFromUpstream, up.bodyBytes, 'the cache counted what the upstream server sent');
    assert.equal(stats.negativeHits - s0.negativeHits, 1);
    assert.equal(stats.hits - s0.hits, 1, 'the remembered 404 is not a hit');
    assert.equal(up.countFor('dists/bookworm/main/i18n/Translation-de.xz'), 1);
    assert.equal(stats.bytesFromCache - s0.bytesFromCache, hello.size);
    assert.ok(stats.files >= 16);
    const text = await (await fetch(`${base}/metrics`)).text();
    assert.equal(metric(text, 'fleetboot_cache_bytes_from_upstream_total'), up.bodyBytes);
    assert.equal(metric(text, 'fleetboot_cache_bytes_from_cache_total'), stats.bytesFromCache);
    assert.equal(metric(text, 'fleetboot_cache_negative_hits_total'), stats.negativeHits);
    assert.equal(metric(text, 'fleetboot_cache_hits_total'), stats.hits);
    assert.equal(metric(text, 'fleetboot_cache_misses_total'), stats.misses);
    assert.equal(metric(text, 'fleetboot_cache_files'), stats.files);
    assert.equal(metric(text, 'fleetboot_cache_size_bytes'), stats.sizeBytes);
  } finally {
    await d.stop();
    fleet.cleanup();
    await up.stop();
  }
});
