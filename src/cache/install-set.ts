// What an install of a role will fetch from the mirror, worked out from the same inputs the
// install uses: every host that has the role (its answer file installs the packages of all
// its roles: config/holder.ts), that host's answer file as fleetboot renders it (d-i preseed:
// pkgsel/include, base-installer/kernel/image, install-recommends, mirror/suite, the /mirror
// repo it points at) and the role's boot files (kernel ABI for the module udebs, the udebs
// its initrd already has). Hosts whose installs would differ (install role, suite, repo,
// architecture) become separate plans.
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import type { InventoryIndex, ResolvedHost } from '../config/holder.js';
import { TemplateRenderer, buildContext } from '../install/render.js';
import { initrdPackages, kernelRelease } from './kernel.js';

/** What d-i puts into /target on its own, beyond the base system (debootstrap: Priority
 *  required + important) and what the preseed answers name. It comes from installer code,
 *  not from debconf, so it cannot be read from a template; this is the one place it is kept:
 *  - base-installer installs the kernel (base-installer/kernel/image; its default is the
 *    linux-image-<arch> metapackage) and the initramfs generator (initramfs-tools, the
 *    default of base-installer/initramfs-tools/initramfs-generator);
 *  - grub-installer on BIOS installs grub-pc (unless grub-installer/skip is true). */
export const DI_IMPLICIT = {
  kernel: (arch: string) => `linux-image-${arch}`,
  initramfs: 'initramfs-tools',
  bootloader: 'grub-pc',
} as const;

export interface InstallPlan {
  installRole: string;
  hosts: string[];
  template: string;
  /** the /mirror/<repo> the answer file points at, if it does */
  repo?: string;
  suite: string;
  arch: string;
  /** .debs asked for by name (resolved against Packages, closure added later) */
  packages: string[];
  recommends: boolean;
  /** d-i preseed: its udebs are fetched too */
  debianInstaller: boolean;
  kernelAbi: string | null;
  /** udebs the netboot initrd already holds (null: unknown) */
  initrdHas: Set<string> | null;
  notes: string[];
  /** set when the template is not a d-i preseed: nothing to resolve here */
  unsupported?: string;
}

export interface PlanSource {
  readonly config: Readonly<Config>;
  readonly publicUrl: string;
  readonly index: InventoryIndex;
}

/** d-i preseed answers: question -> value (continuation lines joined). */
export function preseedAnswers(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.replace(/\\\r?\n/g, ' ').split('\n')) {
    const m = /^\s*([a-z0-9-]+)\s+(\S+)\s+(\S+)(?:\s+(.*))?$/.exec(line);
    if (m && !line.trimStart().startsWith('#')) out.set(m[2], (m[4] ?? '').trim());
  }
  return out;
}

function hostsOf(src: PlanSource, roleName: string): ResolvedHost[] {
  const role = src.config.roles[roleName];
  if (!role) throw new Error(`unknown role: ${roleName}`);
  const hosts = src.index.all().filter((h) => h.host.roles.includes(roleName));
  if (hosts.length) return hosts;
  if (!role.template || !role.kernel || !role.initrd) throw new Error(`no host has role ${roleName}, and it is not an install role (no kernel/initrd/template)`);
  // an install role no host uses yet: what one host with only this role would install
  const host = { name: `${roleName}-host`, macs: [], roles: [roleName], labels: [], vars: {} };
  return [{ host, roleName, role: role as ResolvedHost['role'], packages: [...role.packages], vars: { ...role.vars } }];
}

export async function planRole(src: PlanSource, roleName: string, opts: { arch?: string } = {}): Promise<InstallPlan[]> {
  const renderer = new TemplateRenderer(src.config.paths.templates);
  const plans = new Map<string, InstallPlan>();
  for (const rh of hostsOf(src, roleName)) {
    const text = renderer.render(rh.role.template, buildContext(src, rh, { id: 0, token: 'cache-warm' }));
    const a = preseedAnswers(text);
    const arch = opts.arch ?? (typeof rh.vars.arch === 'string' ? rh.vars.arch : 'amd64');
    const debianInstaller = /^d-i\s/m.test(text);
    const suite = a.get('mirror/suite') || rh.role.suite;
    const repo = /\/mirror\/([^/]+)\/?$/.exec(a.get('mirror/http/directory') ?? '')?.[1] ?? (typeof rh.vars.mirror_repo === 'string' ? rh.vars.mirror_repo : undefined);
    const key = [rh.roleName, suite, repo, arch].join('\0');
    let p = plans.get(key);
    if (!p) {
      p = {
        installRole: rh.roleName, hosts: [], template: rh.role.template, repo, suite, arch, packages: [], recommends: false,
        debianInstaller, kernelAbi: null, initrdHas: null, notes: [],
      };
      if (!debianInstaller) p.unsupported = `${rh.role.template} is not a d-i preseed: warm resolves Debian-installer roles only`;
      else await bootFiles(src, rh, p);
      plans.set(key, p);
    }
    p.hosts.push(rh.host.name);
    if (!debianInstaller) continue;
    const want = new Set(p.packages);
    const add = (n: string | undefined) => n && want.add(n);
    rh.packages.forEach(add);
    (a.get('pkgsel/include') ?? '').split(/[\s,]+/).forEach((n) => add(n || undefined));
    add(a.get('base-installer/kernel/image') || DI_IMPLICIT.kernel(arch));
    add(DI_IMPLICIT.initramfs);
    if (a.get('grub-installer/skip') !== 'true') add(DI_IMPLICIT.bootloader);
    p.packages = [...want];
    // d-i's default is to install Recommends; only an explicit false turns it off
    p.recommends ||= a.get('base-installer/install-recommends') !== 'false';
    if (a.get('pkgsel/run_tasksel') !== 'false' && !p.notes.some((n) => n.startsWith('tasksel'))) p.notes.push('tasksel runs (pkgsel/run_tasksel is not false): its tasks are not resolved');
  }
  return [...plans.values()];
}

async function bootFiles(src: PlanSource, rh: ResolvedHost, p: InstallPlan): Promise<void> {
  const kernel = join(src.config.paths.assets, rh.role.kernel);
  p.kernelAbi = await kernelRelease(kernel);
  if (!p.kernelAbi) p.notes.push(`kernel ${kernel} is missing or not a bzImage: module udebs of every kernel ABI in the index are included`);
  const initrd = join(src.config.paths.assets, rh.role.initrd);
  p.initrdHas = await initrdPackages(initrd);
  if (!p.initrdHas) p.notes.push(`initrd ${initrd} is missing or holds no var/lib/dpkg/status: udebs it already has are fetched too`);
}
