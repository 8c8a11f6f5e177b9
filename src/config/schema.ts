// The one configuration schema. Everything the daemon reads from YAML (and FLEETBOOT_* env)
// is declared here or in a subsystem's own section schema imported below; defaults live in
// the schema so `fleetboot check` and the running daemon can never disagree.
import { z } from 'zod';
import { inventorySchema, ipv4 } from './inventory.js';
import { dhcpConfigSchema } from '../dhcp/config.js';
import { tftpConfigSchema } from '../tftp/config.js';
import { cacheConfigSchema } from '../cache/config.js';
import { webConfigSchema } from '../web/config.js';
import { imagesConfigSchema } from './images-schema.js';
import { notifyConfigSchema } from '../notify/config.js';
import { httpLimitsShape } from '../http/limits.js';
import { reloadConfigSchema } from './reload-guard.js';

export const serverSchema = z
  .object({
    /** The provisioning address clients reach us at: DHCP next-server, URLs in scripts. */
    address: ipv4.default('127.0.0.1'),
    /** Base URL for boot/install URLs; default http://<address>:<http.port> */
    publicUrl: z.string().url().optional(),
  })
  .strict()
  .default({});

export const httpSchema = z
  .object({
    enabled: z.boolean().default(true),
    listen: z.string().default('0.0.0.0'),
    port: z.number().int().min(0).max(65535).default(8080),
    /** trust X-Forwarded-For from a reverse proxy in front of the admin UI */
    trustProxy: z.boolean().default(false),
    /** descriptors accepting on the HTTP port: Node 20 accepts one connection per descriptor per
     *  event-loop iteration, so a boot storm's connections wait in the kernel's queue without
     *  more (src/http/accept-fanout.ts) */
    acceptDescriptors: z.number().int().min(1).max(64).default(8),
    // timeouts and connection caps (src/http/limits.ts)
    ...httpLimitsShape,
  })
  .strict()
  .default({});

export const pathsSchema = z
  .object({
    db: z.string().default('db/fleetboot.sqlite'),
    assets: z.string().default('boot-assets'),
    templates: z.string().default('preseed-templates'),
    /** role images (issue 12): <images>/<role>/<id>.ext4.zst + <id>.json manifests */
    images: z.string().default('var/images'),
  })
  .strict()
  .default({});

export const installSchema = z
  .object({
    /** a token URL stops working this long after the run was marked (and when the run ends) */
    tokenTtlSeconds: z.number().int().positive().default(6 * 3600),
    /** booting/installing with no event for this long -> stalled */
    stallSeconds: z.number().int().positive().default(15 * 60),
    /** rebooting (installer done) with no first-boot "up" callback for this long -> failed */
    upDeadlineSeconds: z.number().int().positive().default(20 * 60),
    /** accept a run's token only from the address that first booted the run (docs/web.md) */
    bindTokenToAddress: z.boolean().default(false),
    /** client events (progress, boot, file fetches) one run may store; more get 429 (install/event-budget.ts) */
    maxEventsPerRun: z.number().int().positive().default(5000),
    /** client events per second per run, sustained ... */
    eventsPerSecond: z.number().positive().default(10),
    /** ... with this burst on top */
    eventBurst: z.number().int().positive().default(100),
    /** installer syslog lines one run may store (a d-i install sends a few thousand); more are dropped */
    maxLogLinesPerRun: z.number().int().positive().default(20000),
    /** syslog lines per second per run, sustained ... */
    logLinesPerSecond: z.number().positive().default(100),
    /** ... with this burst on top */
    logBurst: z.number().int().positive().default(2000),
  })
  .strict()
  .default({});

const discoverySchema = z
  .object({ kernel: z.string(), initrd: z.string(), cmdline: z.string().default('') })
  .strict();

export const bootSchema = z
  .object({
    /** what an unknown MAC gets from /boot.ipxe: a local boot, a discovery image, or nothing */
    unknown: z.enum(['local', 'discovery', 'silence']).default('local'),
    discovery: discoverySchema.optional(),
    /**
     * How "boot from local disk" is expressed in iPXE. `exit` returns to the firmware, which
     * tries the next boot device (right for UEFI and most BIOSes); `sanboot` forces drive 0x80
     * (some BIOSes hang after iPXE exits — a known SeaBIOS/PXE-ROM quirk).
     */
    localBoot: z.enum(['exit', 'sanboot']).default('exit'),
  })
  .strict()
  .default({});

export const syslogSchema = z
  .object({
    enabled: z.boolean().default(true),
    listen: z.string().default('0.0.0.0'),
    port: z.number().int().min(0).max(65535).default(5514),
  })
  .strict()
  .default({});

export const logSchema = z
  .object({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    pretty: z.boolean().default(false),
  })
  .strict()
  .default({});

export const configSchema = z
  .object({
    server: serverSchema,
    http: httpSchema,
    paths: pathsSchema,
    install: installSchema,
    boot: bootSchema,
    syslog: syslogSchema,
    log: logSchema,
    tftp: tftpConfigSchema.default({}),
    dhcp: dhcpConfigSchema.default({}),
    cache: cacheConfigSchema.default({}),
    web: webConfigSchema.default({}),
    images: imagesConfigSchema,
    notify: notifyConfigSchema.default({}),
    reload: reloadConfigSchema.default({}),
    /** path of a separate inventory file (relative to this file); or roles/hosts inline */
    inventory: z.string().optional(),
    roles: inventorySchema.shape.roles,
    hosts: inventorySchema.shape.hosts,
  })
  .strict();

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.infer<typeof configSchema>;
