// "Can this role boot at all?": the files a marked host of the role will ask for. Marking a
// host whose kernel, initrd or role image is missing would make its iPXE script loop
// "boot failed, retrying" until the run stalls, so marking (CLI, API, UI) is refused with the
// paths this returns unless forced (audited). Other parts add checks with addBootFilesCheck.
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Config } from '../config/schema.js';
import type { Role } from '../config/inventory.js';

/** Returns the absolute paths (or path patterns) the role needs and that are not there. */
export type BootFilesCheck = (roleName: string, role: Role, paths: Config['paths']) => string[];

/** kernel and initrd under paths.assets (what /assets/... and TFTP serve). */
const assetFiles: BootFilesCheck = (_name, role, paths) =>
  [role.kernel, role.initrd].filter((f): f is string => !!f).map((f) => resolve(paths.assets, f)).filter((f) => !existsSync(f));

/**
 * installer: image roles also need a built image: at least one manifest <images>/<role>/*.json
 * (src/image/store.ts writes the manifest last, after the image file, so a manifest means a
 * complete image).
 */
const roleImage: BootFilesCheck = (name, role, paths) => {
  if (role.installer !== 'image') return [];
  const dir = join(paths.images, name);
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    // no directory: no image
  }
  return names.some((n) => n.endsWith('.json') && !n.startsWith('.')) ? [] : [join(dir, '*.json')];
};

const checks: BootFilesCheck[] = [assetFiles, roleImage];

export function addBootFilesCheck(check: BootFilesCheck): void {
  checks.push(check);
}

/** What role `roleName` needs to boot and lacks; [] when it can boot (or is not a role). */
export function bootFilesMissing(config: Pick<Config, 'paths' | 'roles'>, roleName: string): string[] {
  const role = config.roles[roleName];
  if (!role) return [];
  return checks.flatMap((c) => c(roleName, role, config.paths));
}

/** The same for every role used as an install role (first role of a host): the hosts page. */
export function missingByRole(config: Pick<Config, 'paths' | 'roles' | 'hosts'>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const r of new Set(config.hosts.map((h) => h.roles[0]))) {
    const m = bootFilesMissing(config, r);
    if (m.length) out[r] = m;
  }
  return out;
}
