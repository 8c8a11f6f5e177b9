# scripts/reinstall-demo, PROBE=firstboot (SERVER=fleetboot only): everything after d-i's
# partitioning step, with d-i itself replaced by debootstrap run on the host.
#
# Why this exists: the only Debian mirror this workplace reaches answers 404 for most of the
# bookworm installer components (udebs) that d-i's anna downloads (apt-mirror-setup,
# partman-ext3, finish-install, grub-installer, ... see docs/reinstall.md), so a real d-i run
# stops ~100 s after PXE. The partition step itself is proven inside the real d-i by
# PROBE=partition. This probe proves the rest of the chain fleetboot is responsible for, with
# the same rendered files d-i would use and the same install run:
#   boot.ipxe for the MAC (run -> booting, the token URLs) -> answer file + di-hooks.sh fetched
#   from the run's token URLs -> p1 formatted as the new root (what partman's recipe does in
#   the freed space; the data partition is not touched) -> base system by debootstrap through
#   fleetboot's package cache (the mirror URL fleetboot rendered) -> pkgsel/include through the
#   cache with apt in the chroot -> di-hooks.sh `late` (the preseed's late_command, with
#   FB_TARGET) -> GRUB written to the disk image -> "done" (run -> rebooting) -> the VM PXE
#   boots, fleetboot answers "local boot", SeaBIOS boots the disk, systemd starts
#   fleetboot-firstboot.service, which reports "up" with the data file's sha256 -> run done.
# What it does NOT prove: d-i's own behaviour (anna, partman, base-installer, grub-installer,
# finish-install) and d-i's timing; the host's debootstrap runs natively, not under TCG.
# Sourced by scripts/reinstall-demo; uses its variables and fb/fleetboot helpers.

hi_step() { log "host-install: $*"; }

# di-hooks.sh's own progress function (busybox wget, as in d-i) reports each stage
hi_progress() { ip netns exec "$NS_SRV" env PATH="$RUN/shim:$PATH" sh "$RUN/di-hooks.sh" progress "$@" 2>/dev/null; }

hi_chroot() { ip netns exec "$NS_SRV" chroot "$HI_T" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"; }

hi_umount() {
  local m
  [ -n "${HI_T:-}" ] || return 0
  for m in dev/pts dev proc sys; do mountpoint -q "$HI_T/$m" 2>/dev/null && umount -l "$HI_T/$m"; done
  mountpoint -q "$HI_T" 2>/dev/null && umount "$HI_T"
  [ -n "${HI_LOOP:-}" ] && { losetup -d "$HI_LOOP" 2>/dev/null; HI_LOOP=""; }
  return 0
}

host_install() {
  local img=$RUN/disk.raw base script answer tb mirror suite pkgs start1 size1 uuid kver
  HI_T=$RUN/target
  date +%s.%N > "$RUN/t_install"
  mkdir -p "$RUN/shim" "$HI_T"; ln -sf /bin/busybox "$RUN/shim/wget"
  base="http://$SRV_IP:$HTTP_PORT"

  # 1. what the machine's iPXE asks: the boot script for its MAC (moves the run to booting)
  script=$(ip netns exec "$NS_SRV" curl -fsS "$base/boot.ipxe?mac=$MAC") || { hi_step "boot.ipxe failed"; return 1; }
  answer=$(printf '%s\n' "$script" | grep -o 'url=http://[^ ]*/answer' | head -1 | cut -d= -f2-)
  [ -n "$answer" ] || { hi_step "boot.ipxe has no installer (is the host marked?): $script"; return 1; }
  tb=${answer%/answer}
  # 2. the answer file and the hook script, from the run's token URLs (as d-i fetches them)
  ip netns exec "$NS_SRV" curl -fsS -o "$RUN/preseed.cfg" "$answer" || { hi_step "answer fetch failed"; return 1; }
  ip netns exec "$NS_SRV" curl -fsS -o "$RUN/di-hooks.sh" "$tb/files/di-hooks.sh" || { hi_step "di-hooks.sh fetch failed"; return 1; }
  mirror=$(sed -n 's/^MIRROR_URL="\(.*\)"$/\1/p' "$RUN/di-hooks.sh")
  suite=$(sed -n 's/^SUITE="\(.*\)"$/\1/p' "$RUN/di-hooks.sh")
  pkgs=$(sed -n 's/^d-i pkgsel\/include string //p' "$RUN/preseed.cfg")
  hi_progress early_command "PROBE=firstboot: d-i replaced by debootstrap on the host; mirror $mirror"

  # 3. partitioning: the recipe's root goes where the old OS was (p1); only p1 is formatted
  read -r start1 size1 < <(part_sectors "$img" 1)
  hi_progress partitioning "p1 (sector $start1, $((size1 / 2048)) MiB) formatted ext4 as the new root; data partition untouched"
  HI_LOOP=$(losetup -f --show -o $((start1 * 512)) --sizelimit $((size1 * 512)) "$img") || return 1
  mkfs.ext4 -q -F -L root "$HI_LOOP" || return 1
  uuid=$(blkid -s UUID -o value "$HI_LOOP")
  mount "$HI_LOOP" "$HI_T" || return 1

  # 4. base system through fleetboot's cache (d-i's base-installer runs debootstrap too)
  hi_progress base-install "debootstrap $suite from $mirror"
  hi_step "debootstrap $suite $mirror"
  ip netns exec "$NS_SRV" debootstrap --include=linux-image-amd64,grub-pc-bin,systemd-sysv,udev \
    "$suite" "$HI_T" "$mirror" > "$RUN/debootstrap.log" 2>&1 \
    || { tail -5 "$RUN/debootstrap.log" >&2; hi_progress failed "debootstrap failed"; return 1; }
  for m in proc sys dev dev/pts; do mount --bind "/$m" "$HI_T/$m"; done

  # what partman-target and netcfg write in d-i: the root fstab line and the network config
  # (systemd-networkd matched by MAC: the interface name under QEMU is not known here)
  printf 'UUID=%s / ext4 errors=remount-ro 0 1\n' "$uuid" > "$HI_T/etc/fstab"
  printf '[Match]\nMACAddress=%s\n[Network]\nDHCP=ipv4\n' "$MAC" > "$HI_T/etc/systemd/network/50-fleetboot.network"
  hi_chroot systemctl enable systemd-networkd systemd-networkd-wait-online >> "$RUN/debootstrap.log" 2>&1

  # 5. pkgsel/include of the rendered preseed, through the cache
  hi_progress packages "installing: $pkgs"
  hi_chroot apt-get update -q >> "$RUN/debootstrap.log" 2>&1 \
    && hi_chroot apt-get install -y -q --no-install-recommends $pkgs >> "$RUN/debootstrap.log" 2>&1 \
    || { tail -5 "$RUN/debootstrap.log" >&2; hi_progress failed "apt-get install failed"; return 1; }

  # 6. the preseed's late_command: di-hooks.sh late against the target
  ip netns exec "$NS_SRV" env PATH="$RUN/shim:$PATH" FB_TARGET="$HI_T" TMPDIR="$RUN" sh "$RUN/di-hooks.sh" late \
    || { hi_progress failed "late_command failed"; return 1; }

  # 7. boot loader (grub-installer's part): GRUB's boot.img in the MBR code area (the partition
  # table and disk signature stay), core.img in the gap before p1 at sector 1 — where boot.img
  # looks by default, with diskboot's default block list (sector 2 on) filled in by
  # grub-mkimage — and a grub.cfg for the installed kernel
  kver=$(ls "$HI_T/lib/modules" | sort -V | tail -1)
  mkdir -p "$HI_T/boot/grub"
  cp -r "$HI_T/usr/lib/grub/i386-pc" "$HI_T/boot/grub/"
  hi_chroot grub-mkimage -O i386-pc -o /boot/grub/core.img -p '(hd0,msdos1)/boot/grub' biosdisk part_msdos ext2 \
    || { hi_progress failed "grub-mkimage failed"; return 1; }
  [ "$(stat -c %s "$HI_T/boot/grub/core.img")" -lt $(( (start1 - 1) * 512 )) ] || { hi_progress failed "core.img does not fit before p1"; return 1; }
  dd if="$HI_T/usr/lib/grub/i386-pc/boot.img" of="$img" bs=440 count=1 conv=notrunc status=none
  dd if="$HI_T/boot/grub/core.img" of="$img" bs=512 seek=1 conv=notrunc status=none
  cat > "$HI_T/boot/grub/grub.cfg" <<EOF
set timeout=0
serial --unit=0 --speed=115200
terminal_output serial console
linux /boot/vmlinuz-$kver root=UUID=$uuid ro console=ttyS0,115200
initrd /boot/initrd.img-$kver
boot
EOF
  sync
  hi_umount
  # 8. finish-install's 95fleetboot-done hook
  hi_progress done "host install finished (PROBE=firstboot); rebooting into the installed system"
  date +%s.%N > "$RUN/t_install_end"
  collect_callbacks
  stage_seen done
}
