# scripts/e2e/image.sh — sourced by scripts/e2e.sh: the image-installer modes (issue 12).
#
#   image-bios   SeaBIOS + iPXE ROM, MBR disk [p1 old system ext4][p2 data ext4, a 32 MiB file]
#   image-uefi   OVMF + iPXE EFI ROM, GPT disk [p1 old ESP][p2 old system][p3 data]
#   image-bios-badsha   (not default) the image manifest's sha256 is wrong: the install fails
#                       at the image step, after the disk was touched, and halts
#   image-bios-nodata   (not default) no partition labelled data under keep-data: the install
#                       fails before the disk is touched and reboots into the old system
#
# The VM (TCG, 1 GiB, 2 vCPUs, virtio disk + NIC) is marked for reinstall, PXE-boots from
# fleetboot (DHCP, iPXE boot.ipxe over HTTP), runs fleetboot's installer environment (kernel +
# initramfs from `fleetboot assets fetch`), which fetches its plan, keeps the data partition,
# streams the role image (`fleetboot image build img`, reused by content hash), installs GRUB and
# reboots; the next PXE boot gets fleetboot's local-boot script, the firmware boots the disk,
# and the installed system's first boot reports "up" with the data file's sha256.

IMAGE_TIMEOUT=${IMAGE_TIMEOUT:-900}   # PXE -> up; generous: the 2-core CI machine is often loaded
IMAGE_ROLE=img

image_prepare() { # once per run, before the namespaces: the role image and the installer env
  log "fleetboot image build $IMAGE_ROLE (reused when its inputs are unchanged)"
  local t0; t0=$(date +%s)
  fb image build "$IMAGE_ROLE" > "$E2E_DIR/image-build.log" 2>&1 || { tail -30 "$E2E_DIR/image-build.log" >&2; return 1; }
  IMAGE_BUILD_S=$(( $(date +%s) - t0 ))
  local newest=0 f
  for f in "$REPO"/src/installer/env/* "$REPO"/src/installer/build.ts "$REPO"/src/installer/debs.ts; do
    [ "$f" -nt "$E2E_DIR/assets/fleetboot-installer/MANIFEST.json" ] && newest=1
  done
  if [ ! -s "$E2E_DIR/assets/fleetboot-installer/MANIFEST.json" ] || [ $newest = 1 ]; then
    log "fleetboot assets fetch (installer environment)"
    fb assets fetch --installer > "$E2E_DIR/assets-installer.log" 2>&1 || { tail -30 "$E2E_DIR/assets-installer.log" >&2; return 1; }
  fi
  log "image ready in ${IMAGE_BUILD_S} s: $(fb image list "$IMAGE_ROLE" 2>/dev/null | sed -n 2p)"
}

# make_old_disk FILE FW : the machine's disk before the reinstall. Prints the data file's sha256.
make_old_disk() {
  local disk=$1 fw=$2 d; d=$(mktemp -d)
  rm -f "$disk"; truncate -s 6G "$disk"
  mkdir -p "$d/old" "$d/data"
  echo "the old system (before fleetboot's reinstall)" > "$d/old/OLD-SYSTEM"
  head -c 32M /dev/urandom > "$d/data/payload.bin"
  if [ "$fw" = bios ]; then
    printf 'label: dos\nunit: sectors\n\nstart=2048, size=%s, type=83, bootable\nstart=%s, type=83\n' $((3*2097152)) $((2048+3*2097152)) | sfdisk -q "$disk"
  else
    printf 'label: gpt\nunit: sectors\n\nstart=2048, size=%s, type=U\nstart=%s, size=%s, type=L, name="old-root"\nstart=%s, type=L\n' \
      $((64*2048)) $((2048+64*2048)) $((3*2097152)) $((2048+64*2048+3*2097152)) | sfdisk -q "$disk"
  fi
  local n=0 line start size parts=()
  while read -r line; do parts+=("$line"); done < <(sfdisk -d "$disk" | grep ' : ' | sed 's/.*start= *\([0-9]*\), size= *\([0-9]*\).*/\1 \2/')
  for line in "${parts[@]}"; do
    n=$((n+1)); start=${line% *}; size=${line#* }
    if [ "$n" = "${#parts[@]}" ]; then
      mke2fs -q -F -t ext4 -L data -d "$d/data" -E offset=$((start*512)) "$disk" $((size/2))k
    elif [ "$fw" = uefi ] && [ "$n" = 1 ]; then
      : # the old ESP: left unformatted (the installer recreates it)
    else
      mke2fs -q -F -t ext4 -L oldroot -d "$d/old" -E offset=$((start*512)) "$disk" $((size/2))k
    fi
  done
  sha256sum "$d/data/payload.bin" | cut -d' ' -f1
  rm -rf "$d"
}

# data_file_sha DISK : the data partition's payload.bin, read from the disk image after the run
data_file_sha() {
  local disk=$1 line start size dev
  line=$(sfdisk -d "$disk" | grep ' : ' | sort -t= -k2 -n | tail -n 1)
  start=$(echo "$line" | sed 's/.*start= *\([0-9]*\).*/\1/'); size=$(echo "$line" | sed 's/.*size= *\([0-9]*\).*/\1/')
  dev=$(losetup -r -f --show -o $((start*512)) --sizelimit $((size*512)) "$disk") || return 1
  debugfs -R "cat /payload.bin" "$dev" 2>/dev/null | sha256sum | cut -d' ' -f1
  losetup -d "$dev"
}

start_vm_disk() { # start_vm with the disk behind the NIC in the boot order, and no -no-reboot
  local fwargs=()
  if [ "$FW" = bios ]; then fwargs=(-device sga)
  else
    cp "$OVMF_VARS" "$RUN/OVMF_VARS-first.fd"
    fwargs=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=$OVMF_CODE" -drive "if=pflash,format=raw,unit=1,file=$RUN/OVMF_VARS-first.fd")
  fi
  T0=$(date +%s.%N)
  ip netns exec "$NS_LAN" qemu-system-x86_64 -name "fbe2e-$MODE" -accel tcg -M q35 -m "${IMAGE_MEM:-1024}" -smp 2 \
     -nodefaults -no-user-config -display none "${fwargs[@]}" \
     -serial stdio -monitor "unix:$RUN/mon-first.sock,server,nowait" \
     -netdev tap,id=n0,ifname=tap0,script=no,downscript=no -device "virtio-net-pci,netdev=n0,mac=$VM_MAC,bootindex=1" \
     -drive "file=$RUN/disk.raw,format=raw,if=none,id=d0,cache=unsafe" -device virtio-blk-pci,drive=d0,bootindex=2 \
     < /dev/null > >(tee "$RUN/console-first.raw" | "$PY" "$E2E_LIB/ts.py" "$T0" > "$RUN/console-first.log") 2>"$RUN/qemu-first.err" &
  VM_PID=$!
  PIDS+=("$VM_PID")
}

api_events() { srv_curl -H "Authorization: Bearer $API_TOKEN" "http://$SRV_IP/api/v1/hosts/$MODE/events"; }

run_image_mode() {
  local kind=ok
  case "$MODE" in *-badsha) kind=badsha ;; *-nodata) kind=nodata ;; esac
  log "$MODE: building the old disk"
  local want; want=$(make_old_disk "$RUN/disk.raw" "$FW")
  if [ "$kind" = nodata ]; then # relabel the data filesystem: keep-data must refuse
    local line start; line=$(sfdisk -d "$RUN/disk.raw" | grep ' : ' | tail -n 1); start=$(echo "$line" | sed 's/.*start= *\([0-9]*\).*/\1/')
    printf 'notdata\0\0\0\0\0\0\0\0\0' | dd of="$RUN/disk.raw" bs=1 seek=$((start*512+1144)) conv=notrunc status=none
  fi
  local manifest="" saved=""
  if [ "$kind" = badsha ]; then # the served image no longer matches its manifest's sha256
    manifest=$(ls -t "$E2E_DIR/images/$IMAGE_ROLE"/*.json | head -1); saved=$(mktemp); cp "$manifest" "$saved"
    sed -i 's/"sha256": *"\(.\)/"sha256": "0/' "$manifest"; grep -q '"sha256": "0' "$manifest" || sed -i 's/"sha256":"\(.\)/"sha256":"0/' "$manifest"
  fi
  fb reinstall "$MODE" > "$RUN/reinstall.txt" 2>&1 || fail "fleetboot reinstall $MODE: $(cat "$RUN/reinstall.txt")"
  local n0; n0=$(wc -l < "$E2E_DIR/fleetboot.log")
  # bytes over the wire: the server side of the LAN link, counted by the kernel
  local tx0 rx0; tx0=$(ip netns exec "$NS_SRV" cat /sys/class/net/veth-srv/statistics/tx_bytes); rx0=$(ip netns exec "$NS_SRV" cat /sys/class/net/veth-srv/statistics/rx_bytes)
  start_vm_disk
  log "$MODE: QEMU started ($FW, disk $RUN/disk.raw, data sha256 ${want:0:16}...)"
  local deadline=$(( $(date +%s) + IMAGE_TIMEOUT )) state="" ev
  while kill -0 "$VM_PID" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do
    sleep 3
    ev=$(api_events 2>/dev/null) || continue
    # the run's state: its last state event (the API gives the run's events, not the run row)
    state=$(echo "$ev" | "$PY" -c 'import json,sys; e=[x for x in json.load(sys.stdin).get("events",[]) if x.get("kind")=="state"]; print(e[-1].get("stage","") if e else "")' 2>/dev/null)
    case "$state" in done|failed|cancelled) break ;; esac
  done
  [ "$kind" = badsha ] && sleep 5   # let the halt message reach the console
  [ "$kind" = nodata ] && sleep 20  # the installer reboots; the old system's boot attempt shows
  kill_pid "$VM_PID"
  local tend; tend=$(date +%s.%N)
  WIRE="wire_tx=$(( ($(ip netns exec "$NS_SRV" cat /sys/class/net/veth-srv/statistics/tx_bytes) - tx0) / 1000000 ))MB wire_rx=$(( ($(ip netns exec "$NS_SRV" cat /sys/class/net/veth-srv/statistics/rx_bytes) - rx0) / 1000000 ))MB"
  [ -n "$saved" ] && { cp "$saved" "$manifest"; rm -f "$saved"; }
  check_image_run "$kind" "$want"
  tail -n +"$((n0+1))" "$E2E_DIR/fleetboot.log" > "$RUN/fleetboot.log"
  local result=PASS; [ ${#FAILS[@]} = 0 ] || result=FAIL
  {
    echo "===== $MODE: $result (fw=$FW mac=$VM_MAC server=$E2E_SERVER)"
    for f in "${FAILS[@]}"; do echo "  FAIL: $f"; done
    echo "TIMELINE: $MODE $result $IMAGE_SUMMARY"
    echo "fleetboot events $MODE:"; sed 's/^/  /' "$RUN/events.txt"
    echo "CONSOLE milestones:"
    sed 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/\r//g' "$RUN/console-first.log" | grep -aE "iPXE \(|fleetboot|Linux version|Debian GNU|login:|FLEETBOOT|Reached target" | cut -c1-200 | sed 's/^/  /'
  } > "$RUN/report.txt"
  cat "$RUN/report.txt" >> "$E2E_DIR/report.txt"
  grep -m1 '^TIMELINE:' "$RUN/report.txt" | cut -d' ' -f2- >> "$E2E_DIR/results.txt"
  if [ "$result" = PASS ]; then
    [ "$KEEP_ARTIFACTS" = 1 ] || rm -f "$RUN/disk.raw" "$RUN"/console-*.raw "$RUN"/OVMF_VARS-*.fd
    return 0
  fi
  log "$MODE failed; artifacts kept in $RUN (console-first.log, fleetboot.log, disk.raw)"
  tail -25 "$RUN/console-first.log" | sed 's/^/  console: /' >&2
  return 1
}

check_image_run() { # KIND WANT_SHA
  local kind=$1 want=$2
  fb events "$MODE" > "$RUN/events.txt" 2>&1 || fail "fleetboot events $MODE failed"
  fb events "$MODE" --json > "$RUN/events-cli.json" 2>>"$RUN/events.txt" || fail "fleetboot events --json failed"
  local out
  out=$("$PY" - "$RUN/events-cli.json" "$kind" "$want" <<'EOF'
import json, re, sys
d = json.load(open(sys.argv[1])); kind, want = sys.argv[2], sys.argv[3]
ev = d.get("events", []); run = d.get("run") or {}
errs, info = [], []
got = ["%s:%s" % (e["kind"], e.get("stage") or "") for e in ev]
def has_seq(seq):
    i = 0
    for g in got:
        if i < len(seq) and g == seq[i]: i += 1
    return i == len(seq), (seq[i] if i < len(seq) else None)
if kind == "ok":
    want_state = "done"
    seq = ["state:marked", "boot:pxe", "state:booting", "progress:plan", "state:installing", "progress:partitioning", "progress:image",
           "progress:filesystem", "progress:identity", "progress:bootloader", "progress:done", "state:rebooting", "progress:up", "state:done"]
elif kind == "badsha":
    want_state = "failed"; seq = ["state:marked", "boot:pxe", "progress:plan", "progress:partitioning", "progress:failed", "state:failed"]
else:
    want_state = "failed"; seq = ["state:marked", "boot:pxe", "progress:plan", "progress:failed", "state:failed"]
if run.get("state") != want_state: errs.append("run state is %r, not %s" % (run.get("state"), want_state))
ok, missing = has_seq(seq)
if not ok: errs.append("timeline lacks %s (got %s)" % (missing, " ".join(got)))
t = lambda pred: next((e["at"] for e in ev if pred(e)), None)
pxe = t(lambda e: e["kind"] == "boot")
msg = lambda st: [e.get("message") or "" for e in ev if e["kind"] == "progress" and e.get("stage") == st]
if kind == "ok":
    up = msg("up")
    if not up or ("sha256=%s" % want) not in up[-1]: errs.append("first boot's up message %r lacks the data file's sha256=%s" % (up[-1:] or None, want))
    img = [m for m in msg("image") if "MB/s" in m]
    m = re.search(r"\(([\d.]+) MB/s", img[-1]) if img else None
    rate = m.group(1) if m else "?"
    tup, tdone, tplan = t(lambda e: e.get("stage") == "up"), t(lambda e: e.get("stage") == "done" and e["kind"] == "progress"), t(lambda e: e.get("stage") == "plan")
    f = lambda a, b: "%.1f" % ((a - b) / 1000) if a and b else "?"
    info.append("pxe->plan=%ss pxe->done=%ss pxe->up=%ss image_write=%s MB/s" % (f(tplan, pxe), f(tdone, pxe), f(tup, pxe), rate))
elif kind == "badsha":
    fm = msg("failed")
    if not fm or "step=image" not in fm[-1] or "sha256 mismatch" not in fm[-1]: errs.append("failed message does not name the image step and the sha256 mismatch: %r" % fm[-1:])
    if not fm or "last log lines" not in fm[-1]: errs.append("failed message lacks the last log lines")
else:
    fm = msg("failed")
    if not fm or "step=partitioning" not in fm[-1] or "no partition labelled" not in fm[-1]: errs.append("failed message does not name the partitioning step / the missing data partition: %r" % fm[-1:])
print("ERR " + "; ".join(errs) if errs else "OK " + " ".join(info))
EOF
)
  # a checker that crashed printed neither OK nor ERR: that is a failure, never a pass
  case "$out" in ERR*) fail "${out#ERR }"; IMAGE_SUMMARY="" ;; OK*) IMAGE_SUMMARY=${out#OK } ;; *) fail "the timeline check did not run to its end: ${out:-no output}"; IMAGE_SUMMARY="" ;; esac
  local console; console=$(sed 's/\r//g' "$RUN/console-first.raw" 2>/dev/null)
  case "$kind" in
    ok)
      if [ "$FW" = uefi ]; then
        # the installer set BootNext to its NVRAM entry: the first boot goes straight to the disk
        grep -aq 'BdsDxe: starting Boot[0-9A-F]* "fleetboot-installed"' <<<"$console" || fail "the first boot did not start the installer's NVRAM entry fleetboot-installed (BootNext)"
      else
        grep -aq "fleetboot: local boot" <<<"$console" || fail "the second PXE boot did not get fleetboot's local-boot script"
      fi
      local have; have=$(data_file_sha "$RUN/disk.raw")
      [ "$have" = "$want" ] || fail "the data file on the disk image has sha256 $have, was $want"
      IMAGE_SUMMARY="$IMAGE_SUMMARY $WIRE data=kept(sha256 ${want:0:12}) load=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' ,)" ;;
    badsha)
      grep -aq "INSTALL FAILED at step image" <<<"$console" || fail "the console does not show the halt with its reason"
      [ "$(data_file_sha "$RUN/disk.raw")" = "$want" ] || fail "the data file changed although the install failed" ;;
    nodata)
      grep -aq "failed before the disk was touched" <<<"$console" || fail "the console does not say the disk was untouched"
      sfdisk -d "$RUN/disk.raw" | grep -q 'start= *2048,' || fail "the partition table changed" ;;
  esac
}
