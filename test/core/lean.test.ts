// The hot routes answered before express (src/http/lean.ts) must answer exactly as the
// express routes do. Express routes case-insensitively, the lean path does not, so
// /ASSETS/... and /BOOT.IPXE reach the express handlers: both are fetched with curl and
// compared. Odd shapes fall through to express; both paths count in fleetboot_http_*.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { makeFixture, startDaemon, type Fixture } from '../helpers/fixture.js';
import type { Daemon } from '../../src/daemon.js';

const run = promisify(execFile);
let fx: Fixture;
let d: Daemon;
let base: string;

before(async () => {
  fx = makeFixture();
  fx.write('assets/dir/data.bin', Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251)));
  fx.write('assets/sp ace.bin', 'spaced\n');
  ({ d, base } = await startDaemon(fx));
});
after(async () => {
  await d.stop();
  fx.cleanup();
});

/** status, headers that matter, body — via curl */
async function get(path: string, ...args: string[]): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const { stdout } = await run('curl', ['-s', '-i', '--path-as-is', ...args, `${base}${path}`], { encoding: 'latin1' });
  const i = stdout.indexOf('\r\n\r\n');
  const lines = stdout.slice(0, i).split('\r\n');
  const status = Number(lines[0].split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const k = l.slice(0, l.indexOf(':')).toLowerCase();
    if (['content-type', 'content-length', 'etag', 'last-modified', 'accept-ranges', 'cache-control', 'content-range'].includes(k)) headers[k] = l.slice(l.indexOf(':') + 1).trim();
  }
  return { status, headers, body: stdout.slice(i + 4) };
}

test('lean /assets answers as the express route does', async () => {
  for (const [lean, viaExpress, args] of [
    ['/assets/dir/data.bin', '/ASSETS/dir/data.bin', []],
    ['/assets/dir/data.bin', '/ASSETS/dir/data.bin', ['-r', '100-199']],
    ['/assets/dir/data.bin', '/ASSETS/dir/data.bin', ['-r', '9000-']],
    ['/assets/dir/data.bin', '/ASSETS/dir/data.bin', ['-I']],
    ['/assets/sp%20ace.bin', '/ASSETS/sp%20ace.bin', []],
    ['/assets/dir%2Fdata.bin', '/ASSETS/dir%2Fdata.bin', []],
    ['/assets/missing', '/ASSETS/missing', []],
    ['/assets/../fleetboot.yaml', '/ASSETS/../fleetboot.yaml', []],
    ['/assets/%2e%2e/fleetboot.yaml', '/ASSETS/%2e%2e/fleetboot.yaml', []],
  ] as [string, string, string[]][]) {
    const a = await get(lean, ...args);
    const b = await get(viaExpress, ...args);
    assert.deepEqual(a, b, `${lean} ${args.join(' ')}`);
  }
  // the comparison means something only if express really serves the upper-case path
  const viaExpress = await get('/ASSETS/dir/data.bin');
  assert.equal(viaExpress.status, 200);
  assert.equal(viaExpress.body.length, 5000);
  const etag = (await get('/assets/dir/data.bin')).headers.etag;
  assert.equal((await get('/assets/dir/data.bin', '-H', `If-None-Match: ${etag}`)).status, 304);
});

test('lean /boot.ipxe answers as the express route does; odd shapes go to express', async () => {
  for (const q of ['?mac=52:54:00:aa:00:01', '?mac=52%3A54%3A00%3Aaa%3A00%3A03&platform=efi&buildarch=x86_64', '?mac=52:54:00:99:99:99', '', '?mac=nonsense']) {
    const a = await get(`/boot.ipxe${q}`);
    const b = await get(`/BOOT.IPXE${q}`);
    // a marked host would get a fresh token per boot; none is marked here, so equal
    assert.deepEqual(a, b, q);
  }
  assert.match((await get('/BOOT.IPXE?mac=52:54:00:aa:00:01')).body, /^#!ipxe/, 'express serves the upper-case path');
  // repeated ?mac= is an array to express (400); the lean path leaves it to express
  assert.equal((await get('/boot.ipxe?mac=52:54:00:aa:00:01&mac=52:54:00:aa:00:02')).status, 400);
  assert.equal((await get('/assets/%E0%A4%A')).status, (await get('/ASSETS/%E0%A4%A')).status, 'malformed escape: express decides');
});

test('lean routes count in the same metrics under the express route labels', async () => {
  await get('/assets/dir/data.bin');
  await get('/boot.ipxe?mac=52:54:00:99:99:98');
  const m = await d.registry.getSingleMetricAsString('fleetboot_http_requests_total');
  assert.match(m, /route="\/assets\/\*path",method="GET",status="200"/);
  assert.match(m, /route="\/boot\.ipxe",method="GET",status="200"/);
});
