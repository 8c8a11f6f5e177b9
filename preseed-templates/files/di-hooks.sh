#!/bin/sh
# fleetboot d-i hooks for {{ host.name }} (install run {{ run.id }}), rendered by fleetboot and
# fetched by preseed/early_command into /tmp/fb-hooks.sh. Runs under d-i's busybox ash: no
# bash-isms, no od/hexdump/sfdisk/parted binaries (fdisk-udeb/parted-udeb are not loaded).
# (`sh fb-hooks.sh gpt-delete IMAGE N...` / `mbr-delete` exist for tests on the host.)
#   sh /tmp/fb-hooks.sh early       preseed/early_command: install stage hooks, start watcher
#   sh /tmp/fb-hooks.sh partition   partman/early_command: free the OS partitions, keep data
#   sh /tmp/fb-hooks.sh late        preseed/late_command: configure /target
#   sh /tmp/fb-hooks.sh progress STAGE MESSAGE...
# NB (template): this file goes through nunjucks, so it never uses a brace-hash sequence
# (string length syntax) or double braces outside the variables below.
PROGRESS_URL="{{ urls.progress }}"
FILES_URL="{{ urls.files }}"
DATA_LABEL="{{ role.partitioning.dataLabel | default("data") }}"
DATA_MOUNT="{{ role.partitioning.dataMount | default("/data") }}"
HOSTNAME_="{{ host.name }}"
DOMAIN_="{{ vars.domain | default("") }}"
# vars.fleetboot_probe=partition: run only the keep-data partition step from early_command,
# report "done" and power off (proves the step on real hardware/d-i without a full install)
PROBE="{{ vars.fleetboot_probe | default("") }}"
MIRROR_URL="{{ mirror.url }}"
SUITE="{{ role.suite | default("bookworm") }}"
SELF=/tmp/fb-hooks.sh

log() { logger -t fleetboot "$*" 2>/dev/null; echo "fleetboot: $*" >&2; }

progress() { # STAGE MESSAGE... ; never fails (the install must not stop for a lost callback)
  stage=$1; shift
  msg=$(echo "$*" | sed 's/[^A-Za-z0-9._:,\/-]/+/g' | cut -c1-300)
  log "progress $stage: $*"
  i=0
  while [ $i -lt 3 ]; do
    # busybox 1.35 wget -T is unreliable: rely on the connect failing fast on a LAN
    wget -q -O /dev/null "$PROGRESS_URL?stage=$stage&message=$msg" </dev/null >/dev/null 2>&1 && return 0
    i=$((i + 1)); sleep 2
  done
  return 0
}

fail() { progress failed "$*"; log "FAILED: $*"; exit 1; }

watcher() { # background: stage changes that have no d-i hook of their own, and failures
  base=0
  while [ ! -e /tmp/fb-done ]; do
    if [ $base = 0 ] && [ -d /target/debootstrap ]; then
      base=1; progress base-install "debootstrap started"
    fi
    if [ ! -e /tmp/fb-failed ] && grep -q "failed with error code" /var/log/syslog 2>/dev/null; then
      touch /tmp/fb-failed
      progress failed "$(grep -m1 'failed with error code' /var/log/syslog | sed 's/.*WARNING \*\*: //')"
    fi
    # anna could not download an installer component (mirror/cache lacks the udeb): d-i now
    # waits at a critical error dialog forever, so say which file
    if [ ! -e /tmp/fb-failed ] && grep -q "package retrieval failed" /var/log/syslog 2>/dev/null; then
      touch /tmp/fb-failed
      progress failed "anna: package retrieval failed: $(grep -o 'http://[^ ]*\.udeb' /var/log/syslog | tail -1)"
    fi
    sleep 2
  done
}

early() {
  progress early_command "preseed loaded; kernel $(uname -r)"
  # run-parts hooks of the later stages (d-i doc "Available hooks"); the finish-install list is
  # read when finish-install starts, so it must exist now, not be created by late_command
  mkdir -p /usr/lib/pre-pkgsel.d /usr/lib/finish-install.d
  printf '#!/bin/sh\nsh %s progress packages "installing selected packages"\nexit 0\n' "$SELF" \
    > /usr/lib/pre-pkgsel.d/01fleetboot-progress
  # 95: after late_command (07preseed) and log saving (94), before 97release-dhcp-lease
  printf '#!/bin/sh\ntouch /tmp/fb-done\nsh %s progress done "installer finished, rebooting"\nexit 0\n' "$SELF" \
    > /usr/lib/finish-install.d/95fleetboot-done
  chmod +x /usr/lib/pre-pkgsel.d/01fleetboot-progress /usr/lib/finish-install.d/95fleetboot-done
  if [ "$PROBE" = partition ]; then
    probe_disk_drivers
    partition
    progress done "probe: partition step only, powering off"
    sync; poweroff -f; exit 0
  fi
  ( watcher ) </dev/null >/dev/null 2>&1 &
  return 0
}

probe_disk_drivers() { # PROBE only: at early_command time d-i has no disk drivers yet
  # (hw-detect loads them later from udebs); fetch the kernel's scsi-modules udeb (virtio_blk,
  # ahci..., as anna would) and load the usual disk drivers
  kver=$(uname -r)
  f=$(wget -q -O - "$MIRROR_URL/dists/$SUITE/main/debian-installer/binary-amd64/Packages.xz" | xzcat \
      | awk -v p="scsi-modules-$kver-di" '$1=="Package:" {m=($2==p)} m && $1=="Filename:" {print $2; exit}')
  [ -n "$f" ] || fail "probe: scsi-modules-$kver-di not in the mirror's udeb index"
  wget -q -O /tmp/fb-scsi.udeb "$MIRROR_URL/$f" || fail "probe: could not fetch $f"
  (cd / && ar p /tmp/fb-scsi.udeb data.tar.xz | xzcat | tar x) || fail "probe: could not unpack $f"
  depmod -a 2>/dev/null
  for m in virtio_blk virtio_scsi ahci nvme sd_mod; do modprobe -q $m 2>/dev/null; done
  udevadm trigger --subsystem-match=block 2>/dev/null; udevadm settle 2>/dev/null; sleep 2
  log "probe: block devices: $(ls /sys/block | tr '\n' ' ')"
}

# --- partition tables with busybox only (no od/hexdump: cmp -l against /dev/zero prints each
# non-zero byte as "position octal"; busybox crc32 is zlib's CRC-32, the one GPT uses) ---
rd_le() { # DEV OFFSET LEN -> unsigned little-endian integer (LEN <= 7)
  dd if="$1" bs=1 skip="$2" count="$3" 2>/dev/null | cmp -l - /dev/zero 2>/dev/null \
    | { v=0; while read -r pos oct _z; do v=$(( v + (0$oct << (8 * (pos - 1))) )); done; echo $v; }
}
wr_le32() { # DEV OFFSET VALUE
  v=$3
  printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $((v & 255)) $(((v >> 8) & 255)) $(((v >> 16) & 255)) $(((v >> 24) & 255)))" \
    | dd of="$1" bs=1 seek="$2" count=4 conv=notrunc 2>/dev/null
}
crc_of() { # DEV OFFSET LEN -> CRC-32 as a number
  echo $((0x$(dd if="$1" bs=1 skip="$2" count="$3" 2>/dev/null | crc32 | cut -c1-8)))
}
zero() { dd if=/dev/zero of="$1" bs=1 seek="$2" count="$3" conv=notrunc 2>/dev/null; }

mbr_delete() { # DISK NUMS... : clear primary entries (16 bytes at 446 + 16*(n-1)); the boot
  # code (0-445), the kept entries and the signature (510-511) are not written
  d=$1; shift
  for n in "$@"; do zero "$d" $((446 + 16 * (n - 1))) 16 || return 1; done
}

gpt_delete() { # DISK NUMS... : clear GPT entries in the primary and the backup array, then
  # fix both entry-array CRCs and both header CRCs (UEFI spec 5.3)
  d=$1; shift
  [ "$(dd if="$d" bs=1 skip=512 count=8 2>/dev/null)" = "EFI PART" ] || return 1
  hsz=$(rd_le "$d" 524 4); alt=$(rd_le "$d" 544 7); elba=$(rd_le "$d" 584 7)
  cnt=$(rd_le "$d" 592 4); esz=$(rd_le "$d" 596 4)
  [ "$hsz" -ge 92 ] && [ "$hsz" -le 512 ] && [ "$esz" -ge 128 ] && [ "$cnt" -ge 1 ] && [ "$alt" -gt 1 ] || return 1
  [ "$(dd if="$d" bs=1 skip=$((alt * 512)) count=8 2>/dev/null)" = "EFI PART" ] || return 1
  aelba=$(rd_le "$d" $((alt * 512 + 72)) 7)
  for n in "$@"; do
    zero "$d" $((elba * 512 + (n - 1) * esz)) "$esz" || return 1
    zero "$d" $((aelba * 512 + (n - 1) * esz)) "$esz" || return 1
  done
  ecrc=$(crc_of "$d" $((elba * 512)) $((cnt * esz)))
  for h in 512 $((alt * 512)); do
    wr_le32 "$d" $((h + 88)) "$ecrc" && wr_le32 "$d" $((h + 16)) 0 || return 1
    wr_le32 "$d" $((h + 16)) "$(crc_of "$d" "$h" "$hsz")" || return 1
  done
}

partition() {
  progress partitioning "looking for LABEL=$DATA_LABEL"
  devs=$(blkid -t "LABEL=$DATA_LABEL" -o device 2>/dev/null)
  [ -n "$devs" ] || fail "no partition labelled $DATA_LABEL: refusing to partition (data safety)"
  [ "$(echo "$devs" | wc -l)" = 1 ] || fail "more than one partition labelled $DATA_LABEL: $(echo $devs)"
  part=${devs##*/}                          # vda2, sda2, nvme0n1p2
  disk=$(basename "$(dirname "$(readlink -f /sys/class/block/$part)")")
  num=$(cat /sys/class/block/$part/partition)
  [ -n "$disk" ] && [ -b "/dev/$disk" ] && [ -n "$num" ] || fail "cannot map $part to its disk"
  pttype=$(blkid -p -o value -s PTTYPE "/dev/$disk" 2>/dev/null)
  case "$pttype" in
    dos) [ "$num" -le 4 ] || fail "$part is a logical partition; keep-data needs a primary data partition" ;;
    gpt) ;;
    *) fail "/dev/$disk has a '$pttype' partition table; keep-data supports dos (MBR) and gpt" ;;
  esac
  grep -q "^/dev/$disk" /proc/mounts && fail "/dev/$disk has mounted partitions"
  nums=""
  for p in /sys/block/$disk/$disk*; do
    [ -e "$p/partition" ] || continue
    n=$(cat "$p/partition")
    [ "$n" = "$num" ] && continue
    # MBR: logical partitions (5+) vanish with their extended entry
    [ "$pttype" = dos ] && [ "$n" -gt 4 ] && continue
    nums="$nums $n"
  done
  if [ -n "$nums" ]; then
    if [ "$pttype" = dos ]; then mbr_delete "/dev/$disk" $nums || fail "could not clear MBR entries$nums of /dev/$disk"
    else gpt_delete "/dev/$disk" $nums || fail "could not clear GPT entries$nums of /dev/$disk"; fi
  fi
  sync
  blockdev --rereadpt "/dev/$disk" 2>/dev/null || log "rereadpt /dev/$disk failed (partman rescans anyway)"
  progress partitioning "kept /dev/$part (LABEL=$DATA_LABEL); freed $pttype entries:${nums:- none} on /dev/$disk"
  return 0
}

late() {
  T=${FB_TARGET:-/target}   # FB_TARGET: tests only
  progress late_command "configuring the installed system"
  [ -n "$HOSTNAME_" ] && echo "$HOSTNAME_" > $T/etc/hostname
  # data partition: mounted by label, nofail so a missing disk never blocks boot
  mkdir -p "$T$DATA_MOUNT"
  if ! grep -q "LABEL=$DATA_LABEL" $T/etc/fstab; then
    printf 'LABEL=%s %s ext4 defaults,nofail 0 2\n' "$DATA_LABEL" "$DATA_MOUNT" >> $T/etc/fstab
  fi
  # SSH keys for root (one per line, rendered by fleetboot into a file)
  K=${TMPDIR:-/tmp}/fb-authorized_keys
  if wget -q -O "$K" "$FILES_URL/authorized_keys" && [ -s "$K" ]; then
    mkdir -p $T/root/.ssh && chmod 700 $T/root/.ssh
    cp "$K" $T/root/.ssh/authorized_keys
    chmod 600 $T/root/.ssh/authorized_keys
  fi
  # first-boot "up" callback: a one-shot unit that disables itself once it reported
  mkdir -p $T/usr/local/sbin $T/etc/systemd/system
  wget -q -O $T/usr/local/sbin/fleetboot-firstboot "$FILES_URL/fleetboot-firstboot.sh" \
    || fail "could not fetch fleetboot-firstboot.sh"
  wget -q -O $T/etc/systemd/system/fleetboot-firstboot.service "$FILES_URL/fleetboot-firstboot.service" \
    || fail "could not fetch fleetboot-firstboot.service"
  chmod 755 $T/usr/local/sbin/fleetboot-firstboot
  mkdir -p $T/etc/systemd/system/multi-user.target.wants
  ln -sf /etc/systemd/system/fleetboot-firstboot.service \
    $T/etc/systemd/system/multi-user.target.wants/fleetboot-firstboot.service
  progress late_command "fstab: LABEL=$DATA_LABEL on $DATA_MOUNT; first-boot unit installed"
  return 0
}

case "${1:-}" in
  early) early ;;
  partition) partition ;;
  late) late ;;
  progress) shift; progress "$@" ;;
  gpt-delete) shift; gpt_delete "$@" ;;
  mbr-delete) shift; mbr_delete "$@" ;;
  *) echo "usage: $0 early|partition|late|progress STAGE MSG" >&2; exit 2 ;;
esac
