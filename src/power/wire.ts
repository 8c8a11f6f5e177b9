// The PowerService over the live inventory (ConfigHolder): one per daemon or CLI process.
import type { ConfigHolder } from '../config/holder.js';
import type { Logger } from '../log.js';
import { EnvSecrets } from './secrets.js';
import { PowerService } from './service.js';

export function createPowerService(holder: ConfigHolder, log: Logger, env: NodeJS.ProcessEnv = process.env, concurrency?: number): PowerService {
  return new PowerService({ lookup: (name) => holder.index.byName(name)?.host, secrets: new EnvSecrets(env), log, concurrency, driverOptions: { env } });
}
