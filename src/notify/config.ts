// The `notify:` section: webhooks paged on rollout events (docs/rollouts.md, "Notifications").
// A secret never sits in YAML: `secretEnv` names a FLEETBOOT_SECRET_* variable; its value goes
// into the URL where it says {secret} (chat webhooks carry their key in the path), otherwise
// into an `Authorization: Bearer` header.
import { z } from 'zod';

export const webhookSchema = z
  .object({
    url: z
      .string()
      .max(2000)
      .refine((u) => {
        try {
          return ['http:', 'https:'].includes(new URL(u.replace(/\{secret\}/g, 'x')).protocol);
        } catch {
          return false;
        }
      }, 'must be an http(s) URL ({secret} may stand for the secret)'),
    /** alertmanager: an alerts array (POST it to Alertmanager's /api/v2/alerts); slack: {"text": ...}; json: fleetboot's own document */
    format: z.enum(['alertmanager', 'slack', 'json']).default('json'),
    secretEnv: z.string().regex(/^FLEETBOOT_SECRET_[A-Z0-9_]{1,64}$/, 'must name a FLEETBOOT_SECRET_* environment variable').optional(),
    /** which events go to this webhook (default: all three) */
    events: z.array(z.enum(['rollout.canary_failed', 'rollout.stopped_budget', 'rollout.completed'])).optional(),
  })
  .strict();

export const notifyConfigSchema = z
  .object({
    webhooks: z.array(webhookSchema).max(20).default([]),
    /** deliveries per notification before it is given up (recorded in the outbox) */
    maxAttempts: z.number().int().min(1).max(50).default(8),
    /** delay before the first retry; doubles each time, capped at 10 minutes */
    backoffSeconds: z.number().min(0.01).max(600).default(5),
    /** per request */
    timeoutSeconds: z.number().min(0.1).max(120).default(10),
  })
  .strict();

export type NotifyConfig = z.infer<typeof notifyConfigSchema>;
export type Webhook = z.infer<typeof webhookSchema>;
