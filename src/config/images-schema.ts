// The `images:` config section (role images, issue 12, docs/images.md).
import { z } from 'zod';

export const imagesConfigSchema = z
  .object({
    /** images kept per role by the collector after each build (the newest N) */
    keep: z.number().int().min(1).max(100).default(3),
    /** a build running longer than this is killed and fails (cold package cache: minutes) */
    buildTimeoutSeconds: z.number().int().min(60).max(6 * 3600).default(1800),
    /** zstd level for the compressed image (docs/images.md has the measured trade-off) */
    zstdLevel: z.number().int().min(1).max(19).default(3),
    /** the package-cache repo (cache.repos[].name, a Debian archive) the image is built from */
    repo: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/).default('debian'),
  })
  .strict()
  .default({});

export type ImagesConfig = z.infer<typeof imagesConfigSchema>;
