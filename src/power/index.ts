// powerFor: the driver for one host's `power:` entry. Cheap to call per action (drivers hold
// no connection between calls), so a config reload takes effect on the next call.
import { IpmiDriver } from './ipmi.js';
import { RedfishDriver } from './redfish.js';
import { SshDriver } from './ssh.js';
import { ManualDriver } from './manual.js';
import { PowerError, type PowerDriver, type PowerDriverOptions, type PowerHost, type SecretSource } from './types.js';

export function powerFor(host: PowerHost, secrets: SecretSource, opts: PowerDriverOptions): PowerDriver {
  const p = host.power;
  if (!p) throw new PowerError(`host "${host.name}" has no power: entry in the inventory`, 'config');
  switch (p.driver) {
    case 'ipmi':
      return new IpmiDriver(p, secrets, opts);
    case 'redfish':
      return new RedfishDriver(p, secrets, opts);
    case 'ssh':
      return new SshDriver(p, opts);
    case 'manual':
      return new ManualDriver(host.name, p);
  }
}

export * from './types.js';
export { PowerService, type PowerServiceOptions } from './service.js';
export { EnvSecrets } from './secrets.js';
