#!/bin/sh
# fleetboot's image installer (busybox sh), run by /init. Kernel command line:
#   fb.plan=<base>/i/<token>/plan  fb.syslog=<host>:<port>  [fb.onfail=halt|poweroff|reboot]
# Steps, each reported to the run's progress URL: network, plan, partitioning, image (bytes
# written while it streams), filesystem, identity, bootloader, done -> reboot. The disk is
# made unbootable before its first write and bootable again only after the image's sha256
# matched: a failure after that point halts with the reason on the console (docs/installer.md).
set -u
. /lib/fleetboot/partition.sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
LOG=/tmp/install.log
T0=$(cut -d' ' -f1 /proc/uptime)
TOUCHED=0
STEP=network
FB_PROGRESS_URL=""
ONFAIL=halt
PLAN=""
SYSLOG=""
for a in $(cat /proc/cmdline); do
  case "$a" in
    fb.plan=*) PLAN=${a#fb.plan=} ;;
    fb.syslog=*) SYSLOG=${a#fb.syslog=} ;;
    fb.onfail=*) ONFAIL=${a#fb.onfail=} ;;
  esac
done

elapsed() { awk -v t0="$T0" '{ printf "%.1f", $1 - t0 }' /proc/uptime; }
say() { # to the console, the local log (its tail goes with a failure) and fleetboot's syslog
  echo "fleetboot: [$(elapsed)s] $*" > /dev/console
  echo "$*" >> "$LOG"
  logger -t fleetboot-installer -- "$*" 2>/dev/null
}
run() { # CMD...: its output into the log (and syslog), its status returned
  echo "+ $*" >> "$LOG"
  "$@" > /tmp/run.out 2>&1; rc=$?
  if [ -s /tmp/run.out ]; then
    cat /tmp/run.out >> "$LOG"
    tail -n 20 /tmp/run.out | logger -t fleetboot-installer 2>/dev/null
  fi
  return $rc
}
urlenc() { # every byte as %XX: safe for any message, no tables needed
  printf %s "$1" | od -An -v -tx1 | tr -s ' \n' '  ' | sed 's/^ //; s/ $//; s/ /%/g; s/^/%/; s/^%$//'
}
report() { # STAGE MESSAGE
  [ -n "$FB_PROGRESS_URL" ] || return 0
  m=$(printf %s "$2" | head -c 3000)
  i=0
  while [ $i -lt 5 ]; do
    timeout 20 wget -q -O /dev/null "$FB_PROGRESS_URL?stage=$1&message=$(urlenc "$m")" && return 0
    i=$((i + 1)); sleep 2
  done
  say "could not report stage $1"
  return 1
}
fail() { # MESSAGE: report failed with the step and the last log lines, then stop
  say "FAILED at step $STEP: $1"
  last=$(tail -n 15 "$LOG" | tr '\n' '|')
  report failed "step=$STEP: $1 | last log lines: $last"
  if [ "$TOUCHED" = 0 ]; then
    # nothing was written: the run is failed (the next PXE boot is a local boot), so a
    # reboot returns the machine to its old system
    echo "fleetboot: install failed before the disk was touched ($1); rebooting into the old system" > /dev/console
    sleep 5; sync; reboot -f
  fi
  while :; do
    echo "fleetboot: INSTALL FAILED at step $STEP: $1" > /dev/console
    echo "fleetboot: the disk was partly written and is not bootable; mark the host for reinstall again (fleetboot reinstall HOST)" > /dev/console
    case "$ONFAIL" in
      poweroff) sync; poweroff -f ;;
      reboot) sync; reboot -f ;;
      *) sleep 600 ;;
    esac
  done
}

# --- network: DHCP on every NIC with a link, the first lease wins
STEP=network
[ -n "$PLAN" ] || fail "no fb.plan= on the kernel command line"
for i in 1 2 3 4 5 6 7 8 9 10; do
  for n in /sys/class/net/*; do
    ifc=${n##*/}; [ "$ifc" = lo ] && continue
    ip link set "$ifc" up 2>/dev/null
  done
  for n in /sys/class/net/*; do
    ifc=${n##*/}; [ "$ifc" = lo ] && continue
    [ "$(cat "$n/carrier" 2>/dev/null)" = 1 ] || continue
    udhcpc -i "$ifc" -n -q -t 4 -T 2 -s /lib/fleetboot/udhcpc.sh >/tmp/udhcpc.log 2>&1 && break 2
  done
  sleep 1
done
[ -s /run/fb-lease ] || fail "no DHCP lease on any interface"
. /run/fb-lease
if [ -n "$SYSLOG" ]; then syslogd -R "$SYSLOG" -L -O /tmp/syslog 2>/dev/null; fi
say "network: $FB_LEASE_IP on $FB_LEASE_IF"

# --- plan
STEP=plan
i=0
until timeout 30 wget -q -O /tmp/plan.sh "$PLAN?format=sh"; do
  i=$((i + 1)); [ $i -ge 5 ] && fail "could not fetch the plan"; sleep 3
done
. /tmp/plan.sh || fail "the plan does not parse"
if [ -d /sys/firmware/efi ]; then FW=uefi; else FW=bios; fi
DISK=$FB_DISK
[ -b "$DISK" ] || { sleep 3; [ -b "$DISK" ] || fail "disk $DISK not found (have: $(ls /sys/class/block | tr '\n' ' '))"; }
report plan "installer up after $(elapsed) s: firmware $FW, disk $DISK, scheme $FB_SCHEME, image $FB_IMAGE_ID ($FB_IMAGE_SIZE bytes)"

# --- partitioning
STEP=partitioning
MIN_ROOT_MIB=$(( (FB_IMAGE_RAWSIZE + 1048575) / 1048576 ))
fb_layout "$DISK" "$FB_SCHEME" "$FB_DATA_LABEL" "$FB_TABLE" "$MIN_ROOT_MIB" "$FB_ESP_MIB" "$FB_ROOT_MIB" /tmp/table.sfdisk /tmp/table.vars > /tmp/layout.msg 2>&1
rc=$?
[ $rc = 0 ] || fail "$(cat /tmp/layout.msg)"
. /tmp/table.vars
cat /tmp/table.sfdisk >> "$LOG"
# from here on the disk is written: its boot code goes first, so no firmware boots a
# half-written system (the boot code comes back with grub-install after the image verified)
TOUCHED=1
run dd if=/dev/zero of="$DISK" bs=440 count=1 conv=notrunc || fail "cannot write to $DISK"
run fb_apply "$DISK" "$FB_SCHEME" /tmp/table.sfdisk || fail "sfdisk could not write the new table"
ROOT=$(fb_partdev "$DISK" "$FB_P_ROOT")
ESP=""; [ -n "$FB_P_ESP" ] && ESP=$(fb_partdev "$DISK" "$FB_P_ESP")
DATA=$(fb_partdev "$DISK" "$FB_P_DATA")
i=0; while [ ! -b "$ROOT" ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
[ -b "$ROOT" ] || fail "$ROOT did not appear after the table was written"
[ -n "$ESP" ] && { run mkfs.fat -F 32 -n ESP "$ESP" || fail "mkfs.fat $ESP failed"; }
if [ "$FB_NEW_DATA" = 1 ]; then
  run /sbin/mke2fs -q -F -t ext4 -L "$FB_DATA_LABEL" "$DATA" || fail "mke2fs on the new data partition failed"
fi
report partitioning "table $FB_TABLE: root $ROOT, esp ${ESP:-none}, data $DATA ($([ "$FB_NEW_DATA" = 1 ] && echo new || echo kept))"

# --- image. Two ways, the same checks: the zstd image's sha256 must match the plan before the
# disk is made bootable, and bytes written come from the disk's own counter (sectors written,
# /sys/block/X/stat field 7).
#  spool (when RAM holds the compressed image with 256 MiB to spare): one download into tmpfs,
#    then sha256sum and zstd read that file side by side. Measured here under TCG (205 MiB
#    image, 992 MiB raw): 14 s in all, where the streaming pipe below took 57-66 s.
#  stream (small RAM): wget | tee (sha256sum, wc) | zstd. busybox tee moves 1 KiB per
#    read/write round into two pipes, and every round is a context switch among four processes
#    on an emulated CPU: correct, but slow.
STEP=image
bdev=$(basename "$DISK")
# Zero the root partition first (BLKZEROOUT: offloaded as WRITE ZEROES where the disk has it,
# the kernel writes zeros otherwise), then let zstd skip the image's zero blocks (--sparse):
# a 1 GiB image of a ~60% full filesystem writes ~40% fewer bytes from the installer. Without
# a zeroed partition every byte must be written (unused inode tables must read as zeros).
SPARSE=""
# (absolute paths: busybox ash runs its own applet of the same name before searching PATH,
# and busybox has a blkdiscard without -z and an mke2fs without ext4)
if run /sbin/blkdiscard -z "$ROOT"; then SPARSE=--sparse; else say "image: blkdiscard -z $ROOT failed; writing every byte"; fi
w0=$(awk '{print $7}' "/sys/block/$bdev/stat")
SPOOL=/tmp/image.zst
mem_kb=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
MODE=stream
[ "${mem_kb:-0}" -gt $(( FB_IMAGE_SIZE / 1024 + 262144 )) ] && MODE=spool
(
  while sleep 4; do
    if [ -f /tmp/img.writing ]; then
      w=$(awk '{print $7}' "/sys/block/$bdev/stat")
      report image "written $(( (w - w0) * 512 )) of $FB_IMAGE_RAWSIZE bytes after $(elapsed) s" >/dev/null 2>&1
    else
      report image "received $(stat -c %s "$SPOOL" 2>/dev/null || echo 0) of $FB_IMAGE_SIZE bytes after $(elapsed) s" >/dev/null 2>&1
    fi
  done
) &
progpid=$!
ti=$(cut -d' ' -f1 /proc/uptime)
rm -f /tmp/img.sha /tmp/img.n /tmp/img.writing
if [ $MODE = spool ]; then
  say "image: fetching $FB_IMAGE_URL ($FB_IMAGE_SIZE bytes compressed, $FB_IMAGE_RAWSIZE raw) into RAM, then to $ROOT"
  wget -q -O "$SPOOL" "$FB_IMAGE_URL" 2>>"$LOG"
  prc=$?
  n=$(stat -c %s "$SPOOL" 2>/dev/null || echo 0)
  tr_=$(awk -v t="$ti" '{ printf "%.1f", $1 - t }' /proc/uptime)
  if [ $prc != 0 ] || [ "$n" != "$FB_IMAGE_SIZE" ]; then
    kill $progpid 2>/dev/null
    fail "image download failed (wget exit $prc, $n of $FB_IMAGE_SIZE bytes received)"
  fi
  say "image: $n bytes received in $tr_ s; verifying and writing"
  : > /tmp/img.writing
  ( sha256sum "$SPOOL" | cut -d' ' -f1 > /tmp/img.sha ) &
  shapid=$!
  zstd -dc $SPARSE "$SPOOL" 2>>"$LOG" > "$ROOT"
  prc=$?
  wait $shapid
  rm -f "$SPOOL"
else
  say "image: streaming $FB_IMAGE_URL ($FB_IMAGE_SIZE bytes compressed, $FB_IMAGE_RAWSIZE raw) to $ROOT (${mem_kb:-?} kB RAM available: too little to hold it)"
  : > /tmp/img.writing
  rm -f /tmp/img.sha.fifo /tmp/img.n.fifo
  mkfifo /tmp/img.sha.fifo /tmp/img.n.fifo
  ( sha256sum < /tmp/img.sha.fifo | cut -d' ' -f1 > /tmp/img.sha ) &
  ( wc -c < /tmp/img.n.fifo > /tmp/img.n ) &
  set -o pipefail
  wget -q -O - "$FB_IMAGE_URL" 2>>"$LOG" | tee /tmp/img.sha.fifo /tmp/img.n.fifo | zstd -dc $SPARSE 2>>"$LOG" > "$ROOT"
  prc=$?
  set +o pipefail
  wait_files=0; while { [ ! -s /tmp/img.sha ] || [ ! -s /tmp/img.n ]; } && [ $wait_files -lt 50 ]; do sleep 0.2; wait_files=$((wait_files + 1)); done
  n=$(tr -d ' ' < /tmp/img.n 2>/dev/null)
fi
sync
kill $progpid 2>/dev/null
secs=$(awk -v t="$ti" '{ printf "%.1f", $1 - t }' /proc/uptime)
w=$(awk '{print $7}' "/sys/block/$bdev/stat")
written=$(( (w - w0) * 512 ))
got=$(cat /tmp/img.sha 2>/dev/null)
# the rate is the image's: its raw size over the time from the first byte asked to the last synced
rate=$(awk -v b="$FB_IMAGE_RAWSIZE" -v s="$secs" 'BEGIN { printf "%.1f", (s > 0 ? b / s / 1048576 : 0) }')
say "image ($MODE): $n bytes received, $written bytes written${SPARSE:+ (zero blocks skipped)} in $secs s ($rate MB/s), sha256 $got"
[ "$got" = "$FB_IMAGE_SHA256" ] || fail "image sha256 mismatch: got $got, the plan says $FB_IMAGE_SHA256 ($n of $FB_IMAGE_SIZE bytes received)"
[ $prc = 0 ] || fail "image stream failed (download or zstd, exit $prc)"
report image "image of $FB_IMAGE_RAWSIZE bytes in $secs s ($rate MB/s, $MODE); $written bytes written${SPARSE:+ (zero blocks skipped)}; received $n bytes; sha256 verified"

# --- filesystem: check, grow to the partition, new UUID (every host's root differs)
STEP=filesystem
run e2fsck -f -y "$ROOT"; rc=$?
[ $rc -le 1 ] || fail "e2fsck $ROOT exited $rc"
run resize2fs "$ROOT" || fail "resize2fs $ROOT failed"
run tune2fs -U random "$ROOT" || fail "tune2fs -U random $ROOT failed"
uuid_of() { blkid "$1" | sed -n 's/.* UUID="\([^"]*\)".*/\1/p'; }
ROOT_UUID=$(uuid_of "$ROOT"); DATA_UUID=$(uuid_of "$DATA"); ESP_UUID=""
[ -n "$ESP" ] && ESP_UUID=$(uuid_of "$ESP")
[ -n "$ROOT_UUID" ] || fail "no UUID on $ROOT after tune2fs"
report filesystem "root $ROOT_UUID grown to its partition; data $DATA_UUID"

# --- identity
STEP=identity
T=/target
mkdir -p $T
run mount -t ext4 "$ROOT" $T || fail "cannot mount $ROOT"
i=1
while [ "$i" -le "${FB_FILES:-0}" ]; do
  eval "p=\$FB_FILE_${i}_PATH m=\$FB_FILE_${i}_MODE b=\$FB_FILE_${i}_B64"
  mkdir -p "$T$(dirname "$p")"
  printf %s "$b" | base64 -d > "$T$p" || fail "cannot write $p"
  chmod "$m" "$T$p"
  i=$((i + 1))
done
[ -d $T/root/.ssh ] && chmod 700 $T/root/.ssh
# a fresh machine-id (32 hex digits) and fresh SSH host keys
od -An -N16 -tx1 /dev/urandom | tr -d ' \n' > $T/etc/machine-id; echo >> $T/etc/machine-id
rm -f $T/var/lib/dbus/machine-id $T/etc/ssh/ssh_host_*
mount -t proc proc $T/proc; mount -t sysfs sysfs $T/sys; mount -o bind /dev $T/dev
# Fresh SSH host keys: Ed25519 and ECDSA here (0.15 s each under TCG). The RSA key is left to
# the installed system's first sshd start (the image's ssh.service drop-in runs ssh-keygen -A,
# which makes the missing ones): 3072-bit RSA generation is a random search for primes that
# took 5.8 s in one run and 18 s in another on this emulated CPU, all of it on the install's
# critical path, and on the first boot it runs beside everything else (it delays sshd, not
# "up"). On real hardware either place costs ~0.2 s.
for kt in ed25519 ecdsa; do
  run chroot $T ssh-keygen -q -t $kt -N '' -C "root@$FB_HOST" -f /etc/ssh/ssh_host_${kt}_key || fail "ssh-keygen -t $kt in the target failed"
done
mkdir -p "$T$FB_DATA_MOUNT"
{
  echo "# written by fleetboot's installer (run $FB_RUN_ID)"
  echo "UUID=$ROOT_UUID / ext4 errors=remount-ro 0 1"
  [ -n "$ESP_UUID" ] && echo "UUID=$ESP_UUID /boot/efi vfat umask=0077,nofail 0 1"
  echo "UUID=$DATA_UUID $FB_DATA_MOUNT ext4 defaults,nofail 0 2"
} > $T/etc/fstab
report identity "hostname $FB_HOST, $FB_FILES files, machine-id and SSH host keys (ed25519, ecdsa; rsa at sshd's first start) new, fstab by UUID (data on $FB_DATA_MOUNT)"

# --- bootloader: only now, with the image verified, is the disk made bootable
STEP=bootloader
KV=$(ls $T/boot | sed -n 's/^vmlinuz-//p' | sort | tail -n 1)
[ -n "$KV" ] || fail "no kernel in the image's /boot"
mkdir -p $T/boot/grub
cat > $T/boot/grub/grub.cfg <<EOG
# written by fleetboot's installer
set timeout=0
insmod part_gpt
insmod part_msdos
insmod ext2
search --no-floppy --fs-uuid --set=root $ROOT_UUID
menuentry "Debian ($FB_HOST)" {
  linux /boot/vmlinuz-$KV root=UUID=$ROOT_UUID ro $FB_KERNEL_CMDLINE
  initrd /boot/initrd.img-$KV
}
EOG
# UEFI: as curtin does, the installed system gets an NVRAM entry of its own instead of relying
# on the firmware to find the removable path (firmware differs in when it scans for one: OVMF
# offered no entry for the disk after the install's warm reboot). It goes right after the
# entry this install was booted from, so the next boot still asks fleetboot first (every
# reinstall starts with a PXE boot; fleetboot answers "local boot", ending in `exit 1`, see
# src/boot/ipxe.ts), then the disk boots by its entry; and BootNext points at it once.
# Failing here is not fatal: the removable path EFI/BOOT/BOOTX64.EFI stays as the fallback,
# and the bootloader report says what happened.
NVRAM=""
fb_nvram_entry() {
  ev=$T/sys/firmware/efi/efivars
  mount -t efivarfs efivarfs $ev 2>/dev/null
  efi() { chroot $T efibootmgr "$@"; }
  ours() { sed -n 's/^Boot\([0-9A-Fa-f]\{4\}\)[* ] fleetboot-installed[[:space:]].*/\1/p' "$1"; } # FILE: our entries
  is_net() { grep -q "^Boot$1[* ].*MAC(" /tmp/efi.after; } # B: a network boot entry
  if ! efi -v > /tmp/efi.before 2>&1; then
    NVRAM=", no NVRAM entry (efibootmgr: $(head -n 1 /tmp/efi.before)), removable path only"
    umount $ev 2>/dev/null; return 0
  fi
  cat /tmp/efi.before >> "$LOG"
  # entries of earlier installs of this disk's system (our label) go first
  for b in $(ours /tmp/efi.before); do
    run efi -q -b "$b" -B
  done
  if ! run efi -q -c -d "$DISK" -p "$FB_P_ESP" -L fleetboot-installed -l '\EFI\debian\grubx64.efi'; then
    NVRAM=", no NVRAM entry (efibootmgr -c failed), removable path only"
    umount $ev 2>/dev/null; return 0
  fi
  efi -v > /tmp/efi.after 2>&1
  order=$(sed -n 's/^BootOrder: *//p' /tmp/efi.after | tr ',' ' ')
  new=$(ours /tmp/efi.after | head -n 1)
  # right after the entry this install was booted from (BootCurrent, when it is a network
  # entry), else after every network entry: the network stays first, and the IPv6 and HTTP
  # boot entries that follow it are not tried before the disk on every reboot
  cur=$(sed -n 's/^BootCurrent: *//p' /tmp/efi.after)
  is_net "$cur" || cur=""
  head=""; tail=""; seen=""
  for b in $order; do
    [ "$b" = "$new" ] && continue
    if [ -n "$cur" ]; then
      if [ -z "$seen" ]; then head="$head $b"; else tail="$tail $b"; fi
      [ "$b" = "$cur" ] && seen=1
    elif is_net "$b"; then head="$head $b"; else tail="$tail $b"; fi
  done
  neworder=$(echo $head $new $tail | tr ' ' ',')
  if [ -n "$new" ] && run efi -q -o "$neworder"; then
    NVRAM=", NVRAM entry Boot$new, BootOrder $neworder"
    # BootNext: the reboot right after the install goes straight to the new system. Firmware
    # may try other network entries before ours however BootOrder reads (OVMF sorts it by
    # QEMU's bootindex at every boot: its IPv6 PXE entry then waited 68 s for a DHCPv6 answer
    # before the disk's turn); later boots ask the network first, as before.
    run efi -q -n "$new" && NVRAM="$NVRAM, BootNext $new"
  else
    NVRAM=", NVRAM entry ${new:-?} made, BootOrder not changed"
  fi
  efi -v >> "$LOG" 2>&1
  umount $ev 2>/dev/null
}
loaders=""
if [ "$FB_TABLE" = dos ] || [ -n "$FB_P_BIOS" ]; then
  run chroot $T grub-install --target=i386-pc "$DISK" || fail "grub-install --target=i386-pc $DISK failed"
  loaders="bios"
fi
if [ -n "$ESP" ]; then
  mkdir -p $T/boot/efi
  run mount -t vfat "$ESP" $T/boot/efi || fail "cannot mount the ESP $ESP"
  # --no-nvram: the firmware's boot order must keep the network first (every reinstall
  # starts with a PXE boot); the removable path EFI/BOOT/BOOTX64.EFI is what it falls back to
  run chroot $T grub-install --target=x86_64-efi --efi-directory=/boot/efi --bootloader-id=debian --no-nvram || fail "grub-install --target=x86_64-efi failed"
  run chroot $T grub-install --target=x86_64-efi --efi-directory=/boot/efi --removable --no-nvram || fail "grub-install --target=x86_64-efi --removable failed"
  loaders="$loaders uefi"
  [ "$FW" = uefi ] && fb_nvram_entry
  umount $T/boot/efi
fi
report bootloader "grub-install:$loaders (firmware $FW)$NVRAM, kernel $KV"
umount $T/dev $T/sys $T/proc
run umount $T || fail "cannot unmount the target"
sync

STEP=done
report done "installed in $(elapsed) s; rebooting"
say "done; rebooting"
sleep 1
reboot -f
