// Package cache configuration (the `cache:` section). Defaults live here so `fleetboot check`
// and the running cache agree (docs/cache.md lists them). The default upstream is the public Debian CDN; tests never use
// it (they point `repos` at a loopback server or at the machine's own apt source).
import { z } from 'zod';

export const cacheRepoSchema = z
  .object({
    /** URL segment under /mirror: /mirror/<name>/dists/... */
    name: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'repo names are lower-case URL segments'),
    /** upstream base URL (http or https), e.g. http://deb.debian.org/debian */
    url: z.string().url().regex(/^https?:\/\//, 'upstream must be http(s)'),
    /** archive layout: deb (dists/, pool/: Debian, Ubuntu) or rpm (repodata/, *.rpm, .treeinfo) */
    format: z.enum(['deb', 'rpm']).default('deb'),
  })
  .strict();

export const cacheConfigSchema = z
  .object({
    enabled: z.boolean().default(false),
    /** cache directory; relative paths are resolved against the config file's directory */
    dir: z.string().default('var/cache'),
    /** size limit of the cache; least-recently-used .debs/.udebs are evicted beyond it */
    maxBytes: z.number().int().positive().default(20 * 1024 ** 3),
    /** memory for the bytes of recently hit files (each up to 16 MiB; 0: always read from disk) */
    hotBytes: z.number().int().min(0).default(128 * 1024 ** 2),
    /** index files (Release, Packages, ...) younger than this are served without asking upstream */
    indexFreshSeconds: z.number().int().min(0).default(300),
    /** connect/headers timeout and the longest silence allowed mid-body */
    upstreamTimeoutMs: z.number().int().positive().default(30_000),
    repos: z
      .array(cacheRepoSchema)
      .min(1)
      .refine((rs) => new Set(rs.map((r) => r.name)).size === rs.length, 'repo names must be unique')
      .default([{ name: 'debian', url: 'http://deb.debian.org/debian', format: 'deb' }]),
  })
  // strict and a plain ZodObject (no top-level effects) so the main schema can embed it and
  // walk its shape for FLEETBOOT_CACHE_* environment overrides
  .strict();

export type CacheConfig = z.infer<typeof cacheConfigSchema>;
/** what a config file (or a test) may write: defaults not yet applied */
export type CacheConfigInput = z.input<typeof cacheConfigSchema>;
export type CacheRepo = z.infer<typeof cacheRepoSchema>;
