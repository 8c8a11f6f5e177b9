# scripts/e2e/lib.sh — sourced by scripts/e2e.sh: processes, namespaces, dependencies, QEMU.
# Nothing here touches the host's network: every link lives in $NS_SRV / $NS_LAN.

PIDS=()
log() { echo "[e2e $(date +%T.%3N)] $*" >&2; }

kill_pid() { # kill_pid PID [signal] : only processes this script started
  local p=$1 sig=${2:-TERM}
  [ -n "$p" ] || return 0
  kill -0 "$p" 2>/dev/null || return 0
  kill -"$sig" "$p" 2>/dev/null
  for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
  wait "$p" 2>/dev/null || true
}

ns_exists() { ip netns list | awk '{print $1}' | grep -qx "$1"; }

teardown() {
  local i ns p
  for ((i=${#PIDS[@]}-1; i>=0; i--)); do kill_pid "${PIDS[$i]}"; done
  PIDS=()
  for ns in "$NS_LAN" "$NS_SRV"; do
    if ns_exists "$ns"; then
      # leftovers of an aborted earlier e2e run: only processes inside OUR namespaces
      for p in $(ip netns pids "$ns" 2>/dev/null); do kill_pid "$p"; done
      ip netns del "$ns"
    fi
  done
}

# apt: install what is missing; another process may hold the dpkg/apt locks (wait for it)
ensure_deps() {
  local missing p try
  missing=$(for p in $APT_PKGS; do dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || echo "$p"; done)
  [ -z "$missing" ] && return 0
  log "installing Debian packages: $(echo $missing)"
  export DEBIAN_FRONTEND=noninteractive
  for try in 1 2 3 4 5 6 7 8 9 10; do
    if apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends $missing >/dev/null 2>"$E2E_DIR/apt.err"; then return 0; fi
    apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null 2>>"$E2E_DIR/apt.err" || sleep 10
  done
  log "apt-get install failed:"; cat "$E2E_DIR/apt.err" >&2
  return 1
}

wait_port() { # ns proto port secs
  local i
  for i in $(seq 1 $(( $4 * 10 ))); do
    if [ "$2" = udp ]; then ip netns exec "$1" ss -Hlun "sport = :$3" | grep -q . && return 0
    else ip netns exec "$1" ss -Hltn "sport = :$3" | grep -q . && return 0; fi
    sleep 0.1
  done
  return 1
}

# srv: veth-srv 10.99.0.1/24 <-> lan: veth-lan + tap0 on br0 (QEMU's NIC). IPv6 stays on in the
# LAN (link-local only, like a LAN without an IPv6 router) so ra.py can play that router.
setup_net() {
  teardown
  ip netns add "$NS_SRV"
  ip netns add "$NS_LAN"
  ip netns exec "$NS_SRV" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip netns exec "$NS_LAN" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0 net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
  ip -n "$NS_SRV" link set lo up
  ip -n "$NS_LAN" link set lo up
  ip link add veth-srv netns "$NS_SRV" type veth peer name veth-lan netns "$NS_LAN"
  ip -n "$NS_SRV" addr add "$SRV_IP/24" dev veth-srv
  ip -n "$NS_SRV" link set veth-srv up
  ip -n "$NS_LAN" link add br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0
  ip -n "$NS_LAN" link set veth-lan master br0 up
  ip -n "$NS_LAN" tuntap add dev tap0 mode tap
  ip -n "$NS_LAN" link set tap0 master br0 up
  ip -n "$NS_LAN" tuntap add dev tap1 mode tap   # the -2nic modes' decoy NIC: not on br0
  ip -n "$NS_LAN" link set tap1 up
  ip -n "$NS_LAN" link set br0 up
}

start_ra() {
  [ -n "${RA_PID:-}" ] && kill -0 "$RA_PID" 2>/dev/null && return 0
  ip netns exec "$NS_LAN" "$PY" "$E2E_LIB/ra.py" br0 "${RA_PREFIX:-fd99::}" 2>>"$E2E_DIR/ra.err" &
  RA_PID=$!
  PIDS+=("$RA_PID")
}

stop_ra() { [ -n "${RA_PID:-}" ] && kill_pid "$RA_PID"; RA_PID=""; }

start_capture() { # file
  : > "$RUN/tcpdump.err"
  ip netns exec "$NS_LAN" tcpdump -i br0 -n -s 0 -U --immediate-mode -B 32768 -w "$1" 2>"$RUN/tcpdump.err" &
  CAP_PID=$!
  PIDS+=("$CAP_PID")
  for _ in $(seq 1 50); do grep -q "listening on" "$RUN/tcpdump.err" 2>/dev/null && return 0; sleep 0.1; done
  log "tcpdump did not start: $(cat "$RUN/tcpdump.err")"
}

stop_capture() { sleep 0.3; kill_pid "$CAP_PID" INT; }

# start_vm MODE FW NICROM TAG : QEMU (TCG) booting from the network; console -> $RUN/console-TAG.log
# (timestamped lines) and console-TAG.raw (raw bytes, for prompts without a newline yet)
start_vm() {
  local mode=$1 fw=$2 nicrom=$3 tag=$4 fwargs=()
  if [ "$fw" = bios ]; then
    # sgabios mirrors the VGA text console (SeaBIOS, iPXE) to the serial port
    fwargs=(-device sga)
  else
    cp "$OVMF_VARS" "$RUN/OVMF_VARS-$tag.fd"
    fwargs=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=$OVMF_CODE"
            -drive "if=pflash,format=raw,unit=1,file=$RUN/OVMF_VARS-$tag.fd")
  fi
  local decoy=()
  # DECOY=1: an extra NIC ahead of the real one on the PCI bus (net0 in iPXE), on tap1 which
  # is left unbridged: no DHCP ever answers it
  [ "${DECOY:-0}" = 1 ] && decoy=(-netdev tap,id=n1,ifname=tap1,script=no,downscript=no -device "virtio-net-pci,netdev=n1,mac=$DECOY_MAC")
  T0=$(date +%s.%N)
  rm -f "$RUN/mon-$tag.sock"
  ip netns exec "$NS_LAN" qemu-system-x86_64 -name "fbe2e-$mode" -accel tcg -M q35 -m "$MEM" -smp 1 \
     -nodefaults -no-user-config -display none -no-reboot "${fwargs[@]}" \
     -serial stdio -monitor "unix:$RUN/mon-$tag.sock,server,nowait" \
     "${decoy[@]}" -netdev tap,id=n0,ifname=tap0,script=no,downscript=no \
     -device "virtio-net-pci,netdev=n0,mac=$VM_MAC,bootindex=1$([ "$nicrom" = none ] && echo ',romfile=')" \
     < /dev/null > >(tee "$RUN/console-$tag.raw" | "$PY" "$E2E_LIB/ts.py" "$T0" > "$RUN/console-$tag.log") 2>"$RUN/qemu-$tag.err" &
  VM_PID=$!
  PIDS+=("$VM_PID")
}

# bios-undionly: at the iPXE ROM's "Press Ctrl-B for the iPXE command line" prompt, open its
# shell and chainload undionly.kpxe from fleetboot's TFTP — what a plain (non-iPXE) BIOS PXE
# ROM does with the boot file fleetboot's DHCP gives it. QEMU has no such ROM: its NIC ROMs
# are iPXE, and SeaBIOS without a NIC ROM has no PXE at all.
undionly_keys() { # state machine, called every poll; sets UNDI_STATE
  local raw="$RUN/console-first.raw"
  case "${UNDI_STATE:-wait}" in
    wait)
      if grep -aq "Press Ctrl-B for the iPXE command line" "$raw" 2>/dev/null; then
        "$PY" "$E2E_LIB/qmon.py" "$RUN/mon-first.sock" --key ctrl-b && UNDI_STATE=shell
        UNDI_T=$(date +%s)
      fi ;;
    shell)
      if grep -aq "iPXE>" "$raw" 2>/dev/null; then
        "$PY" "$E2E_LIB/qmon.py" "$RUN/mon-first.sock" --type "dhcp && chain tftp://$SRV_IP/undionly.kpxe\n" && UNDI_STATE=typed
      elif [ $(( $(date +%s) - UNDI_T )) -ge 5 ]; then
        log "no iPXE shell prompt 5 s after Ctrl-B"; UNDI_STATE=failed
      fi ;;
  esac
}
