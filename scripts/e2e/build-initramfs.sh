#!/bin/bash
# scripts/e2e/build-initramfs.sh DI_DIR OUTDIR
# The e2e payload: a tiny busybox initramfs for the Debian-installer netboot kernel (DI_DIR/linux,
# DI_DIR/initrd.gz, e.g. boot-assets/debian-12 after `fleetboot assets fetch`). It reuses that
# kernel and copies the few NIC modules out of the d-i initrd, so no linux-image is needed.
# Derived from ../shared/pxe-rig/build-initramfs.sh; the callback speaks fleetboot's progress API.
#
# Result: OUTDIR/vmlinuz (copy of the d-i kernel), OUTDIR/initrd.img (gzip newc cpio).
# /init: loads virtio-net, runs udhcpc, then reports to the run's token URL given on the kernel
# command line (the role's cmdline is `fb.cb={{ urls.progress }} fb.host={{ host.name }}`):
#   GET $fb.cb?stage=linux&message=<kernel, ip, fw, mac, uptime>   -> run "installing"
#   GET $fb.cb?stage=done&message=<...>                             -> run "done", mark cleared
# and powers the VM off. Everything it prints starts with "FBE2E:".
set -euo pipefail
DI=${1:?usage: build-initramfs.sh DI_DIR OUTDIR}
OUT=${2:?usage: build-initramfs.sh DI_DIR OUTDIR}
BUSYBOX=${BUSYBOX:-/bin/busybox}
[ -r "$DI/linux" ] && [ -r "$DI/initrd.gz" ] || { echo "missing $DI/linux or $DI/initrd.gz (fleetboot assets fetch)" >&2; exit 1; }
file -L "$BUSYBOX" | grep -q 'statically linked' || { echo "$BUSYBOX is not static (apt-get install busybox-static)" >&2; exit 1; }

mkdir -p "$OUT"
W=$(mktemp -d /tmp/fbe2e-initramfs.XXXXXX)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/x" "$W/root"/{bin,sbin,dev,proc,sys,tmp,etc,lib/modules}

# 1. NIC modules from the d-i initrd (same kernel ABI as $DI/linux)
MODS="virtio virtio_ring virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci failover net_failover virtio_net e1000"
pats=()
for m in $MODS; do pats+=("lib/modules/*/$m.ko"); done   # GNU cpio: * also matches /
( cd "$W/x" && zcat "$DI/initrd.gz" | cpio -id --quiet "${pats[@]}" )
for m in $MODS; do
  f=$(find "$W/x" -name "$m.ko" | head -1)
  [ -n "$f" ] || { echo "module $m not found in d-i initrd" >&2; exit 1; }
  cp "$f" "$W/root/lib/modules/"
  strip --strip-debug "$W/root/lib/modules/$m.ko" 2>/dev/null || true
done

# 2. busybox
cp "$BUSYBOX" "$W/root/bin/busybox"
ln -s busybox "$W/root/bin/sh"

# 3. udhcpc hook
cat > "$W/root/etc/udhcpc.sh" <<'EOF'
#!/bin/sh
case "$1" in
  deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    { echo "ip=$ip"; echo "serverid=$serverid"; echo "siaddr=$siaddr"; } > /tmp/dhcp.env
    ;;
esac
exit 0
EOF
chmod +x "$W/root/etc/udhcpc.sh"

# 4. /init
cat > "$W/root/init" <<'EOF'
#!/bin/sh
export PATH=/bin:/sbin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
up() { cut -d' ' -f1 /proc/uptime; }
say() { echo "FBE2E: $* (uptime=$(up))" > /dev/console; }
off() { say "powering off"; sync; poweroff -f; sleep 30; }
say "init started kernel=$(uname -r)"
CB=""; HOST=unknown
for a in $(cat /proc/cmdline); do
  case "$a" in
    fb.cb=*) CB="${a#fb.cb=}" ;;
    fb.host=*) HOST="${a#fb.host=}" ;;
  esac
done
[ -n "$CB" ] || { say "FAIL no fb.cb= on the kernel command line"; off; }
FW=bios; [ -d /sys/firmware/efi ] && FW=efi
for m in virtio virtio_ring virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci failover net_failover virtio_net e1000; do
  insmod /lib/modules/$m.ko 2>/dev/null
done
ip link set lo up
nics() { for d in /sys/class/net/*; do n=${d##*/}; [ "$n" = lo ] || echo "$n"; done; }
for i in $(seq 1 100); do [ -n "$(nics)" ] && break; sleep 0.1; done
sleep 0.3   # a second NIC's driver may bind a moment later
IFS_ALL=$(nics)
[ -n "$IFS_ALL" ] || { say "FAIL no network interface"; off; }
# several NICs (the e2e's -2nic modes): BOOTIF=01-aa-bb-.. (pxelinux/d-i convention) first,
# then each NIC in turn until one gets a lease
BOOTMAC=$(sed -n 's/.*BOOTIF=01-\([0-9a-fA-F-]*\).*/\1/p' /proc/cmdline | tr 'A-F-' 'a-f:')
ORDER=""
for n in $IFS_ALL; do [ "$(cat /sys/class/net/$n/address)" = "$BOOTMAC" ] && ORDER="$n"; done
for n in $IFS_ALL; do [ "$n" = "$ORDER" ] || ORDER="$ORDER $n"; done
IF=""
for n in $ORDER; do
  MAC=$(cat /sys/class/net/$n/address)
  say "nic $n mac=$MAC fw=$FW host=$HOST"
  ip link set "$n" up
  if udhcpc -i "$n" -f -q -n -t 5 -T 1 -A 1 -s /etc/udhcpc.sh -x hostname:$HOST >/tmp/udhcpc.log 2>&1; then IF=$n; break; fi
  ip link set "$n" down
done
[ -n "$IF" ] || { cat /tmp/udhcpc.log > /dev/console; say "FAIL dhcp"; off; }
. /tmp/dhcp.env
say "dhcp ok ip=$ip server=$serverid"
# report: GET $CB?stage=..&message=.. (message: no spaces, the URL stays simple)
report() { # stage message
  url="$CB?stage=$1&message=$2"
  for try in 1 2 3 4 5; do
    # Debian busybox-static 1.35 wget segfaults with -T: bound it with the timeout applet
    if timeout 10 wget -q -O /tmp/cb.out "$url"; then say "callback $1 ok reply=$(head -c 100 /tmp/cb.out)"; return 0; fi
    sleep 1
  done
  say "FAIL callback $1"; return 1
}
report linux "kernel-$(uname -r)_fw-${FW}_ip-${ip}_mac-${MAC}_uptime-$(up)" && \
  report done "e2e-payload-finished_uptime-$(up)"
off
EOF
chmod +x "$W/root/init"

# 5. pack (reproducible: no timestamps in gzip)
( cd "$W/root" && find . -print0 | sort -z | cpio --null -o -H newc --quiet | gzip -9 -n ) > "$OUT/initrd.img"
cp "$DI/linux" "$OUT/vmlinuz"
