#!/bin/bash
# Debian 12 packages fleetboot's tests and benchmarks talk to (real clients, peers, QEMU rig).
# Services that some of these packages ship (tftpd-hpa, atftpd, apt-cacher-ng, kea) must not
# start on the host: policy-rc.d refuses every start while we install.
# (busybox udhcpc comes from busybox-static: the udhcpc package needs busybox, which conflicts)
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
PKGS="ca-certificates git python3 make g++ sqlite3
  qemu-system-x86 ipxe-qemu seabios ovmf ipxe dnsmasq-base debian-installer-12-netboot-amd64
  pxelinux syslinux-common busybox-static cpio tcpdump iproute2 file binutils
  atftp tftp-hpa tftpd-hpa curl dhcping kea-admin kea-dhcp4-server wrk hyperfine nmap isc-dhcp-client
  chromium debootstrap apt-utils dpkg-dev apt-cacher-ng
  ipmitool openipmi python3-sushy redfishtool openssh-server
  e2fsprogs zstd fuse2fs debian-archive-keyring fdisk kmod"
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
missing=$(for p in $PKGS; do dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || echo "$p"; done)
if [ -n "$missing" ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# atftpd conflicts with tftpd-hpa as a package; the TFTP benchmark needs both servers, so
# atftpd is unpacked (not installed) under /opt/fleetboot-peers/atftpd.
if [ ! -x /opt/fleetboot-peers/atftpd/usr/sbin/atftpd ]; then
  d=$(mktemp -d); (cd "$d" && apt-get download -qq atftpd >/dev/null) || { apt-get update -qq; (cd "$d" && apt-get download -qq atftpd >/dev/null); }
  mkdir -p /opt/fleetboot-peers/atftpd && dpkg-deb -x "$d"/atftpd_*.deb /opt/fleetboot-peers/atftpd && rm -rf "$d"
fi
# the daemons must stay stopped: tests start their own copies inside namespaces
for s in tftpd-hpa atftpd apt-cacher-ng kea-dhcp4-server isc-kea-dhcp4-server; do
  systemctl stop "$s" 2>/dev/null || service "$s" stop 2>/dev/null || true
done
pkill -x in.tftpd 2>/dev/null || true; pkill -x atftpd 2>/dev/null || true; pkill -f apt-cacher-ng 2>/dev/null || true
exit 0
