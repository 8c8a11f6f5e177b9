// Admin web UI / auth settings. Secrets (session key, initial admin password) come from the
// environment only: FLEETBOOT_SECRET_SESSION_KEY, FLEETBOOT_SECRET_ADMIN_PASSWORD.
import { z } from 'zod';

export const webConfigSchema = z
  .object({
    /** serve the admin UI and require login for /api/v1 */
    enabled: z.boolean().default(true),
    sessionTtlSeconds: z.number().int().positive().default(12 * 3600),
    /** failed logins per IP per window before 429 */
    loginMaxAttempts: z.number().int().positive().default(10),
    loginWindowSeconds: z.number().int().positive().default(300),
    https: z
      .object({
        enabled: z.boolean().default(false),
        port: z.number().int().min(0).max(65535).default(8443),
        /** where the generated CA and certificate are kept */
        dir: z.string().default('db/tls'),
        hostnames: z.array(z.string()).default([]),
      })
      .strict()
      .default({}),
  })
  .strict();

export type WebConfig = z.infer<typeof webConfigSchema>;
