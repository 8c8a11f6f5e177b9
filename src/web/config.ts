// Admin web UI / auth settings (the `web:` section). The only secret the admin side reads is
// the initial admin password for `fleetboot user add`, from FLEETBOOT_SECRET_ADMIN_PASSWORD;
// sessions need no server key (their ids are random and stored hashed).
import { z } from 'zod';

export const webConfigSchema = z
  .object({
    /**
     * serve the browser UI and its login/setup pages. Off, /api/v1 still requires credentials:
     * API tokens only (`fleetboot user token NAME`), since nobody can log in.
     */
    enabled: z.boolean().default(true),
    sessionTtlSeconds: z.number().int().positive().default(12 * 3600),
    /** failed logins per IP per window before 429 */
    loginMaxAttempts: z.number().int().positive().default(10),
    loginWindowSeconds: z.number().int().positive().default(300),
    /**
     * password hashes (scrypt) running at once; they share libuv's thread pool with all file
     * I/O, so keep this well below UV_THREADPOOL_SIZE (the daemon sets 8 unless you do)
     */
    loginMaxConcurrentHashes: z.number().int().min(1).max(64).default(2),
    /** login attempts waiting for a hash slot; beyond this they are answered 503 at once */
    loginMaxQueuedHashes: z.number().int().min(0).max(10_000).default(16),
    /** the one-time /setup?token=… link printed at start (no admin yet) works this long */
    setupTokenTtlSeconds: z.number().int().positive().default(3600),
    https: z
      .object({
        /** admin UI and API over HTTPS (plain HTTP then redirects/refuses them; boot stays on HTTP) */
        enabled: z.boolean().default(false),
        port: z.number().int().min(0).max(65535).default(8443),
        /** where the generated CA and certificate are kept */
        dir: z.string().default('db/tls'),
        hostnames: z.array(z.string()).default([]),
        /** Strict-Transport-Security max-age on HTTPS responses; 0 sends none */
        hstsSeconds: z.number().int().min(0).default(180 * 86_400),
      })
      .strict()
      .default({}),
  })
  .strict();

export type WebConfig = z.infer<typeof webConfigSchema>;
