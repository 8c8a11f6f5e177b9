// Inventory schema: roles and hosts, meant to live in git next to the config.
import { z } from 'zod';
import { fromZod, type Issue } from './issues.js';
import { powerSchema } from './power-schema.js';

const MAC_RE = /^([0-9a-f]{2}[:-]){5}[0-9a-f]{2}$/i;
export const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const IPV4_RE = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

export const ipv4 = z.string().regex(IPV4_RE, 'must be an IPv4 address like 10.0.0.5');

export const mac = z
  .string()
  .regex(MAC_RE, 'must be a MAC address like 52:54:00:12:34:56')
  .transform((m) => m.toLowerCase().replace(/-/g, ':'));

/** Free-form per-role / per-host template variables (strings, numbers, booleans, lists, maps). */
export const vars = z.record(z.string(), z.unknown()).default({});

export const partitioningSchema = z
  .object({
    // keep-data: reformat the OS partitions only, keep the partition labelled `dataLabel`.
    // wipe: the whole disk is the installer's (new machines).
    scheme: z.enum(['keep-data', 'wipe']).default('keep-data'),
    disk: z.string().default('/dev/vda'),
    dataLabel: z.string().default('data'),
    dataMount: z.string().default('/data'),
    // root partition size for scheme wipe (honoured by the Debian preseed; kickstart's autopart
    // and autoinstall's direct layout size root themselves). The rest of the disk becomes the
    // data partition, so a later keep-data reinstall lays its >= 2 GiB root into this space.
    rootSizeMiB: z.number().int().min(2048, 'at least 2048: a later keep-data reinstall needs a >= 2 GiB root in the space wipe leaves for the OS').default(4096),
  })
  .strict()
  .default({});

export const roleSchema = z
  .object({
    description: z.string().optional(),
    // kernel, initrd and template are required of a host's install (first) role only; a role
    // used as an add-on (packages, vars) leaves them out
    kernel: z.string().min(1).optional(),
    initrd: z.string().min(1).optional(),
    /** nunjucks string: may use {{ urls.answer }}, {{ host.name }}, {{ syslog.host }} ... */
    cmdline: z.string().default(''),
    /** file name under the templates directory; its extension/kind does not matter to us */
    template: z.string().min(1).optional(),
    suite: z.string().default('bookworm'),
    packages: z.array(z.string().min(1)).default([]),
    partitioning: partitioningSchema,
    /** wait for the installed system's first-boot "up" callback before calling the run done */
    requireUp: z.boolean().default(false),
    /**
     * answer-file: the role's kernel/initrd/template (d-i preseed, kickstart, autoinstall).
     * image: fleetboot's own installer environment writes the role's prebuilt image (docs/images.md).
     */
    installer: z.enum(['answer-file', 'image']).default('answer-file'),
    vars,
  })
  .strict();

export const hostSchema = z
  .object({
    name: z.string().regex(NAME_RE, 'must be a DNS label (a-z, 0-9, -)'),
    macs: z.array(mac).min(1, 'a host needs at least one MAC'),
    /** first role is the install role (kernel/initrd/template); the others add packages and vars */
    roles: z.array(z.string().min(1)).min(1, 'a host needs at least one role'),
    address: ipv4.optional(),
    labels: z.array(z.string()).default([]),
    vars,
    /** the host's BMC (src/config/power-schema.ts, docs/power.md) */
    power: powerSchema.optional(),
  })
  .strict();

export const inventorySchema = z
  .object({
    roles: z.record(z.string().regex(NAME_RE, 'role names are DNS labels'), roleSchema).default({}),
    hosts: z.array(hostSchema).default([]),
  })
  .strict();

export type Role = z.infer<typeof roleSchema>;
export type Host = z.infer<typeof hostSchema>;
export type Inventory = z.infer<typeof inventorySchema>;

/**
 * Roles and hosts validated one by one, so one bad host neither hides the errors of another
 * nor the cross-checks (duplicates, unknown roles) that do not depend on it.
 */
export interface CheckedInventory {
  roles: Record<string, Role>;
  hosts: Host[];
  issues: Issue[];
}

export function validateInventory(raw: { roles?: unknown; hosts?: unknown }): CheckedInventory {
  const issues: Issue[] = [];
  const roles: Record<string, Role> = {};
  const present = new Set<string>();
  if (raw.roles !== undefined && raw.roles !== null) {
    if (typeof raw.roles !== 'object' || Array.isArray(raw.roles)) issues.push({ path: ['roles'], message: 'expected a mapping of role name -> role' });
    else {
      for (const [name, value] of Object.entries(raw.roles as Record<string, unknown>)) {
        present.add(name);
        let ok = true;
        if (!NAME_RE.test(name)) (issues.push({ path: ['roles', name], message: 'role names are DNS labels' }), (ok = false));
        const r = roleSchema.safeParse(value ?? {});
        if (!r.success) (issues.push(...fromZod(r.error, ['roles', name])), (ok = false));
        else if (ok) roles[name] = r.data;
      }
    }
  }
  const hosts: Host[] = [];
  let rawHosts: unknown[] = [];
  if (raw.hosts !== undefined && raw.hosts !== null) {
    if (!Array.isArray(raw.hosts)) issues.push({ path: ['hosts'], message: 'expected a list of hosts' });
    else rawHosts = raw.hosts;
  }
  rawHosts.forEach((h, i) => {
    const r = hostSchema.safeParse(h);
    if (r.success) hosts.push(r.data);
    else issues.push(...fromZod(r.error, ['hosts', i]));
  });
  issues.push(...crossCheckInventory(rawHosts, roles, present));
  return { roles, hosts, issues };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * Cross-reference checks zod cannot express: unknown roles, duplicate names/MACs/addresses,
 * install roles without kernel/initrd/template. They read each field that is valid on its
 * own, even from a host that has other errors. `present` holds every role name defined,
 * valid or not: a reference to an invalid role is not also "unknown".
 */
export function crossCheckInventory(rawHosts: unknown[], roles: Record<string, Role>, present: Set<string> = new Set(Object.keys(roles))): Issue[] {
  const issues: Issue[] = [];
  const names = new Map<string, number>();
  const macs = new Map<string, string>();
  const addrs = new Map<string, string>();
  rawHosts.forEach((raw, i) => {
    if (!raw || typeof raw !== 'object') return;
    const h = raw as Record<string, unknown>;
    const label = str(h.name) ?? `hosts[${i}]`;
    const name = str(h.name);
    if (name !== undefined) {
      if (names.has(name)) issues.push({ path: ['hosts', i, 'name'], message: `duplicate host name "${name}" (also hosts[${names.get(name)}])` });
      else names.set(name, i);
    }
    if (Array.isArray(h.macs)) {
      h.macs.forEach((m, j) => {
        const parsed = mac.safeParse(m);
        if (!parsed.success) return;
        const other = macs.get(parsed.data);
        if (other !== undefined) issues.push({ path: ['hosts', i, 'macs', j], message: `MAC ${parsed.data} is already used by host "${other}"` });
        else macs.set(parsed.data, label);
      });
    }
    const addr = ipv4.safeParse(h.address);
    if (addr.success) {
      const other = addrs.get(addr.data);
      if (other !== undefined) issues.push({ path: ['hosts', i, 'address'], message: `address ${addr.data} is already used by host "${other}"` });
      else addrs.set(addr.data, label);
    }
    if (!Array.isArray(h.roles)) return;
    h.roles.forEach((r, j) => {
      if (typeof r === 'string' && !present.has(r)) issues.push({ path: ['hosts', i, 'roles', j], message: `unknown role "${r}" (known: ${[...present].join(', ') || 'none'})` });
    });
    const first = str(h.roles[0]);
    const install = first !== undefined ? roles[first] : undefined;
    if (install) {
      // an image role boots fleetboot's own installer environment: no kernel/initrd/template
      const missing = install.installer === 'image' ? [] : (['kernel', 'initrd', 'template'] as const).filter((k) => !install[k]);
      if (missing.length) issues.push({ path: ['hosts', i, 'roles', 0], message: `role "${first}" is this host's install role (listed first) but has no ${missing.join(', ')}` });
    }
  });
  return issues;
}
