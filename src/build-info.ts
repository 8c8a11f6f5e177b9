// fleetboot_build_info{version,node} 1: which fleetboot (package.json) runs on which Node.
import client from 'prom-client';
import { fleetbootVersion } from './cli/version.js';

export function buildInfo(registry: client.Registry): void {
  const g = new client.Gauge({ name: 'fleetboot_build_info', help: 'fleetboot version and Node.js version (value is always 1)', labelNames: ['version', 'node'], registers: [registry] });
  g.set({ version: fleetbootVersion(), node: process.versions.node }, 1);
}
