// What the builder writes into and removes from the debootstrapped tree (docs/images.md
// "What's inside" / "Identity"). Plain file operations on the tree: no chroot, no mounts.
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ImagePackage } from './store.js';

/** The base set every image gets on top of `--variant=minbase` (the role adds its packages). */
export const BASE_PACKAGES = [
  'systemd-sysv',
  'udev',
  'linux-image-amd64',
  'initramfs-tools',
  'ifupdown',
  'isc-dhcp-client',
  'openssh-server',
  'ca-certificates',
  'curl',
  'grub-pc-bin',
  'grub-efi-amd64-bin',
  'grub2-common',
  'efibootmgr',
  'e2fsprogs',
  'dosfstools',
  // initramfs-tools compresses with zstd (COMPRESS=zstd) and falls back to slower gzip without it
  'zstd',
];

/**
 * dpkg inside debootstrap fsyncs every unpacked file; the tree is thrown away on any failure
 * and only its filesystem image is kept, so that durability buys nothing. Placed before
 * debootstrap runs (dpkg reads /etc/dpkg/dpkg.cfg.d in the target), removed afterwards.
 */
export const UNSAFE_IO_CFG = 'etc/dpkg/dpkg.cfg.d/fleetboot-build-unsafe-io';

// The installed system's initramfs: MODULES=most without its network class. The image's root
// is always an ext4 filesystem on a local disk, and the network drivers were 41 of the 128 MiB
// unpacked (30.2 -> 20.8 MB compressed); the boot loader reads the initramfs through the
// firmware's disk calls, which is where most of the first boot went here (14 s for 37 MB under
// TCG with SeaBIOS). Network modules another module needs (an FCoE HBA's NIC driver) are still
// pulled in as its dependencies. In place before debootstrap, so the kernel's own postinst
// builds the trimmed one, and kept in the image, so later kernel updates build it alike.
export const INITRAMFS_CONF = 'etc/initramfs-tools/conf.d/fleetboot-modules';
export const INITRAMFS_HOOK = 'etc/initramfs-tools/hooks/fleetboot-modules';
const INITRAMFS_CONF_BODY = `# fleetboot: the modules of MODULES=most but its "net" class are added by
# ${'/' + INITRAMFS_HOOK} (the root filesystem is on a local disk). Delete both files
# and run update-initramfs -u for Debian's default (MODULES=most).
MODULES=list
`;
const INITRAMFS_HOOK_BODY = `#!/bin/sh
# fleetboot: MODULES=most without the network class (see ${'/' + INITRAMFS_CONF}).
PREREQ=""
prereqs() { echo "$PREREQ"; }
case "$1" in prereqs) prereqs; exit 0 ;; esac
. /usr/share/initramfs-tools/hook-functions
[ "\${MODULES:-}" = list ] || exit 0
auto_add_modules base ide scsi block ata dasd firewire mmc usb_storage fb
# mkinitramfs resolved the hidden dependencies (ext4 -> crc32c ...) before the hooks ran
hidden_dep_add_modules
`;

export function preseedTree(root: string): void {
  put(root, UNSAFE_IO_CFG, 'force-unsafe-io\n');
  put(root, INITRAMFS_CONF, INITRAMFS_CONF_BODY);
  put(root, INITRAMFS_HOOK, INITRAMFS_HOOK_BODY, 0o755);
}

// Reads the installer-written env file without executing it (a shell `.` would run whatever
// the file holds); only the two known keys are used, optional quotes stripped.
export const FIRSTBOOT_SCRIPT = `#!/bin/sh
# fleetboot first boot (docs/images.md): tells the install run this system is up.
# /etc/fleetboot/firstboot.env is written by fleetboot's installer; absent -> nothing to do.
set -u
ENV=\${FLEETBOOT_FIRSTBOOT_ENV:-/etc/fleetboot/firstboot.env}
[ -f "$ENV" ] || exit 0
get() { sed -n "s/^$1=//p" "$ENV" | tail -n 1 | sed -e 's/^"\\(.*\\)"$/\\1/' -e "s/^'\\(.*\\)'$/\\1/"; }
URL=$(get FLEETBOOT_PROGRESS_URL)
VERIFY=$(get FLEETBOOT_VERIFY_FILE)
[ -n "$URL" ] || exit 0
msg=up
if [ -n "$VERIFY" ] && [ -f "$VERIFY" ]; then
  msg="sha256=$(sha256sum "$VERIFY" | cut -d' ' -f1)"
fi
# the message is "up" or "sha256=<hex>": only "=" needs encoding
enc=$(printf %s "$msg" | sed 's/=/%3D/g')
case "$URL" in *\\?*) sep='&' ;; *) sep='?' ;; esac
if curl -fsS --retry 30 --retry-delay 2 --retry-all-errors --max-time 20 -o /dev/null "$URL\${sep}stage=up&message=$enc"; then
  rm -f "$ENV"
  echo "fleetboot-firstboot: reported $msg"
else
  echo "fleetboot-firstboot: could not reach $URL" >&2
  exit 1
fi
`;

export const FIRSTBOOT_UNIT = `[Unit]
Description=fleetboot first boot: report "up" to the provisioning server
Wants=network-online.target
After=network-online.target
ConditionPathExists=/etc/fleetboot/firstboot.env

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/fleetboot-firstboot
RemainAfterExit=yes

[Install]
WantedBy=multi-user.target
`;

// The image carries no SSH host keys. The installer writes fresh Ed25519 and ECDSA keys; this
// makes the RSA one at sshd's first start (docs/installer.md, identity), and any key a host
// lacks, instead of sshd failing to start.
export const SSH_HOSTKEYS_DROPIN = `[Service]
ExecStartPre=
ExecStartPre=/usr/bin/ssh-keygen -A
ExecStartPre=/usr/sbin/sshd -t
`;

// grub-mkconfig (run by the installer after grub-install) reads this; serial + VGA consoles so
// a failed boot is visible on either (the -bin GRUB packages ship no /etc/default/grub).
export const DEFAULT_GRUB = `GRUB_DEFAULT=0
GRUB_TIMEOUT=1
GRUB_DISTRIBUTOR=Debian
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="console=tty0 console=ttyS0,115200n8"
GRUB_TERMINAL="console serial"
GRUB_SERIAL_COMMAND="serial --speed=115200"
GRUB_DISABLE_OS_PROBER=true
`;

function put(root: string, path: string, body: string, mode = 0o644): void {
  const p = join(root, path);
  mkdirSync(dirname(p), { recursive: true });
  rmSync(p, { force: true });
  writeFileSync(p, body);
  chmodSync(p, mode);
}

function link(root: string, path: string, target: string): void {
  const p = join(root, path);
  mkdirSync(dirname(p), { recursive: true });
  rmSync(p, { force: true });
  symlinkSync(target, p);
}

function emptyDir(dir: string, keep: (name: string) => boolean = () => false): void {
  if (!existsSync(dir)) return;
  for (const n of readdirSync(dir)) if (!keep(n)) rmSync(join(dir, n), { recursive: true, force: true });
}

/** fleetboot's own files: first-boot unit (enabled), sshd key fallback, GRUB defaults, apt source. */
export function configureTree(root: string, o: { aptUrl: string; suite: string }): void {
  put(root, 'usr/local/sbin/fleetboot-firstboot', FIRSTBOOT_SCRIPT, 0o755);
  put(root, 'etc/systemd/system/fleetboot-firstboot.service', FIRSTBOOT_UNIT);
  link(root, 'etc/systemd/system/multi-user.target.wants/fleetboot-firstboot.service', '/etc/systemd/system/fleetboot-firstboot.service');
  mkdirSync(join(root, 'etc/fleetboot'), { recursive: true, mode: 0o755 });
  put(root, 'etc/systemd/system/ssh.service.d/fleetboot-hostkeys.conf', SSH_HOSTKEYS_DROPIN);
  put(root, 'etc/default/grub', DEFAULT_GRUB);
  put(root, 'etc/apt/sources.list', `deb ${o.aptUrl} ${o.suite} main\n`);
  put(root, 'etc/hosts', '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n');
  put(root, 'etc/network/interfaces', 'source /etc/network/interfaces.d/*\n\nauto lo\niface lo inet loopback\n');
}

/**
 * Removes what would make two hosts from one image the same machine, and what is stale the
 * moment the image is copied: SSH host keys, machine ids, hostname, the builder's resolv.conf,
 * apt lists and caches, fstab (the installer writes it by UUID), logs of the build.
 */
export function scrubIdentity(root: string): void {
  rmSync(join(root, UNSAFE_IO_CFG), { force: true });
  const ssh = join(root, 'etc/ssh');
  if (existsSync(ssh)) for (const n of readdirSync(ssh)) if (n.startsWith('ssh_host_')) rmSync(join(ssh, n), { force: true });
  // empty (not missing): systemd treats an empty machine-id as "first boot" and writes a new one
  writeFileSync(join(root, 'etc/machine-id'), '');
  rmSync(join(root, 'var/lib/dbus/machine-id'), { force: true });
  rmSync(join(root, 'etc/hostname'), { force: true });
  writeFileSync(join(root, 'etc/fstab'), '');
  writeFileSync(join(root, 'etc/resolv.conf'), '');
  emptyDir(join(root, 'var/lib/apt/lists'), (n) => n === 'partial' || n === 'auxfiles');
  emptyDir(join(root, 'var/lib/apt/lists/partial'));
  emptyDir(join(root, 'var/cache/apt'), (n) => n === 'archives');
  emptyDir(join(root, 'var/cache/apt/archives'), (n) => n === 'partial');
  emptyDir(join(root, 'var/cache/apt/archives/partial'));
  emptyDir(join(root, 'var/cache/debconf'), (n) => !n.endsWith('-old'));
  emptyDir(join(root, 'tmp'));
  emptyDir(join(root, 'var/tmp'));
  emptyDir(join(root, 'var/log'), (n) => ['apt', 'journal', 'private', 'installer'].includes(n));
  emptyDir(join(root, 'var/log/apt'));
  rmSync(join(root, 'var/lib/systemd/random-seed'), { force: true });
  rmSync(join(root, 'root/.bash_history'), { force: true });
}

/** Installed packages from the tree's dpkg status (sorted by name). */
export function installedPackages(root: string): ImagePackage[] {
  const status = readFileSync(join(root, 'var/lib/dpkg/status'), 'utf8');
  const out: ImagePackage[] = [];
  for (const stanza of status.split(/\n\n+/)) {
    const name = /^Package: (\S+)$/m.exec(stanza)?.[1];
    const version = /^Version: (\S+)$/m.exec(stanza)?.[1];
    const st = /^Status: (.+)$/m.exec(stanza)?.[1];
    if (name && version && st === 'install ok installed') out.push({ name, version });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The kernel the image boots: the newest /boot/vmlinuz-<version> in the tree. */
export function kernelVersion(root: string): string | undefined {
  const boot = join(root, 'boot');
  const vs = existsSync(boot) ? readdirSync(boot).filter((n) => n.startsWith('vmlinuz-')).map((n) => n.slice('vmlinuz-'.length)) : [];
  const withInitrd = vs.filter((v) => existsSync(join(boot, `initrd.img-${v}`)));
  return withInitrd.sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).at(-1);
}
