// Bench helper, run as its own process so client work does not share a CPU queue with the
// cache under test: N concurrent GETs of one URL; prints JSON with wall time and how many
// bodies matched the expected SHA256.
import http from 'node:http';
import { createHash } from 'node:crypto';

const [url, nArg, want] = process.argv.slice(2);
const n = Number(nArg);
const t0 = process.hrtime.bigint();
const one = () =>
  new Promise<{ ok: boolean; bytes: number }>((resolve) => {
    const h = createHash('sha256');
    let bytes = 0;
    http
      .get(url, { agent: false }, (res) => {
        res.on('data', (c: Buffer) => (h.update(c), (bytes += c.length)));
        res.on('end', () => resolve({ ok: res.statusCode === 200 && res.complete && h.digest('hex') === want, bytes }));
        res.on('error', () => resolve({ ok: false, bytes }));
      })
      .on('error', () => resolve({ ok: false, bytes }));
  });
const res = await Promise.all(Array.from({ length: n }, one));
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
console.log(JSON.stringify({ ms, ok: res.filter((r) => r.ok).length, bad: res.filter((r) => !r.ok).length, bytes: res.reduce((a, r) => a + r.bytes, 0) }));
