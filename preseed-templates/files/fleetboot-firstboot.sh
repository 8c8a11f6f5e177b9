#!/bin/bash
# fleetboot first-boot callback for {{ host.name }} (install run {{ run.id }}).
# The installed system has no curl/wget unless a role adds them: bash's /dev/tcp is the
# fallback (plain http only, which is what the install network serves).
# Message: hostname, kernel, whether the data mount is mounted, and (vars.verify_file) a
# sha256 of one file on it so the caller can prove the data survived the reinstall.
set -u
PROGRESS_URL="{{ urls.progress }}"
DATA_MOUNT="{{ role.partitioning.dataMount | default("/data") }}"
VERIFY_FILE="{{ vars.verify_file | default("") }}"

enc() { printf '%s' "$*" | sed 's/[^A-Za-z0-9._:,\/=-]/+/g' | cut -c1-400; }

get() { # URL -> 0 on HTTP 200
  local url=$1
  if command -v curl >/dev/null; then curl -fsS -m 20 -o /dev/null "$url"; return; fi
  if command -v wget >/dev/null; then wget -q -T 20 -O /dev/null "$url"; return; fi
  local rest=${url#http://} hostport path host port status
  hostport=${rest%%/*}; path=/${rest#*/}
  host=${hostport%:*}; port=80; [ "$hostport" != "$host" ] && port=${hostport##*:}
  exec 3<>"/dev/tcp/$host/$port" || return 1
  printf 'GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: fleetboot-firstboot\r\n\r\n' "$path" "$hostport" >&3
  read -r -t 20 status <&3 || { exec 3>&-; return 1; }
  exec 3>&-
  case "$status" in *" 200 "*|*" 204 "*) return 0 ;; *) return 1 ;; esac
}

mounted=no; mountpoint -q "$DATA_MOUNT" && mounted=yes
msg="host=$(hostname) kernel=$(uname -r) data_mounted=$mounted"
if [ -n "$VERIFY_FILE" ]; then
  if [ -r "$VERIFY_FILE" ]; then msg="$msg sha256=$(sha256sum "$VERIFY_FILE" | cut -d' ' -f1)"
  else msg="$msg sha256=missing"; fi
fi
msg="$msg uptime=$(cut -d' ' -f1 /proc/uptime)"
for i in $(seq 1 60); do
  if get "$PROGRESS_URL?stage=up&message=$(enc "$msg")"; then
    mkdir -p /var/lib/fleetboot && touch /var/lib/fleetboot/up-reported
    echo "fleetboot: reported up ($msg)"
    exit 0
  fi
  sleep 5
done
echo "fleetboot: could not report up" >&2
exit 1
