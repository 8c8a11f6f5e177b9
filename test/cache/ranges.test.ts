// Range requests on cached files, as RFC 9110 §14 has them: several ranges -> 206
// multipart/byteranges, a syntactically invalid header -> ignored (200), nothing satisfiable
// -> 416 with "bytes */size", If-Range with a strong ETag or the exact date.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRepo, type FixtureRepo } from './repo.js';
import { Upstream } from './upstream.js';
import { startCache, type CacheHarness } from './harness.js';
import { get } from './client.js';
import { parseRanges } from '../../src/cache/ranges.js';

let repo: FixtureRepo;
let root: string;
let up: Upstream;
let h: CacheHarness;
let url: string;
let file: Buffer;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'fb-cache-ranges-'));
  repo = buildRepo(root);
  up = new Upstream(repo.root);
  await up.start();
  h = await startCache({ repos: [{ name: 'debian', url: up.url }] });
  const d = repo.debs.find((x) => x.pkg === 'hello')!;
  url = `${h.base}/debian/${d.path}`;
  file = readFileSync(join(repo.root, d.path));
  assert.equal((await get(url)).headers['x-cache'], 'MISS');
});
after(async () => {
  await h.close();
  await up.stop();
  rmSync(root, { recursive: true, force: true });
});

/** multipart/byteranges body -> [{ range header, bytes }] */
function parts(body: Buffer, type: string): { range: string; bytes: Buffer }[] {
  const boundary = /boundary=([^;]+)/.exec(type)![1];
  const out: { range: string; bytes: Buffer }[] = [];
  const text = body.toString('latin1');
  for (const chunk of text.split(`--${boundary}`).slice(1)) {
    if (chunk.startsWith('--')) break;
    const [head, ...rest] = chunk.replace(/^\r\n/, '').split('\r\n\r\n');
    const data = rest.join('\r\n\r\n').replace(/\r\n$/, '');
    out.push({ range: /Content-Range: (.+)/.exec(head)![1].trim(), bytes: Buffer.from(data, 'latin1') });
  }
  return out;
}

test('several ranges: 206 multipart/byteranges, parts in the order asked, exact lengths', async () => {
  const n = file.length;
  const r = await get(url, { headers: { range: 'bytes=0-9, 100-199, -5' } });
  assert.equal(r.status, 206);
  assert.equal(r.error, undefined);
  assert.match(String(r.headers['content-type']), /^multipart\/byteranges; boundary=/);
  const p = parts(r.body, String(r.headers['content-type']));
  assert.deepEqual(p.map((x) => x.range), [`bytes 0-9/${n}`, `bytes 100-199/${n}`, `bytes ${n - 5}-${n - 1}/${n}`]);
  assert.deepEqual(p[0].bytes, file.subarray(0, 10));
  assert.deepEqual(p[1].bytes, file.subarray(100, 200));
  assert.deepEqual(p[2].bytes, file.subarray(n - 5));
  // overlapping ranges are merged into one part
  const m = await get(url, { headers: { range: 'bytes=10-20,15-30' } });
  assert.equal(m.status, 206);
  assert.equal(m.headers['content-range'], `bytes 10-30/${n}`);
  assert.deepEqual(m.body, file.subarray(10, 31));
  // one unsatisfiable range among satisfiable ones is dropped, not a 416
  const s = await get(url, { headers: { range: `bytes=0-0,${n + 10}-` } });
  assert.equal(s.status, 206);
  assert.equal(s.headers['content-range'], `bytes 0-0/${n}`);
  // HEAD of a multipart range: the length a GET would send
  const head = await get(url, { method: 'HEAD', headers: { range: 'bytes=0-9, 100-199' } });
  assert.equal(head.status, 206);
  assert.ok(Number(head.headers['content-length']) > 110);
});

test('invalid Range is ignored (200, whole file); unsatisfiable is 416 with bytes */size', async () => {
  const n = file.length;
  for (const bad of ['bytes=abc', 'bytes=5-2', 'bytes=', 'items=0-1', 'bytes=1-2-3']) {
    const r = await get(url, { headers: { range: bad } });
    assert.equal(r.status, 200, bad);
    assert.equal(r.body.length, n, bad);
  }
  for (const unsat of [`bytes=${n}-`, `bytes=${n + 100}-${n + 200}`, 'bytes=-0', `bytes=${n}-,${n + 1}-`]) {
    const r = await get(url, { headers: { range: unsat } });
    assert.equal(r.status, 416, unsat);
    assert.equal(r.headers['content-range'], `bytes */${n}`, unsat);
  }
  assert.deepEqual(parseRanges('bytes=0-0,1-1', 10), [{ start: 0, end: 1 }]);
  assert.equal(parseRanges(`bytes=${Array.from({ length: 20 }, (_, i) => `${i * 3}-${i * 3}`).join(',')}`, 1000), null, 'too many parts: whole file');
});

test('If-Range: a matching strong ETag or exact date applies the range; anything else sends 200', async () => {
  const first = await get(url);
  const etag = String(first.headers.etag);
  const lm = String(first.headers['last-modified']);
  const ok = await get(url, { headers: { range: 'bytes=0-9', 'if-range': etag } });
  assert.equal(ok.status, 206);
  assert.deepEqual(ok.body, file.subarray(0, 10));
  assert.equal((await get(url, { headers: { range: 'bytes=0-9', 'if-range': lm } })).status, 206);
  for (const other of ['"nope"', `W/${etag}`, 'Mon, 01 Jan 2001 00:00:00 GMT']) {
    const r = await get(url, { headers: { range: 'bytes=0-9', 'if-range': other } });
    assert.equal(r.status, 200, other);
    assert.equal(r.body.length, file.length);
  }
  // a failed If-Range also turns a would-be 416 into the whole file
  assert.equal((await get(url, { headers: { range: `bytes=${file.length}-`, 'if-range': '"nope"' } })).status, 200);
});
