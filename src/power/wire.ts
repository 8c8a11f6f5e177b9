// The PowerService over the live inventory (ConfigHolder): one per daemon or CLI process. With
// a registry (the daemon's) it also exports fleetboot_power_* metrics.
import client from 'prom-client';
import type { ConfigHolder } from '../config/holder.js';
import type { Logger } from '../log.js';
import type { Registry } from '../metrics.js';
import { EnvSecrets } from './secrets.js';
import { PowerService } from './service.js';

export function createPowerService(holder: ConfigHolder, log: Logger, env: NodeJS.ProcessEnv = process.env, registry?: Registry): PowerService {
  let onResult: ConstructorParameters<typeof PowerService>[0]['onResult'];
  let svc: PowerService | undefined;
  if (registry) {
    const actions = new client.Counter({ name: 'fleetboot_power_actions_total', help: 'BMC actions by driver, action and result (ok, or the error kind)', labelNames: ['driver', 'action', 'result'], registers: [registry] });
    const attempts = new client.Counter({ name: 'fleetboot_power_attempts_total', help: 'BMC tries including retries', labelNames: ['driver'], registers: [registry] });
    new client.Gauge({ name: 'fleetboot_power_calls_in_flight', help: 'BMC calls running now', registers: [registry], collect() { this.set(svc?.inFlight ?? 0); } });
    onResult = (r) => {
      actions.inc({ driver: r.driver ?? 'none', action: r.action, result: r.ok ? 'ok' : (r.errorKind ?? 'error') });
      if (r.attempts) attempts.inc({ driver: r.driver ?? 'none' }, r.attempts);
    };
  }
  svc = new PowerService({ lookup: (name) => holder.index.byName(name)?.host, secrets: new EnvSecrets(env), log, onResult, driverOptions: { env } });
  return svc;
}
