// The install plan of an image-installer run (docs/installer.md): what fleetboot's installer
// environment does to this host — disk, partitioning, which image (URL, sha256, sizes), where
// to report, and the per-host files it writes into the target. Pure: built from the resolved
// host, the run's URLs and the role's newest image manifest.
import type { ResolvedHost } from '../config/holder.js';
import type { RenderContext } from '../install/render.js';
import type { ImageManifest } from '../image/store.js';

export interface PlanFile {
  mode: string;
  content: string;
}

export interface InstallPlan {
  host: string;
  runId: number;
  disk: string;
  scheme: 'keep-data' | 'wipe';
  dataLabel: string;
  dataMount: string;
  /** wipe: root size; the rest of the disk becomes the data partition */
  rootSizeMiB: number;
  /** wipe: the new table's type (keep-data keeps the disk's own) */
  table: 'gpt' | 'dos';
  espMiB: number;
  /** what the installer should expect; it decides by /sys/firmware/efi itself */
  firmware: 'auto' | 'bios' | 'uefi';
  image: { id: string; url: string; sha256: string; size: number; rawSize: number; format: string; kernelVersion: string };
  progressUrl: string;
  syslog: { host: string; port: number };
  /** the installed system's kernel command line (GRUB) */
  kernelCmdline: string;
  /** absolute target path -> file */
  files: Record<string, PlanFile>;
}

const str = (v: unknown, d: string) => (typeof v === 'string' ? v : d);

export function buildPlan(rh: ResolvedHost, ctx: RenderContext, image: ImageManifest, base: string): InstallPlan {
  const v = rh.vars;
  const part = rh.role.partitioning;
  const name = rh.host.name;
  const domain = str(v.domain, '');
  const files: Record<string, PlanFile> = {};
  files['/etc/hostname'] = { mode: '0644', content: `${name}\n` };
  files['/etc/hosts'] = { mode: '0644', content: `127.0.0.1 localhost\n127.0.1.1 ${domain ? `${name}.${domain} ` : ''}${name}\n::1 localhost ip6-localhost ip6-loopback\n` };
  // NICs named by MAC (systemd .link, applied by udev), so the configuration does not depend
  // on the kernel's or the firmware's enumeration: prov0 is the host's first inventory MAC
  const ifaces: string[] = ['source /etc/network/interfaces.d/*', '', 'auto lo', 'iface lo inet loopback'];
  rh.host.macs.forEach((mac, i) => {
    files[`/etc/systemd/network/10-fleetboot-prov${i}.link`] = { mode: '0644', content: `# fleetboot: inventory MAC ${i + 1} of ${name}\n[Match]\nMACAddress=${mac}\n\n[Link]\nName=prov${i}\n` };
    ifaces.push('', i === 0 ? `auto prov${i}` : `allow-hotplug prov${i}`, `iface prov${i} inet dhcp`);
  });
  files['/etc/network/interfaces'] = { mode: '0644', content: ifaces.join('\n') + '\n' };
  const keys = Array.isArray(v.ssh_authorized_keys) ? v.ssh_authorized_keys.filter((k): k is string => typeof k === 'string' && !/[\r\n]/.test(k)) : [];
  if (keys.length) files['/root/.ssh/authorized_keys'] = { mode: '0600', content: keys.join('\n') + '\n' };
  const verify = str(v.verify_file, '');
  files['/etc/fleetboot/firstboot.env'] = {
    mode: '0600',
    content: `FLEETBOOT_PROGRESS_URL=${ctx.urls.progress}\n${verify && !/[\r\n]/.test(verify) ? `FLEETBOOT_VERIFY_FILE=${verify}\n` : ''}`,
  };
  // the data partition is mounted nofail (a missing disk never blocks boot), so nothing orders
  // it before the first-boot unit: the unit must wait for the mount its verify file is on
  if (verify && !/[\r\n]/.test(verify) && verify.startsWith('/')) {
    files['/etc/systemd/system/fleetboot-firstboot.service.d/10-fleetboot-verify.conf'] = { mode: '0644', content: `[Unit]\nRequiresMountsFor=${verify.slice(0, verify.lastIndexOf('/')) || '/'}\n` };
  }
  const fw = str(v.firmware, 'auto');
  return {
    host: name,
    runId: ctx.run.id,
    disk: part.disk,
    scheme: part.scheme,
    dataLabel: part.dataLabel,
    dataMount: part.dataMount,
    rootSizeMiB: part.rootSizeMiB,
    table: v.partition_table === 'dos' || v.partition_table === 'mbr' ? 'dos' : 'gpt',
    espMiB: typeof v.esp_mib === 'number' && v.esp_mib >= 32 && v.esp_mib <= 4096 ? Math.floor(v.esp_mib) : 256,
    firmware: fw === 'bios' || fw === 'uefi' ? fw : 'auto',
    image: {
      id: image.id,
      url: `${base}/images/${encodeURIComponent(image.role)}/${encodeURIComponent(image.file)}`,
      sha256: image.sha256,
      size: image.size,
      rawSize: image.rawSize,
      format: image.format,
      kernelVersion: image.kernelVersion,
    },
    progressUrl: ctx.urls.progress,
    syslog: ctx.syslog,
    kernelCmdline: str(v.kernel_opts, 'console=tty0 console=ttyS0,115200n8'),
    files,
  };
}

/** POSIX-sh single quoting: the installer sources this (busybox has no JSON parser). */
export const shq = (s: string | number) => `'${String(s).replace(/'/g, `'\\''`)}'`;

/** The plan as shell assignments (FB_*), files base64-encoded on one line each. */
export function planToShell(p: InstallPlan): string {
  const kv: [string, string | number][] = [
    ['FB_HOST', p.host], ['FB_RUN_ID', p.runId], ['FB_DISK', p.disk], ['FB_SCHEME', p.scheme], ['FB_DATA_LABEL', p.dataLabel],
    ['FB_DATA_MOUNT', p.dataMount], ['FB_ROOT_MIB', p.rootSizeMiB], ['FB_TABLE', p.table], ['FB_ESP_MIB', p.espMiB], ['FB_FIRMWARE', p.firmware],
    ['FB_IMAGE_ID', p.image.id], ['FB_IMAGE_URL', p.image.url], ['FB_IMAGE_SHA256', p.image.sha256], ['FB_IMAGE_SIZE', p.image.size],
    ['FB_IMAGE_RAWSIZE', p.image.rawSize], ['FB_PROGRESS_URL', p.progressUrl], ['FB_KERNEL_CMDLINE', p.kernelCmdline],
  ];
  const lines = kv.map(([k, v]) => `${k}=${shq(v)}`);
  const files = Object.entries(p.files);
  lines.push(`FB_FILES=${files.length}`);
  files.forEach(([path, f], i) => {
    lines.push(`FB_FILE_${i + 1}_PATH=${shq(path)}`, `FB_FILE_${i + 1}_MODE=${shq(f.mode)}`, `FB_FILE_${i + 1}_B64=${shq(Buffer.from(f.content).toString('base64'))}`);
  });
  return lines.join('\n') + '\n';
}
