// A role + the config -> what buildImage needs, shared by the CLI and the daemon so both
// compute the same image id for the same role.
import type { LoadedConfig } from '../config/load.js';
import type { Logger } from '../log.js';
import { imageRepo, openBuildMirror } from './mirror.js';
import type { BuildRequest } from './build.js';

export type RoleBuild = Omit<BuildRequest, 'force' | 'onProgress' | 'signal' | 'log'>;

export class RoleError extends Error {
  constructor(
    message: string,
    readonly kind: 'unknown' | 'not-image' | 'config',
  ) {
    super(message);
  }
}

/** Roles that are installed from an image (installer: image), sorted. */
export function imageRoles(loaded: LoadedConfig): string[] {
  return Object.entries(loaded.config.roles)
    .filter(([, r]) => r.installer === 'image')
    .map(([n]) => n)
    .sort();
}

export function roleBuild(loaded: LoadedConfig, roleName: string, log: Logger, daemonBase?: string): RoleBuild {
  const role = Object.hasOwn(loaded.config.roles, roleName) ? loaded.config.roles[roleName] : undefined;
  if (!role) throw new RoleError(`unknown role "${roleName}"`, 'unknown');
  if (role.installer !== 'image') throw new RoleError(`role "${roleName}" has installer: ${role.installer}; images are built for roles with installer: image`, 'not-image');
  const repo = imageRepo(loaded);
  if (typeof repo === 'string') throw new RoleError(repo, 'config');
  const c = loaded.config;
  return {
    imagesDir: c.paths.images,
    role: roleName,
    suite: role.suite,
    packages: role.packages,
    upstream: repo.url,
    aptUrl: `${loaded.publicUrl}/mirror/${repo.name}`,
    openMirror: () => openBuildMirror(loaded, role.suite, log, { daemonBase }),
    keep: c.images.keep,
    zstdLevel: c.images.zstdLevel,
    timeoutMs: c.images.buildTimeoutSeconds * 1000,
  };
}
