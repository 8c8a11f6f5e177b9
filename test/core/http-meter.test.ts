// HttpMeter (src/http/http-meter.ts) replaces prom-client's Counter and Histogram for the two
// HTTP metrics on the hot path: for the same requests its /metrics text must be what
// prom-client printed (names, labels, cumulative buckets, +Inf, sum, count), and the
// registry's JSON and reset must work with it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import client from 'prom-client';
import { DURATION_BUCKETS, httpMeter } from '../../src/http/http-meter.js';

const requests: [string, string, number, number][] = [
  ['/assets/*path', 'GET', 200, 0.0004],
  ['/assets/*path', 'GET', 200, 0.003],
  ['/assets/*path', 'HEAD', 404, 0.001], // exactly on a bound: counted in it (le)
  ['/boot.ipxe', 'GET', 200, 0.07],
  ['/boot.ipxe', 'GET', 200, 75], // above the last bound: only +Inf
  ['unmatched', 'POST', 400, 0.5],
];

test('http meter: the same exposition as prom-client for the same requests', async () => {
  const ours = new client.Registry();
  const meter = httpMeter(ours);
  assert.equal(httpMeter(ours), meter, 'one meter per registry');
  const ref = new client.Registry();
  const c = new client.Counter({ name: 'fleetboot_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['route', 'method', 'status'], registers: [ref] });
  const h = new client.Histogram({ name: 'fleetboot_http_request_duration_seconds', help: 'HTTP request duration', labelNames: ['route'], buckets: [...DURATION_BUCKETS], registers: [ref] });
  for (const [route, method, status, s] of requests) {
    meter.record(route, method, status, s);
    c.inc({ route, method, status: String(status) });
    h.observe({ route }, s);
  }
  assert.equal(await ours.metrics(), await ref.metrics());
  assert.equal(meter.count('/assets/*path', 'GET', 200), 2);
  const json = await ours.getMetricsAsJSON();
  assert.deepEqual(json.map((m) => m.name).sort(), ['fleetboot_http_request_duration_seconds', 'fleetboot_http_requests_total']);
  ours.resetMetrics();
  assert.equal(meter.count('/assets/*path', 'GET', 200), 0);
  assert.doesNotMatch(await ours.metrics(), /route=/);
});
