// The `dhcp:` configuration section. Defaults live here so `fleetboot check` and the running
// server agree. The main config schema imports dhcpConfigSchema.
import { z } from 'zod';
import { defaultLoaderFiles } from '../boot/loader.js';
import { ipToNum } from './pool.js';

const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const ipv4 = z.string().regex(IPV4_RE, 'must be an IPv4 address like 10.0.0.5');

const loaderSchema = z
  .object({
    bios: z.string().default(defaultLoaderFiles.bios),
    efiX64: z.string().default(defaultLoaderFiles.efiX64),
    efiIa32: z.string().default(defaultLoaderFiles.efiIa32),
    efiArm64: z.string().default(defaultLoaderFiles.efiArm64),
    httpX64: z.string().default(defaultLoaderFiles.httpX64),
    httpArm64: z.string().default(defaultLoaderFiles.httpArm64),
    ipxeScript: z.string().default(defaultLoaderFiles.ipxeScript),
  })
  .strict()
  .default({});

export const dhcpConfigSchema = z
  .object({
    enabled: z.boolean().default(false),
    /** full: we are the DHCP server. proxy: another server hands out addresses; we add boot info. */
    mode: z.enum(['full', 'proxy']).default('full'),
    /**
     * provisioning interface; its first IPv4 address and netmask are used (at start) when
     * serverAddress / netmask are not given
     */
    interface: z.string().optional(),
    /** our address on the provisioning subnet: server identifier, reply source */
    serverAddress: ipv4.optional(),
    /** listen address for the broadcast socket; 0.0.0.0 is the only way to see 255.255.255.255 */
    listen: ipv4.default('0.0.0.0'),
    port: z.number().int().min(1).max(65535).default(67),
    /** PXE boot-server port used by proxyDHCP clients after they have an address */
    proxyPort: z.number().int().min(1).max(65535).default(4011),
    /** port replies to clients go to (68; tests may move it) */
    clientPort: z.number().int().min(1).max(65535).default(68),
    pool: z.object({ start: ipv4, end: ipv4 }).strict().optional(),
    /** subnet mask of the provisioning subnet; unset: the interface's, else 255.255.255.0 */
    netmask: ipv4.optional(),
    router: ipv4.optional(),
    dns: z.array(ipv4).default([]),
    domain: z.string().optional(),
    leaseSeconds: z.number().int().min(60).default(3600),
    /** how long an offered address is held for the client's REQUEST */
    offerSeconds: z.number().int().min(5).default(60),
    /** a DECLINEd address (someone else uses it) is kept out of the pool this long */
    declineSeconds: z.number().int().min(0).default(600),
    unknownPolicy: z.enum(['ignore', 'discover', 'address-only']).default('ignore'),
    /**
     * NAK REQUESTs for addresses in our subnet that we did not hand out (RFC 2131 §4.3.2
     * "authoritative"). Off, such requests are ignored and the client times out instead.
     */
    authoritative: z.boolean().default(true),
    loader: loaderSchema,
  })
  .strict()
  .superRefine((c, ctx) => {
    if (!c.enabled) return;
    if (!c.serverAddress && !c.interface) ctx.addIssue({ code: 'custom', message: 'dhcp needs serverAddress or interface', path: ['serverAddress'] });
    if (c.mode === 'full') {
      if (!c.pool) ctx.addIssue({ code: 'custom', message: 'full mode needs a pool {start, end}', path: ['pool'] });
      else if (ipToNum(c.pool.start) > ipToNum(c.pool.end)) ctx.addIssue({ code: 'custom', message: 'pool start is after pool end', path: ['pool'] });
      else if (c.netmask || !c.interface) {
        // with only `interface`, the mask is known at start (DhcpServer checks it there)
        if (!poolFits(c.pool, c.netmask ?? DEFAULT_NETMASK)) ctx.addIssue({ code: 'custom', message: 'pool spans more than one subnet', path: ['pool'] });
      }
    }
  });

export type DhcpConfig = z.infer<typeof dhcpConfigSchema>;

export const DEFAULT_NETMASK = '255.255.255.0';

/** Does the pool lie inside one subnet of `mask`? */
export function poolFits(pool: { start: string; end: string }, mask: string): boolean {
  const m = ipToNum(mask);
  return (ipToNum(pool.start) & m) === (ipToNum(pool.end) & m);
}
export type DhcpConfigInput = z.input<typeof dhcpConfigSchema>;
