// BMC credentials come from the environment only: `passwordSecret: BMC_WEB01` reads
// FLEETBOOT_SECRET_BMC_WEB01, or, when that is unset, the file FLEETBOOT_SECRET_BMC_WEB01_FILE
// names (a mounted secret; one trailing newline is dropped). Values are never logged and never
// put on a child's argv (ipmitool reads IPMI_PASSWORD with -E).
import { readFileSync, statSync } from 'node:fs';
import { PowerError, type SecretSource } from './types.js';
import { SECRET_NAME_RE } from '../config/power-schema.js';

const MAX_SECRET_FILE = 64 * 1024;

export class EnvSecrets implements SecretSource {
  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  get(name: string): string {
    if (!SECRET_NAME_RE.test(name)) throw new PowerError(`bad secret name "${name}"`, 'config');
    const v = this.env[`FLEETBOOT_SECRET_${name}`];
    if (v !== undefined && v !== '') return v;
    const file = this.env[`FLEETBOOT_SECRET_${name}_FILE`];
    if (file) {
      let text: string;
      try {
        if (statSync(file).size > MAX_SECRET_FILE) throw new Error('larger than 64 KiB');
        text = readFileSync(file, 'utf8');
      } catch (e) {
        // the path is not secret; its content is
        throw new PowerError(`FLEETBOOT_SECRET_${name}_FILE: cannot read ${file}: ${(e as Error).message}`, 'config');
      }
      const s = text.replace(/\r?\n$/, '');
      if (s === '') throw new PowerError(`FLEETBOOT_SECRET_${name}_FILE: ${file} is empty`, 'config');
      return s;
    }
    throw new PowerError(`set FLEETBOOT_SECRET_${name} (or FLEETBOOT_SECRET_${name}_FILE naming a file) in the daemon's environment`, 'config');
  }
}

/** The environment handed to ipmitool/ssh: without fleetboot's secrets (children never need them all). */
export function childEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) if (!k.startsWith('FLEETBOOT_SECRET_')) out[k] = v;
  return out;
}
