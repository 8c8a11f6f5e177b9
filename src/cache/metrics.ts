// Cache counters: kept as plain numbers for stats() (the API's JSON) and mirrored into
// prom-client metrics on the injected registry (names fleetboot_cache_*).
import client from 'prom-client';
import type { Registry } from 'prom-client';

export const COUNTERS = {
  hits: 'requests served from disk (fresh, revalidated or stale)',
  negativeHits: '404s answered from memory for index files upstream recently said do not exist',
  misses: 'requests served while streaming from upstream',
  coalesced: 'requests that joined a download already in flight instead of starting one',
  revalidations: 'index revalidations answered 304 by upstream',
  stale: 'index files served stale because upstream was unreachable',
  bytesFromCache: 'body bytes sent to clients from cached files',
  bytesFromUpstream: 'body bytes received from upstream',
  upstreamErrors: 'upstream fetches that failed (status, timeout, short or corrupt body)',
  verifyFailures: 'downloads refused because length or SHA256 did not match the index',
  evictions: 'files evicted by the size limit (LRU)',
  contradicted: 'cached files removed because an index read later lists another SHA256 for them',
} as const;
export type CounterName = keyof typeof COUNTERS;

const snake = (s: string) => s.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());

export class CacheMetrics {
  readonly values: Record<CounterName, number>;
  private readonly prom: Record<CounterName, client.Counter>;

  constructor(registry: Registry, gauges: { sizeBytes: () => number; files: () => number; inflight: () => number }) {
    this.values = Object.fromEntries(Object.keys(COUNTERS).map((k) => [k, 0])) as Record<CounterName, number>;
    this.prom = Object.fromEntries(
      Object.entries(COUNTERS).map(([k, help]) => [k, new client.Counter({ name: `fleetboot_cache_${snake(k)}_total`, help, registers: [registry] })]),
    ) as Record<CounterName, client.Counter>;
    new client.Gauge({ name: 'fleetboot_cache_size_bytes', help: 'bytes of files in the cache', registers: [registry], collect() { this.set(gauges.sizeBytes()); } });
    new client.Gauge({ name: 'fleetboot_cache_files', help: 'files in the cache', registers: [registry], collect() { this.set(gauges.files()); } });
    new client.Gauge({ name: 'fleetboot_cache_downloads_in_flight', help: 'upstream downloads running', registers: [registry], collect() { this.set(gauges.inflight()); } });
  }

  inc(name: CounterName, n = 1): void {
    if (n <= 0) return;
    this.values[name] += n;
    this.prom[name].inc(n);
  }
}
