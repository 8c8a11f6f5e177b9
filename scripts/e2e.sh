#!/bin/bash
# scripts/e2e.sh [MODE...] — real firmware PXE-boots through fleetboot alone (issue #5).
#
# In network namespaces this script creates (fbe2e-srv, fbe2e-lan; the host's network is never
# touched), `fleetboot serve` runs with DHCP (full mode on veth-srv), TFTP (:69) and HTTP (:80);
# a QEMU VM (TCG) on the LAN bridge boots from the network:
#   firmware DHCP -> (TFTP loader) -> iPXE -> boot.ipxe -> kernel+initrd over HTTP -> the booted
#   Linux (busybox initramfs, scripts/e2e/build-initramfs.sh) reports to the run's token URL
#   (stage=linux, then stage=done) and powers off.
# Per mode it then asserts: the run is done, `fleetboot events` and /api/v1/hosts/H/events show
# the same timeline, and /boot.ipxe for the VM's MAC is now a local boot (bios-http also boots
# the VM a second time and sees the local-boot script run).
#
# MODES  bios-http       SeaBIOS + QEMU's iPXE NIC ROM -> fleetboot boot.ipxe -> HTTP
#        bios-undionly   same ROM; its shell chainloads undionly.kpxe from fleetboot's TFTP
#                        (QEMU has no non-iPXE BIOS PXE ROM; see docs/e2e.md)
#        uefi-http       OVMF + iPXE EFI NIC ROM -> boot.ipxe -> HTTP
#        uefi-snponly    OVMF's own PXE (NIC without ROM) -> TFTP snponly.efi -> iPXE -> HTTP
#        bios-2nic, uefi-2nic  an extra NIC (not in the inventory, not cabled) ahead of the
#                        booting one: the boot must be decided by the MAC that booted
#                        (boot.ipxe?mac=${netX/mac}; ${net0/mac} named the decoy under BIOS)
#        <mode>-stock    same, without the IPv6 router advertisements (what a LAN without an
#                        IPv6 router gives: iPXE waits ~16 s per stage for IPv6 autoconf)
#        rollout         (alone) issue 14's rolling reinstall: scripts/e2e/rollout.sh
#   default: bios-http bios-undionly uefi-http uefi-snponly bios-2nic uefi-2nic bios-http-stock uefi-snponly-stock
#
# Env: E2E_DIR (/tmp/fleetboot-e2e: work dir, report.txt, per-mode artifacts under run/),
#   E2E_SERVER=fleetboot|fleetboot-dhcp|dnsmasq (debugging only: dnsmasq serves TFTP, or DHCP+TFTP;
#   HTTP is always fleetboot's), TIMEOUT (s per boot, 150), KEEP=1 (leave namespaces up), KEEP_ARTIFACTS=1 (keep the
#   pcap of passing modes too), SECOND_BOOT (modes that boot twice; default bios-http uefi-http).
# Prints one TIMELINE line per mode, then "N passed, N failed"; exit 1 if any mode failed.
set -uo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
E2E_LIB=$REPO/scripts/e2e
E2E_DIR=${E2E_DIR:-/tmp/fleetboot-e2e}
E2E_SERVER=${E2E_SERVER:-fleetboot}
NS_SRV=fbe2e-srv
NS_LAN=fbe2e-lan
NET=10.99.0
SRV_IP=$NET.1
TIMEOUT=${TIMEOUT:-150}
KEEP=${KEEP:-0}
KEEP_ARTIFACTS=${KEEP_ARTIFACTS:-0}
SECOND_BOOT=${SECOND_BOOT:-bios-http uefi-http}
MEM=${MEM:-512}
PY=/usr/bin/python3
OVMF_CODE=/usr/share/OVMF/OVMF_CODE_4M.fd
OVMF_VARS=/usr/share/OVMF/OVMF_VARS_4M.fd
DEFAULT_MODES="bios-http bios-undionly uefi-http uefi-snponly bios-2nic uefi-2nic bios-http-stock uefi-snponly-stock"
APT_PKGS="qemu-system-x86 ipxe-qemu seabios ovmf ipxe busybox-static cpio tcpdump iproute2 curl file binutils python3 debian-installer-12-netboot-amd64"
# the image modes: debootstrap (image build), depmod (installer modules), sfdisk/mke2fs/debugfs (disks)
case " $* " in *" image-"*) APT_PKGS="$APT_PKGS debootstrap kmod fdisk e2fsprogs zstd" ;; esac
[ "$E2E_SERVER" = fleetboot ] || APT_PKGS="$APT_PKGS dnsmasq-base"
# pxe-rig's capture parser: ../shared beside the repo clone (CI), else /work/shared
RIG=""
for d in "$REPO/../shared/pxe-rig" /work/shared/pxe-rig; do [ -r "$d/phases.py" ] && { RIG=$(cd "$d" && pwd); break; }; done
# shellcheck source=e2e/lib.sh
. "$E2E_LIB/lib.sh"
# shellcheck source=e2e/image.sh
. "$E2E_LIB/image.sh"

FB_CLI=${FB_CLI:-$REPO/dist/src/cli.js}   # another build of fleetboot (e.g. a patched copy) for experiments
fb() { node "$FB_CLI" --config "$CFG" "$@"; }
srv_curl() { ip netns exec "$NS_SRV" curl -sS --max-time 10 "$@"; }

mode_vars() { # MODE -> FW NICROM RA DECOY BASE_MODE
  local base=${1%-stock}
  RA=1 DECOY=0 IMAGE=0; [ "$base" != "$1" ] && RA=0
  case "$base" in
    bios-http|bios-undionly) FW=bios NICROM=ipxe ;;
    # a second NIC (first on the PCI bus, not cabled to the LAN) whose MAC is not in the
    # inventory: the boot must still be decided by the MAC that booted
    bios-2nic) FW=bios NICROM=ipxe DECOY=1 ;;
    uefi-2nic) FW=uefi NICROM=ipxe DECOY=1 ;;
    uefi-http) FW=uefi NICROM=ipxe ;;
    uefi-snponly) FW=uefi NICROM=none ;;
    # fleetboot's image installer (scripts/e2e/image.sh)
    image-bios|image-bios-badsha|image-bios-nodata) FW=bios NICROM=ipxe IMAGE=1 ;;
    image-uefi) FW=uefi NICROM=ipxe IMAGE=1 ;;
    *) log "unknown mode $1"; return 1 ;;
  esac
  BASE_MODE=$base
}

prepare() { # MODES...: config, assets, payload; called once
  rm -rf "$E2E_DIR/state" "$E2E_DIR/run" "$E2E_DIR/report.txt"
  mkdir -p "$E2E_DIR/state" "$E2E_DIR/run" "$E2E_DIR/assets"
  local hm=() i=0 m
  for m in "$@"; do i=$((i+1)); hm+=("$m:$(printf '52:54:00:e2:00:%02x' "$i")"); done
  printf '%s\n' "${hm[@]}" > "$E2E_DIR/hosts.txt"
  bash "$E2E_LIB/write-config.sh" "$E2E_DIR" "$E2E_SERVER" "${hm[@]}" || return 1
  CFG=$E2E_DIR/fleetboot.yaml
  [ -f "$FB_CLI" ] || (cd "$REPO" && npm run build >/dev/null) || return 1
  # boot assets the way an operator gets them; reused across runs while the packages match
  if [ ! -s "$E2E_DIR/assets/MANIFEST.json" ] || [ ! -s "$E2E_DIR/assets/undionly.kpxe" ] || \
     [ "$(dpkg-query -W -f='${Version}' ipxe debian-installer-12-netboot-amd64 2>/dev/null)" != "$(cat "$E2E_DIR/assets/.pkgver" 2>/dev/null)" ]; then
    log "fleetboot assets fetch"
    fb assets fetch > "$E2E_DIR/assets-fetch.log" 2>&1 || { cat "$E2E_DIR/assets-fetch.log" >&2; return 1; }
    dpkg-query -W -f='${Version}' ipxe debian-installer-12-netboot-amd64 > "$E2E_DIR/assets/.pkgver"
  fi
  local key; key=$(cat "$E2E_LIB/build-initramfs.sh" "$E2E_DIR/assets/debian-12/linux" | sha256sum | cut -c1-16)
  if [ "$(cat "$E2E_DIR/assets/tiny/.key" 2>/dev/null)" != "$key" ]; then
    log "building the tiny initramfs"
    bash "$E2E_LIB/build-initramfs.sh" "$E2E_DIR/assets/debian-12" "$E2E_DIR/assets/tiny" >&2 || return 1
    echo "$key" > "$E2E_DIR/assets/tiny/.key"
  fi
  fb check >/dev/null || { fb check; return 1; }
  case " $* " in *" image-"*) image_prepare || return 1 ;; esac
  # /api/v1 always needs credentials (web.enabled false: API tokens only), as a script would get them
  FLEETBOOT_SECRET_ADMIN_PASSWORD=$(head -c 18 /dev/urandom | base64) fb user add e2e >/dev/null || return 1
  API_TOKEN=$(fb user token e2e --name e2e) || return 1
}

start_server() {
  : > "$E2E_DIR/fleetboot.log"
  ip netns exec "$NS_SRV" node "$FB_CLI" serve --config "$CFG" >>"$E2E_DIR/fleetboot.log" 2>&1 &
  FB_PID=$!
  PIDS+=("$FB_PID")
  if [ "$E2E_SERVER" != fleetboot ]; then start_dnsmasq || return 1; fi
  wait_port "$NS_SRV" tcp 80 15 || { log "fleetboot did not bind HTTP :80"; tail -20 "$E2E_DIR/fleetboot.log" >&2; return 1; }
  wait_port "$NS_SRV" udp 67 5 || { log "nothing bound DHCP :67 ($E2E_SERVER) — is fleetboot's DHCP wired in?"; tail -20 "$E2E_DIR/fleetboot.log" >&2; return 1; }
  wait_port "$NS_SRV" udp 69 5 || { log "nothing bound TFTP :69 ($E2E_SERVER) — is fleetboot's TFTP wired in?"; tail -20 "$E2E_DIR/fleetboot.log" >&2; return 1; }
  if [ "$E2E_SERVER" = fleetboot ]; then
    # fleetboot alone: the sockets on :67/:69/:80 in the server namespace are all node's
    local other; other=$(ip netns exec "$NS_SRV" ss -Hlntup 'sport = :67 or sport = :69 or sport = :80' | grep -v '"node"' || true)
    [ -z "$other" ] || { log "something other than fleetboot serves DHCP/TFTP: $other"; return 1; }
  fi
  log "fleetboot serving in $NS_SRV ($E2E_SERVER DHCP/TFTP), pid $FB_PID"
}

start_dnsmasq() { # fallback: DHCP + TFTP by dnsmasq (what fleetboot's own servers replace)
  local t=$E2E_DIR/dnsmasq-tftp h
  rm -rf "$t"; mkdir -p "$t"
  cp "$E2E_DIR/assets/undionly.kpxe" "$E2E_DIR/assets/snponly.efi" "$t/"
  printf '#!ipxe\nchain http://%s:80/boot.ipxe?mac=${netX/mac} || exit 1\n' "$SRV_IP" > "$t/boot.ipxe"
  (
    echo "port=0"; echo "interface=veth-srv"; echo "bind-interfaces"
    echo "log-facility=$E2E_DIR/dnsmasq.log"; echo "enable-tftp"; echo "tftp-root=$t"
    [ "$E2E_SERVER" = dnsmasq ] || exit 0   # fleetboot-dhcp: TFTP only
    echo "dhcp-range=$NET.100,$NET.199,255.255.255.0,10m"; echo "dhcp-authoritative"; echo "no-ping"
    echo "dhcp-leasefile=$E2E_DIR/dnsmasq.leases"; echo "log-dhcp"
    echo "dhcp-option=vendor:PXEClient,6,8"
    echo "dhcp-match=set:ipxe,175"; echo "dhcp-match=set:efi64,option:client-arch,7"
    echo "dhcp-boot=tag:!ipxe,tag:!efi64,undionly.kpxe,,$SRV_IP"
    echo "dhcp-boot=tag:!ipxe,tag:efi64,snponly.efi,,$SRV_IP"
    echo "dhcp-boot=tag:ipxe,boot.ipxe,,$SRV_IP"
  ) > "$E2E_DIR/dnsmasq.conf"
  ip netns exec "$NS_SRV" dnsmasq --keep-in-foreground --conf-file="$E2E_DIR/dnsmasq.conf" 2>"$E2E_DIR/dnsmasq.err" &
  PIDS+=($!)
}

# wait_vm TIMEOUT : until QEMU exits (the payload powers off) or the deadline; undionly keys
wait_vm() {
  local deadline=$(( $(date +%s) + $1 ))
  UNDI_STATE=wait
  while kill -0 "$VM_PID" 2>/dev/null; do
    [ "$BASE_MODE" = bios-undionly ] && undionly_keys
    if [ "$(date +%s)" -ge "$deadline" ]; then log "$MODE: TIMEOUT after $1 s"; kill_pid "$VM_PID"; return 1; fi
    # the firmware gave up on the network (SeaBIOS / OVMF): no point waiting for the deadline
    if grep -aqE "No bootable device|No bootable option|BdsDxe: No bootable" "$RUN/console-first.raw" 2>/dev/null; then
      sleep 1; log "$MODE: firmware found nothing to boot"; kill_pid "$VM_PID"; return 1
    fi
    sleep 0.2
  done
  wait "$VM_PID" 2>/dev/null
  sleep 0.3 # let ts.py flush
}

fail() { FAILS+=("$*"); log "$MODE: FAIL: $*"; }

check_run() { # the state fleetboot recorded for HOST, via the CLI and the API
  local host=$1
  fb events "$host" > "$RUN/events.txt" 2>&1 || fail "fleetboot events $host failed"
  fb events "$host" --json > "$RUN/events-cli.json" 2>>"$RUN/events.txt" || fail "fleetboot events --json failed"
  srv_curl -H "Authorization: Bearer $API_TOKEN" "http://$SRV_IP/api/v1/hosts/$host/events" > "$RUN/events-api.json" || fail "API events request failed"
  local out
  out=$("$PY" - "$RUN/events-cli.json" "$RUN/events-api.json" <<'EOF'
import json, sys
def load(f):
    try:
        return json.load(open(f))
    except ValueError:
        return {}
cli, api = load(sys.argv[1]), load(sys.argv[2])
cli.setdefault("events", [])
errs = []
run = cli.get("run") or {}
if run.get("state") != "done":
    errs.append("run state is %r, not done" % run.get("state"))
key = lambda e: (e.get("id"), e.get("at"), e.get("kind"), e.get("stage"), e.get("message"))
if [key(e) for e in cli["events"]] != [key(e) for e in api.get("events", [])]:
    errs.append("CLI and API timelines differ (%d vs %d events)" % (len(cli["events"]), len(api.get("events", []))))
if api.get("runId") != run.get("id"):
    errs.append("API runId %r != CLI run %r" % (api.get("runId"), run.get("id")))
want = ["state:marked", "boot:", "state:booting", "progress:linux", "state:installing", "progress:done", "state:done"]
got = ["%s:%s" % (e["kind"], e.get("stage") or "") for e in cli["events"]]
i = 0
for g in got:
    if i < len(want) and g.startswith(want[i]):
        i += 1
if i < len(want):
    errs.append("timeline lacks %s (got %s)" % (want[i], " ".join(got)))
print("; ".join(errs))
EOF
)
  [ -z "$out" ] || fail "$out"
  local script
  script=$(srv_curl "http://$SRV_IP/boot.ipxe?mac=$VM_MAC")
  printf '%s\n' "$script" > "$RUN/boot-after.ipxe"
  grep -q "local boot" <<<"$script" && grep -qx "exit 1" <<<"$script" || fail "boot.ipxe after the run is not a local boot: $(echo $script)"
}

second_boot() { # the host's next network boot gets the local-boot script
  start_vm "$MODE" "$FW" "$NICROM" second
  local deadline=$(( $(date +%s) + 60 )) ok=0
  while kill -0 "$VM_PID" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do
    if grep -aq "fleetboot: local boot" "$RUN/console-second.raw" 2>/dev/null; then ok=1; sleep 2; break; fi
    sleep 0.2
  done
  kill_pid "$VM_PID"
  SECOND_T=$("$PY" -c "import time,sys; print('%.1f' % (time.time()-float(sys.argv[1])))" "$T0")
  [ $ok = 1 ] || fail "second boot: the VM did not run fleetboot's local-boot script within 60 s"
  grep -a -A3 "fleetboot: local boot" "$RUN/console-second.log" | head -4 | cut -c1-160 | sed 's/^/  /' > "$RUN/second-boot.txt"
}

run_mode() {
  MODE=$1 FAILS=()
  mode_vars "$MODE" || return 1
  RUN=$E2E_DIR/run/$MODE
  mkdir -p "$RUN"
  VM_MAC=$(awk -F: -v m="$MODE" '$1==m {print substr($0, length(m)+2)}' "$E2E_DIR/hosts.txt")
  DECOY_MAC=52:54:00:e2:ff:$(printf %02x "$(awk -F: -v m="$MODE" '$1==m {print NR}' "$E2E_DIR/hosts.txt")")  # not in the inventory
  VM_IP=$NET.$((20 + $(awk -F: -v m="$MODE" '$1==m {print NR}' "$E2E_DIR/hosts.txt")))  # inventory address
  if [ "$RA" = 1 ]; then start_ra; else stop_ra; fi
  kill -0 "$FB_PID" 2>/dev/null || { log "fleetboot died; restarting"; start_server || return 1; }
  if [ "$IMAGE" = 1 ]; then run_image_mode; return; fi
  fb reinstall "$MODE" > "$RUN/reinstall.txt" 2>&1 || { fail "fleetboot reinstall $MODE: $(cat "$RUN/reinstall.txt")"; }
  local n0; n0=$(wc -l < "$E2E_DIR/fleetboot.log")
  start_capture "$RUN/capture.pcap"
  start_vm "$MODE" "$FW" "$NICROM" first
  log "$MODE: QEMU started ($FW, NIC ROM $NICROM, RA $RA, mac $VM_MAC)"
  local t0=$T0 tend rc=0
  wait_vm "$TIMEOUT" || fail "VM did not power off within $TIMEOUT s"
  tend=$(date +%s.%N)
  stop_capture
  grep -aq "FBE2E: callback done ok" "$RUN/console-first.log" || fail "the payload's done callback did not succeed (console)"
  if [ "$E2E_SERVER" != dnsmasq ] && grep -aq "FBE2E: dhcp ok" "$RUN/console-first.log"; then
    # fleetboot's DHCP hands a known host its inventory address
    grep -aq "FBE2E: dhcp ok ip=$VM_IP " "$RUN/console-first.log" || fail "the payload did not get the host's inventory address $VM_IP: $(grep -a 'FBE2E: dhcp ok' "$RUN/console-first.log")"
  fi
  case "$BASE_MODE" in
    bios-undionly) grep -aq "using undionly on" "$RUN/console-first.log" || fail "undionly.kpxe did not take over the NIC" ;;
    uefi-snponly) grep -aq "NBP file downloaded successfully" "$RUN/console-first.log" || fail "OVMF did not download snponly.efi" ;;
  esac
  check_run "$MODE"
  SECOND_T=""
  if [ ${#FAILS[@]} = 0 ] && [[ " $SECOND_BOOT " == *" $MODE "* ]]; then second_boot; fi
  tail -n +"$((n0+1))" "$E2E_DIR/fleetboot.log" > "$RUN/fleetboot.log"
  local result=PASS; [ ${#FAILS[@]} = 0 ] || result=FAIL
  {
    echo "===== $MODE: $result (fw=$FW nicrom=$NICROM ra=$RA mac=$VM_MAC server=$E2E_SERVER)"
    for f in "${FAILS[@]}"; do echo "  FAIL: $f"; done
    if [ -n "$RIG" ]; then "$PY" "$E2E_LIB/summary.py" "$RIG" "$MODE" "$result" "$RUN/capture.pcap" "$t0" "$tend" "$RUN/console-first.log" 80 --json "$RUN/summary.json"
    else echo "TIMELINE: $MODE $result (pxe-rig phases.py not found: no capture timeline)"; fi
    [ -n "$SECOND_T" ] && { echo "SECOND BOOT: VM stopped after ${SECOND_T} s; console:"; cat "$RUN/second-boot.txt" 2>/dev/null; }
    echo "fleetboot events $MODE:"; sed 's/^/  /' "$RUN/events.txt"
    echo "CONSOLE milestones:"
    sed 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/\r//g' "$RUN/console-first.log" | grep -aE "SeaBIOS \(|iPXE \(|iPXE>|Configuring|Filename|tftp://|http://|PXE->EB|using undionly|fleetboot:|FBE2E:|Linux version|Station IP|NBP|Start PXE" | cut -c1-160 | sed 's/^/  /'
  } > "$RUN/report.txt"
  cat "$RUN/report.txt" >> "$E2E_DIR/report.txt"
  grep -m1 '^TIMELINE:' "$RUN/report.txt" | cut -d' ' -f2- >> "$E2E_DIR/results.txt"
  if [ "$result" = PASS ]; then
    [ "$KEEP_ARTIFACTS" = 1 ] || rm -f "$RUN/capture.pcap" "$RUN"/console-*.raw "$RUN"/OVMF_VARS-*.fd
    return 0
  fi
  log "$MODE failed; artifacts kept in $RUN (console-first.log, fleetboot.log, capture.pcap)"
  tail -15 "$RUN/console-first.log" | sed 's/^/  console: /' >&2
  return 1
}

main() {
  # issue 14: a rolling reinstall of several VMs behind simulated BMCs (scripts/e2e/rollout.sh)
  if [ "${1:-}" = rollout ]; then . "$E2E_LIB/rollout.sh"; rollout_e2e; exit $?; fi
  [ "$(id -u)" = 0 ] || { echo "e2e.sh: must run as root (network namespaces, tap, QEMU)" >&2; exit 2; }
  local t_start; t_start=$(date +%s)
  [ $# -ge 1 ] || set -- $DEFAULT_MODES
  local m; for m in "$@"; do mode_vars "$m" || exit 2; done
  mkdir -p "$E2E_DIR"
  ensure_deps || exit 2
  [ -n "$RIG" ] || log "pxe-rig (phases.py) not found beside the repo or in /work/shared: no capture timelines"
  on_exit() { if [ "$KEEP" = 1 ]; then log "KEEP=1: $NS_SRV/$NS_LAN left up"; else teardown; fi; }
  trap on_exit EXIT
  trap 'exit 130' INT TERM
  prepare "$@" || { log "preparation failed"; exit 1; }
  setup_net
  : > "$E2E_DIR/results.txt"
  local pass=0 fails=0
  if start_server; then
    for m in "$@"; do if run_mode "$m"; then pass=$((pass+1)); else fails=$((fails+1)); fi; done
  else
    fails=$#; for m in "$@"; do echo "$m FAIL fleetboot did not start" >> "$E2E_DIR/results.txt"; done
    cp "$E2E_DIR/fleetboot.log" "$E2E_DIR/run/" 2>/dev/null
  fi
  kill_pid "$FB_PID"
  local total=$(( $(date +%s) - t_start ))
  {
    echo "===== fleetboot e2e ($E2E_SERVER DHCP/TFTP, HTTP by fleetboot; times in s since QEMU start)"
    cat "$E2E_DIR/results.txt"
    echo "e2e: total ${total} s; report $E2E_DIR/report.txt"
    echo "$pass passed, $fails failed"
  } | tee -a "$E2E_DIR/report.txt"
  [ "$fails" = 0 ]
}

main "$@"
