// The HTTP edge's two metrics, fleetboot_http_requests_total{route,method,status} and
// fleetboot_http_request_duration_seconds{route}, counted in plain maps and arrays and turned
// into Prometheus samples only when /metrics is scraped.
//
// Why not prom-client's Counter/Histogram: their labelled inc/observe (label validation, label
// hashing, a timer closure per request) cost ~6 µs of CPU per request in the daemon under wrk
// on a 60 KiB asset — a sixth of the whole request, and 20 % of the req/s (docs/performance.md).
// Here a request costs one string key and two Map lookups. Names, labels, buckets and the
// exposition text are what prom-client produced before; they are registered on the same
// registry as custom metrics (prom-client's Registry takes any object with get()).
import type { Registry } from 'prom-client';

export const DURATION_BUCKETS = [0.001, 0.005, 0.02, 0.1, 0.5, 2, 10, 60] as const;
const REQUESTS = 'fleetboot_http_requests_total';
const DURATION = 'fleetboot_http_request_duration_seconds';

interface Count { route: string; method: string; status: string; n: number }
interface Timing { buckets: number[]; sum: number; count: number }

export class HttpMeter {
  private readonly counts = new Map<string, Count>();
  private readonly timings = new Map<string, Timing>();

  /** one finished request; `seconds` from its start to 'finish' */
  record(route: string, method: string, status: number, seconds: number): void {
    const key = `${route}\u0000${method}\u0000${status}`;
    const c = this.counts.get(key);
    if (c) c.n++;
    else this.counts.set(key, { route, method, status: String(status), n: 1 });
    let t = this.timings.get(route);
    if (!t) this.timings.set(route, (t = { buckets: DURATION_BUCKETS.map(() => 0), sum: 0, count: 0 }));
    // per bucket, not cumulative (made cumulative when scraped)
    const i = DURATION_BUCKETS.findIndex((b) => seconds <= b);
    if (i >= 0) t.buckets[i]++;
    t.sum += seconds;
    t.count++;
  }

  /** counts of a route and method, by status (tests) */
  count(route: string, method: string, status: number): number {
    return this.counts.get(`${route}\u0000${method}\u0000${status}`)?.n ?? 0;
  }

  private requestsMetric() {
    return custom(REQUESTS, 'HTTP requests by route and status', 'counter', ['route', 'method', 'status'], () => this.counts.clear(), () =>
      [...this.counts.values()].map((c) => ({ labels: { route: c.route, method: c.method, status: c.status }, value: c.n })),
    );
  }

  private durationMetric() {
    return custom(DURATION, 'HTTP request duration', 'histogram', ['route'], () => this.timings.clear(), () => {
      const values: Sample[] = [];
      for (const [route, t] of this.timings) {
        let acc = 0;
        DURATION_BUCKETS.forEach((le, i) => {
          acc += t.buckets[i];
          values.push({ labels: { le, route }, value: acc, metricName: `${DURATION}_bucket` });
        });
        values.push({ labels: { le: '+Inf', route }, value: t.count, metricName: `${DURATION}_bucket` });
        values.push({ labels: { route }, value: t.sum, metricName: `${DURATION}_sum` });
        values.push({ labels: { route }, value: t.count, metricName: `${DURATION}_count` });
      }
      return values;
    });
  }

  register(registry: Registry): this {
    registry.registerMetric(this.requestsMetric() as never);
    registry.registerMetric(this.durationMetric() as never);
    return this;
  }
}

interface Sample {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

/** A metric prom-client's Registry prints like its own: what get() returns is what Counter and
 *  Histogram return (name, help, type, aggregator, samples). */
function custom(name: string, help: string, type: 'counter' | 'histogram', labelNames: string[], reset: () => void, samples: () => Sample[]) {
  const head = { name, help, type, aggregator: 'sum' };
  return { ...head, labelNames, reset, get: async () => ({ ...head, values: samples() }) };
}

const meters = new WeakMap<Registry, HttpMeter>();

/** the registry's meter (the express app and the lean routes count into the same one) */
export function httpMeter(registry: Registry): HttpMeter {
  let m = meters.get(registry);
  if (!m) meters.set(registry, (m = new HttpMeter().register(registry)));
  return m;
}
