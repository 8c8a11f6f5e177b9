// debootstrap --variant=minbase bookworm through the cache, with the machine's own Debian
// mirror (read from its apt sources at test time, never hard-coded) behind a counting relay
// as the cache's upstream. The second debootstrap must be served entirely from disk: zero
// bytes and zero requests at the relay (an independent count, not the cache's own).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startCache } from './harness.js';
import { CountingRelay } from './relay.js';
import { machineDebianMirror } from '../helpers/machine-mirror.js';

const run = promisify(execFile);

export { machineDebianMirror };

async function debootstrap(target: string, mirror: string): Promise<void> {
  try {
    await run('debootstrap', ['--variant=minbase', '--no-check-gpg', 'bookworm', target, mirror], { maxBuffer: 64 * 1024 * 1024 });
  } catch (e) {
    const log = join(target, 'debootstrap/debootstrap.log');
    throw new Error(`debootstrap failed: ${(e as Error).message}\n${existsSync(log) ? readFileSync(log, 'utf8').slice(-3000) : ''}`);
  }
}

test('debootstrap minbase bookworm through the cache twice; the second run is served from disk', { timeout: 600_000 }, async () => {
  const relay = new CountingRelay(machineDebianMirror());
  await relay.start();
  const root = mkdtempSync(join(tmpdir(), 'fb-cache-dbs-'));
  const h = await startCache({ repos: [{ name: 'debian', url: relay.url }], indexFreshSeconds: 3600 });
  try {
    await debootstrap(join(root, 'one'), `${h.base}/debian`);
    assert.ok(existsSync(join(root, 'one/usr/bin/apt-get')));
    const s1 = h.cache.stats();
    assert.ok(s1.files > 80, `minbase is ~90 files, cache holds ${s1.files}`);
    assert.ok(relay.bodyBytes > 20_000_000, `relay carried ${relay.bodyBytes} bytes`);
    assert.equal(s1.bytesFromUpstream, relay.bodyBytes, 'the cache counts what really came from upstream');
    assert.equal(s1.upstreamErrors, 0);
    rmSync(join(root, 'one'), { recursive: true, force: true });
    const bytes = relay.bodyBytes;
    const reqs = relay.requests.length;

    await debootstrap(join(root, 'two'), `${h.base}/debian`);
    assert.ok(existsSync(join(root, 'two/usr/bin/apt-get')));
    assert.equal(relay.bodyBytes - bytes, 0, 'second run: zero upstream bytes (counted at the relay)');
    assert.deepEqual(relay.requests.slice(reqs), [], 'second run: no upstream request at all');
    assert.ok(h.cache.stats().bytesFromCache - s1.bytesFromCache > 20_000_000);
  } finally {
    await h.close();
    await relay.stop();
    rmSync(root, { recursive: true, force: true });
  }
});
