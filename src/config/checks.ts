// Checks across settings that the schema cannot express. Each runs only when the settings it
// reads are valid on their own (the loader passes just those), so one mistake never hides
// another and never produces a follow-on error.
import { existsSync } from 'node:fs';
import { isAbsolute, posix, relative, resolve, sep } from 'node:path';
import nunjucks from 'nunjucks';
import type { Config } from './schema.js';
import type { Role } from './inventory.js';
import type { Issue } from './issues.js';
import { FETCHED_ASSETS } from './asset-sources.js';

/** Sections that passed validation (paths already resolved to absolute). */
export type ValidSections = Partial<Pick<Config, 'server' | 'http' | 'paths' | 'boot' | 'dhcp'>>;

export function isInside(dir: string, file: string): boolean {
  const rel = relative(dir, file);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

function assetIssue(assetsDir: string, asset: string, path: (string | number)[]): Issue | null {
  const file = resolve(assetsDir, asset);
  if (existsSync(file)) return null;
  // the fetch command writes only the iPXE loaders and the Debian 12 installer: do not send
  // the operator to it for an Ubuntu or Rocky kernel it never downloads
  const fetched = FETCHED_ASSETS.has(posix.normalize(asset.replace(/^\/+/, '')));
  const message = fetched
    ? `boot asset not present yet: ${asset} (run \`fleetboot assets fetch\`)`
    : `boot asset not present: ${file} (\`fleetboot assets fetch\` provides only ${[...FETCHED_ASSETS].join(', ')}; put this file there yourself)`;
  return { path, message, warning: true };
}

/** Templates exist inside the templates directory and compile; command lines compile; assets are there. */
export function checkRoles(paths: Config['paths'] | undefined, roles: Record<string, Role>): Issue[] {
  const issues: Issue[] = [];
  const tplEnv = paths && new nunjucks.Environment(new nunjucks.FileSystemLoader(paths.templates), { autoescape: false, throwOnUndefined: false });
  for (const [name, role] of Object.entries(roles)) {
    if (paths && tplEnv && role.template) {
      const path = ['roles', name, 'template'];
      const tplFile = resolve(paths.templates, role.template);
      if (!isInside(paths.templates, tplFile)) issues.push({ path, message: `template must be inside the templates directory (${paths.templates})` });
      else if (!existsSync(tplFile)) issues.push({ path, message: `template not found: ${tplFile}` });
      else {
        try {
          tplEnv.getTemplate(role.template, true);
        } catch (e) {
          issues.push({ path, message: `template does not compile: ${nunjucksMessage(e)}` });
        }
      }
    }
    try {
      nunjucks.renderString(role.cmdline, {});
    } catch (e) {
      issues.push({ path: ['roles', name, 'cmdline'], message: `cmdline does not compile: ${nunjucksMessage(e)}` });
    }
    if (!paths) continue;
    for (const key of ['kernel', 'initrd'] as const) {
      const asset = role[key];
      const issue = asset ? assetIssue(paths.assets, asset, ['roles', name, key]) : null;
      if (issue) issues.push(issue);
    }
  }
  return issues;
}

/** nunjucks puts "(path) [Line n, Column m]" on the first line and the reason on the next. */
function nunjucksMessage(e: unknown): string {
  return (e as Error).message.split('\n').slice(0, 3).map((l) => l.trim()).filter((l) => l && l !== '(unknown path)').join(' ');
}

const isLoopback = (ip: string) => ip.startsWith('127.');

/** boot.* on its own, and against dhcp.* / server.* when fleetboot answers DHCP. */
export function checkBootAndDhcp(s: ValidSections, serverAddressSet: boolean): Issue[] {
  const issues: Issue[] = [];
  const { boot, dhcp, server, paths } = s;
  if (boot?.unknown === 'discovery' && !boot.discovery) {
    issues.push({ path: ['boot', 'unknown'], message: 'boot.unknown is "discovery" but boot.discovery (kernel, initrd, cmdline) is not set' });
  }
  if (boot?.discovery && paths) {
    for (const key of ['kernel', 'initrd'] as const) {
      const issue = assetIssue(paths.assets, boot.discovery[key], ['boot', 'discovery', key]);
      if (issue) issues.push(issue);
    }
  }
  if (!dhcp?.enabled) return issues;
  if (boot) {
    if (dhcp.unknownPolicy === 'discover' && boot.unknown === 'silence') {
      issues.push({
        path: ['boot', 'unknown'],
        message: 'dhcp.unknownPolicy "discover" points unknown machines at /boot.ipxe, but boot.unknown "silence" answers them 404 there: set boot.unknown to local or discovery, or dhcp.unknownPolicy to ignore or address-only',
      });
    }
    if (dhcp.unknownPolicy !== 'discover' && boot.unknown === 'discovery') {
      // in proxy mode the site's own DHCP server may still send unknown machines to us
      const full = dhcp.mode === 'full';
      issues.push({
        path: ['boot', 'unknown'],
        message: `boot.unknown "discovery" is unreachable: dhcp.unknownPolicy "${dhcp.unknownPolicy}" gives unknown machines no boot information${full ? ' and fleetboot is the DHCP server' : ' (unless your DHCP server chains them to /boot.ipxe)'}; set dhcp.unknownPolicy to discover`,
        warning: !full,
      });
    }
  }
  if (server && isLoopback(server.address)) {
    // next-server and the boot URL in every DHCP reply come from server.address; deriving it
    // from dhcp.interface would make `check` depend on the machine it runs on, so say it
    issues.push({
      path: ['server', 'address'],
      message: `${serverAddressSet ? `server.address is ${server.address}` : `server.address is not set (default ${server.address})`}, but dhcp is enabled: DHCP replies would send clients to a loopback address for TFTP and HTTP; set server.address to this machine's address on the provisioning network${dhcp.serverAddress ? ` (dhcp.serverAddress is ${dhcp.serverAddress})` : ''}`,
    });
  }
  else if (server && dhcp.serverAddress && dhcp.serverAddress !== server.address) {
    // legitimate when TFTP/HTTP live on another address of this host, but usually a typo:
    // clients get their address from one and fetch their boot files from the other
    issues.push({ path: ['server', 'address'], message: `dhcp.serverAddress is ${dhcp.serverAddress} but server.address (next-server and the boot URL in DHCP replies) is ${server.address}: clients will fetch boot files from ${server.address}`, warning: true });
  }
  return issues;
}
