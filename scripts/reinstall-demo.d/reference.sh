# scripts/reinstall-demo, SERVER=reference: dnsmasq (DHCP + TFTP boot.ipxe) and refserver.py
# (kernel/initrd, rendered preseed and files, progress callbacks, caching mirror proxy, syslog).
# Sourced by scripts/reinstall-demo; uses its variables.
REF_TOKEN=reference0000000000000000
ref_context() {
  local base="http://$SRV_IP:$HTTP_PORT" tb="http://$SRV_IP:$HTTP_PORT/i/$REF_TOKEN"
  cat <<J
{"template":"debian-12.preseed.cfg",
 "host":{"name":"$HOST","macs":["$MAC"],"roles":["debian-12"],"labels":[]},
 "role":{"name":"debian-12","suite":"bookworm","packages":[],
         "partitioning":{"scheme":"keep-data","disk":"/dev/vda","dataLabel":"data","dataMount":"/data"}},
 "run":{"id":1,"token":"$REF_TOKEN"},
 "vars":{"domain":"$DOMAIN","root_password_hash":"!","ssh_authorized_keys":["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDemoKeyOnly demo@fleetboot"],
         "verify_file":"$VERIFY_FILE","kernel_opts":"console=ttyS0,115200","fleetboot_probe":"$PROBE"},
 "packages":[],
 "urls":{"base":"$base","answer":"$tb/answer","progress":"$tb/progress","files":"$tb/files","nocloud":"$tb/nocloud/"},
 "mirror":{"host":"$SRV_IP:$HTTP_PORT","directory":"/mirror/debian","url":"$base/mirror/debian","protocol":"http"},
 "syslog":{"host":"$SRV_IP","port":$SYSLOG_PORT},"server":{"address":"$SRV_IP"}}
J
}

ref_start() {
  local http=$RUN/http tftp=$RUN/tftp cache=$RI_DIR/refcache
  mkdir -p "$http/boot" "$tftp" "$http/i/$REF_TOKEN"
  [ "$CACHE" = cold ] && rm -rf "$cache"
  mkdir -p "$cache"
  ln -sf "$DI/linux" "$http/boot/linux"; ln -sf "$DI/initrd.gz" "$http/boot/initrd.gz"
  node "$REPO/scripts/reinstall-demo.d/render.mjs" "$REPO/preseed-templates" "$http/i/$REF_TOKEN" "$(ref_context)" \
    || { log "render failed"; return 1; }
  local cmdline="auto=true priority=critical url=http://$SRV_IP:$HTTP_PORT/i/$REF_TOKEN/answer interface=auto netcfg/dhcp_timeout=60 hostname=$HOST domain=$DOMAIN log_host=$SRV_IP log_port=$SYSLOG_PORT DEBIAN_FRONTEND=text console=ttyS0,115200 --- console=ttyS0,115200"
  printf '#!ipxe\nkernel http://%s:%s/boot/linux initrd=initrd.gz %s\ninitrd http://%s:%s/boot/initrd.gz\nboot\n' \
    "$SRV_IP" "$HTTP_PORT" "$cmdline" "$SRV_IP" "$HTTP_PORT" > "$tftp/boot.ipxe"
  cat > "$RUN/dnsmasq.conf" <<C
port=0
interface=veth-srv
bind-interfaces
dhcp-range=$NET.100,$NET.199,255.255.255.0,1h
dhcp-option=option:dns-server,$SRV_IP
dhcp-authoritative
no-ping
dhcp-leasefile=$RUN/dnsmasq.leases
log-dhcp
log-facility=$RUN/dnsmasq.log
enable-tftp
tftp-root=$tftp
dhcp-option=vendor:PXEClient,6,8
dhcp-match=set:ipxe,175
dhcp-boot=tag:ipxe,boot.ipxe,,$SRV_IP
dhcp-boot=tag:!ipxe,undionly.kpxe,,$SRV_IP
C
  "$PY" "$REPO/scripts/reinstall-demo.d/refserver.py" --netns "/run/netns/$NS_SRV" --bind "$SRV_IP" --port "$HTTP_PORT" \
    --root "$http" --cache "$cache" --upstream "$UPSTREAM" --log "$RUN/http.log" --callbacks "$RUN/callbacks.log" \
    --syslog-port "$SYSLOG_PORT" --syslog-out "$RUN/syslog.log" 2>"$RUN/refserver.err" &
  PIDS+=($!)
  ip netns exec "$NS_SRV" dnsmasq --keep-in-foreground --conf-file="$RUN/dnsmasq.conf" 2>"$RUN/dnsmasq.err" &
  PIDS+=($!)
  wait_port "$NS_SRV" udp 67 5 && wait_port "$NS_SRV" tcp "$HTTP_PORT" 5
}

pxe_marks() { # when iPXE had the d-i kernel and initrd
  awk '$2=="FILE" && $3 ~ /^\/boot\// {n=split($3,a,"/"); print $1, "(pxe)", "iPXE fetched", a[n], $6}' "$RUN/http.log" 2>/dev/null
}
collect_callbacks() { :; }   # refserver.py appends to $RUN/callbacks.log itself

mirror_stats() {
  [ -s "$RUN/http.log" ] || return 0
  awk '
    $2=="HIT" || $2=="MISS" { for(i=1;i<=NF;i++) if ($i ~ /^bytes=/) { split($i,b,"="); by[$2]+=b[2] } ; if ($i ~ /^secs=/) {} ; n[$2]++ ;
      if ($3 ~ /\.deb$/) debs[$2]++ }
    END { printf "MIRROR: %d requests: %d hits (%.1f MB), %d misses from upstream (%.1f MB); .deb: %d hit, %d miss\n",
          n["HIT"]+n["MISS"], n["HIT"], by["HIT"]/1e6, n["MISS"], by["MISS"]/1e6, debs["HIT"], debs["MISS"] }' "$RUN/http.log"
}
