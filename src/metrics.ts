// The Prometheus registry. Each subsystem registers its own metrics on the registry it is
// given; this file only creates it and holds the install-run metrics (the HTTP edge's are in
// src/http/http-meter.ts).
import client from 'prom-client';
import type { RunStore } from './store/runs.js';
import { OPEN_STATES } from './install/machine.js';
import { buildInfo } from './build-info.js';

export type { Registry } from 'prom-client';

export function createRegistry(): client.Registry {
  const registry = new client.Registry();
  // no prefix: the standard process_* / nodejs_* names that Node dashboards expect
  client.collectDefaultMetrics({ register: registry });
  buildInfo(registry);
  return registry;
}

export function installMetrics(registry: client.Registry, store: () => RunStore | undefined) {
  const states = [...OPEN_STATES, 'done', 'failed', 'cancelled'];
  return new client.Gauge({
    name: 'fleetboot_install_runs',
    help: 'Install runs by state (all time; open states are current)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const s = store();
      if (!s) return;
      const counts = s.countByState();
      for (const st of states) this.set({ state: st }, counts[st] ?? 0);
    },
  });
}
