#!/usr/bin/env bash
# Hostile-client probe for issue 13, holes 3, 4, 6, 7 (and the paging of the events API):
# starts a real fleetboot daemon (built dist/, its own temp dir, loopback only: HTTP and a DHCP
# port on 127.0.0.1, no traffic elsewhere) and attacks it with real clients (curl, python3 UDP,
# node fetch, sqlite3, the fleetboot CLI), printing what it finds. Run as root to also check the
# read-only database as an unprivileged user (root ignores file modes).
#   npm run build && scripts/probe-hostile-b.sh            (about a minute)
# Tunables: JUNK=20000 datagrams, FLOOD=3000 progress posts. Needs: node, curl, python3, sqlite3.
set -uo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
CLI=(node "$REPO/dist/src/cli.js")
JUNK=${JUNK:-20000}
FLOOD=${FLOOD:-3000}
W=$(mktemp -d /tmp/fb-probe-b.XXXXXX)
chmod 755 "$W"
PID=
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT
say() { printf '\n== %s\n' "$*"; }
found() { printf '  FOUND (hole): %s\n' "$*"; }
ok() { printf '  ok: %s\n' "$*"; }
freeport() { python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET, getattr(socket,"SOCK_"+sys.argv[1])); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "$1"; }
HTTP_PORT=$(freeport STREAM)
DHCP_PORT=$(freeport DGRAM)
BASE="http://127.0.0.1:$HTTP_PORT"

# --- a fleet of 20 hosts
mkdir -p "$W/templates" "$W/assets/tiny" "$W/state"
printf 'host={{ host.name }} progress={{ urls.progress }}\n' > "$W/templates/tiny.cfg"
head -c 100000 /dev/zero > "$W/assets/tiny/vmlinuz"
head -c 10000 /dev/zero > "$W/assets/tiny/initrd.img"
{
  printf 'roles:\n  tiny:\n    kernel: tiny/vmlinuz\n    initrd: tiny/initrd.img\n    template: tiny.cfg\n    cmdline: "fb.cb={{ urls.progress }}"\nhosts:\n'
  for i in $(seq -w 1 20); do printf '  - name: h%s\n    macs: ["52:54:00:bb:00:%s"]\n    roles: [tiny]\n' "$i" "$i"; done
} > "$W/inventory.yaml"
cp "$W/inventory.yaml" "$W/inventory.good"
cat > "$W/fleetboot.yaml" <<EOF
# server.address only appears in URLs handed out; nothing is sent to it
server:
  address: 10.99.99.1
  publicUrl: $BASE
http:
  listen: 127.0.0.1
  port: $HTTP_PORT
paths:
  db: state/fb.sqlite
  assets: assets
  templates: templates
tftp:
  enabled: false
syslog:
  enabled: false
cache:
  enabled: false
web:
  enabled: false
dhcp:
  enabled: true
  mode: full
  listen: 127.0.0.1
  serverAddress: 127.0.0.1
  port: $DHCP_PORT
  clientPort: $((DHCP_PORT + 1))
  netmask: 255.0.0.0
  pool: { start: 127.0.9.1, end: 127.0.9.50 }
  unknownPolicy: ignore
inventory: inventory.yaml
EOF
FB=("${CLI[@]}" --config "$W/fleetboot.yaml")
start_daemon() {
  "${FB[@]}" serve >> "$W/daemon.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do curl -fsS "$BASE/healthz" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "daemon did not come up:"; tail -20 "$W/daemon.log"; exit 1
}
stop_daemon() { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; PID=; }
# json EXPR: evaluates a Python expression over the JSON document on stdin (d), prints it
json() { python3 -c 'import json,sys; d=json.load(sys.stdin); v=eval(sys.argv[1]); print("" if v is None else v if isinstance(v,(str,int)) else json.dumps(v))' "$1"; }
hosts_now() { curl -s "$BASE/healthz" | json 'd["hosts"]'; }
start_daemon
echo "daemon pid $PID, http $BASE, dhcp 127.0.0.1:$DHCP_PORT, dir $W"

# --- hole 3: truncated / emptied inventory
say "hole 3: an emptied, half-written or shrunken inventory"
"${FB[@]}" reinstall h05 >/dev/null
: > "$W/inventory.yaml"
sleep 3
n=$(hosts_now)
script=$(curl -s "$BASE/boot.ipxe?mac=52:54:00:bb:00:05")
if [ "$n" = 20 ] && grep -q '^kernel ' <<<"$script"; then ok "': > inventory.yaml': still $n hosts, h05 (mid-install) still gets its installer"
else found "': > inventory.yaml' applied: $n hosts, h05 gets: $(head -c 80 <<<"$script")"; fi
grep -o '"msg":"config reload failed[^"]*"' "$W/daemon.log" | tail -1 | sed 's/^/  log: /'
# a half-written file: the first 3 hosts, then the writer pauses (crash, full disk)
head -n 16 "$W/inventory.good" > "$W/inventory.yaml"
sleep 4
n=$(hosts_now)
shrink=$(curl -s "$BASE/healthz" | json '(d.get("pendingShrink") or {}).get("message")')
if [ "$n" = 20 ] && [ -n "$shrink" ]; then ok "cut to 3 hosts: held, /healthz pendingShrink: $shrink"
else found "cut to 3 hosts: daemon has $n hosts, pendingShrink='${shrink}'"; fi
out=$("${FB[@]}" reload 2>&1); echo "  fleetboot reload (exit $?): $out"
printf 'roles:\n  tiny:\n    kernel: tiny/vmlinuz\n    initrd: tiny/initrd.img\n    template: tiny.cfg\nhosts: []\n' > "$W/inventory.yaml"
sleep 3
out=$("${FB[@]}" check 2>&1); code=$?
if grep -q '^ok: 0 hosts' <<<"$out"; then found "check on 'hosts: []' says ok: 0 hosts"; else ok "check on 'hosts: []' (exit $code): $(tr '\n' ' ' <<<"$out")"; fi
: > "$W/inventory.yaml"
out=$("${FB[@]}" check 2>&1); code=$?
if [ $code -ne 0 ]; then ok "check on an empty file exits $code: $(grep -o 'inventory file is empty[^:]*' <<<"$out" | head -1)"; else found "check on an empty file: exit 0: $out"; fi
cp "$W/inventory.good" "$W/inventory.yaml"
sleep 3
echo "  restored: $(hosts_now) hosts, pendingShrink=$(curl -s "$BASE/healthz" | json 'json.dumps(d.get("pendingShrink"))')"

# --- hole 7: secret-looking keys in every shape
say "hole 7: secret-looking keys (fleetboot check on a copy of the inventory)"
mkdir -p "$W/sk"
cp -r "$W/templates" "$W/assets" "$W/sk/"
sed "s#port: $HTTP_PORT#port: 0#" "$W/fleetboot.yaml" > "$W/sk/fleetboot.yaml"
while IFS='|' read -r key value want; do
  { head -n 6 "$W/inventory.good"; printf '    vars:\n      %s: %s\n' "$key" "$value"; tail -n +7 "$W/inventory.good"; } > "$W/sk/inventory.yaml"
  if "${CLI[@]}" --config "$W/sk/fleetboot.yaml" check >/dev/null 2>&1; then got=accepted; else got=refused; fi
  if [ "$got" = "$want" ]; then ok "$key: $value -> $got"; else found "$key: $value -> $got (want $want)"; fi
done <<'EOF'
password|12345678|refused
password|[hunter2]|refused
password|{ v: x }|refused
root_passwd|"x"|refused
rootPassword|"x"|refused
passphrase|"x"|refused
credentials|"x"|refused
api_token|"x"|refused
ssh_private_key|"x"|refused
root_password_hash|"$6$x$y"|accepted
ssh_authorized_keys|["ssh-ed25519 AAAA"]|accepted
EOF

# --- hole 6a: junk flood on the DHCP port
say "hole 6: $JUNK junk datagrams to the DHCP port (log size)"
l0=$(wc -l < "$W/daemon.log"); b0=$(wc -c < "$W/daemon.log")
python3 - "$DHCP_PORT" "$JUNK" <<'EOF'
import os, socket, struct, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
for i in range(n):
    if i % 4 == 0:
        pkt = os.urandom(40 + i % 400)  # garbage
    else:  # a well-formed DISCOVER from a random MAC
        mac = b'\x02' + os.urandom(5)
        pkt = struct.pack('!BBBBIHH4s4s4s4s16s64s128s', 1, 1, 6, 0, i, 0, 0, b'\0'*4, b'\0'*4, b'\0'*4, b'\0'*4, mac + b'\0'*10, b'\0'*64, b'\0'*128)
        pkt += b'\x63\x82\x53\x63' + b'\x35\x01\x01' + b'\xff'
    s.sendto(pkt, ('127.0.0.1', port))
    if i % 100 == 99: time.sleep(0.02)  # loopback UDP drops what the socket buffer cannot hold
EOF
sleep 5
l1=$(wc -l < "$W/daemon.log"); b1=$(wc -c < "$W/daemon.log")
lines=$((l1 - l0)); bytes=$((b1 - b0))
got=$(curl -s "$BASE/metrics" | awk '/^fleetboot_dhcp_(requests|malformed)_total/ {s += $NF} END {print s}')
echo "  the daemon received $got of $JUNK datagrams (fleetboot_dhcp_requests_total + malformed_total)"
if [ "$lines" -lt 200 ]; then ok "$JUNK datagrams -> $lines log lines ($bytes bytes) (info level; the summaries of what was suppressed follow when the window ends, see the end)"
else found "$JUNK datagrams -> $lines log lines ($bytes bytes)"; fi
JUNK_L0=$l0

# --- hole 6b: event flood on one token
say "hole 6: $FLOOD progress events (4 KiB each) on one token (database size)"
"${FB[@]}" reinstall h07 >/dev/null
TOKEN=$(sqlite3 "$W/state/fb.sqlite" "SELECT token FROM install_runs WHERE host='h07' ORDER BY id DESC LIMIT 1")
RUN=$(sqlite3 "$W/state/fb.sqlite" "SELECT id FROM install_runs WHERE host='h07' ORDER BY id DESC LIMIT 1")
sqlite3 "$W/state/fb.sqlite" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
s0=$(du -cb "$W"/state/fb.sqlite* | tail -1 | cut -f1)
node - "$BASE" "$TOKEN" "$FLOOD" <<'EOF'
const [base, token, n] = [process.argv[2], process.argv[3], Number(process.argv[4])];
const counts = {};
let sample = '';
for (let i = 0; i < n; i += 50) {
  const rs = await Promise.all(Array.from({ length: Math.min(50, n - i) }, (_, j) => fetch(`${base}/i/${token}/progress`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ stage: `s${i + j}`, message: 'x'.repeat(4000) }) })));
  for (const r of rs) {
    counts[r.status] = (counts[r.status] ?? 0) + 1;
    const t = await r.text();
    if (r.status === 429 && !sample) sample = `${t.trim()} (Retry-After: ${r.headers.get('retry-after')})`;
  }
}
console.log(`  answers: ${JSON.stringify(counts)}`);
if (sample) console.log(`  first 429: ${sample}`);
EOF
rows=$(sqlite3 "$W/state/fb.sqlite" "SELECT COUNT(*) FROM events WHERE run_id=$RUN AND kind='progress'")
sqlite3 "$W/state/fb.sqlite" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null 2>&1
s1=$(du -cb "$W"/state/fb.sqlite* | tail -1 | cut -f1)
grow=$(( (s1 - s0) / 1024 ))
if [ "$rows" -lt "$FLOOD" ]; then ok "stored $rows of $FLOOD progress events; database grew by $grow KiB"
else found "stored all $rows events; database grew by $grow KiB"; fi

# --- events API paging (the CLI shows all, the API must be able to)
say "hole 6: events API paging"
FLEETBOOT_SECRET_ADMIN_PASSWORD='probe-Password-1234' "${FB[@]}" user add probe >/dev/null 2>&1
API=$("${FB[@]}" user token probe 2>/dev/null)
sqlite3 "$W/state/fb.sqlite" "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 12000) INSERT INTO events (run_id, host, at, kind, message) SELECT $RUN, 'h07', i, 'log', 'line ' || i FROM c"
total=$(sqlite3 "$W/state/fb.sqlite" "SELECT COUNT(*) FROM events WHERE run_id=$RUN")
url="/api/v1/hosts/h07/events"; got=0; pages=0
while [ -n "$url" ] && [ $pages -lt 100 ]; do
  page=$(curl -s -H "Authorization: Bearer $API" "$BASE$url")
  got=$((got + $(json 'len(d["events"])' <<<"$page"))); url=$(json 'd.get("next")' <<<"$page"); pages=$((pages + 1))
done
if [ "$got" = "$total" ]; then ok "API returned all $got of $total events in $pages pages (next links)"; else found "API returned $got of $total events ($pages pages)"; fi

# --- hole 4: read-only database
say "hole 4: the state database file mode 0444 in a writable directory"
stop_daemon
sup=$(tail -n +$((JUNK_L0 + 1)) "$W/daemon.log" | grep '"subsystem":"dhcp"' | grep -o '"suppressed":[0-9]*' | cut -d: -f2 | awk '{s += $1} END {print s + 0}')
echo "  (junk flood, after the daemon stopped: the dhcp log summaries account for ${sup:-0} suppressed lines)"
tail -n +$((JUNK_L0 + 1)) "$W/daemon.log" | grep '"subsystem":"dhcp"' | grep -o '"msg":"suppressed[^"]*"' | head -3 | sed 's/^/  log: /'
rm -f "$W"/state/fb.sqlite-wal "$W"/state/fb.sqlite-shm
chmod 777 "$W/state"; chmod 444 "$W/state/fb.sqlite"; chmod -R a+rX "$W"
if [ "$(id -u)" = 0 ]; then AS=(setpriv --reuid=nobody --regid=nogroup --clear-groups); who=nobody; else AS=(); who=$(id -un); fi
timeout 15 "${AS[@]}" "${FB[@]}" serve > "$W/ro.log" 2>&1 &
RPID=$!
up=no
for _ in $(seq 50); do
  if curl -fsS "$BASE/healthz" >/dev/null 2>&1; then up=yes; break; fi
  kill -0 $RPID 2>/dev/null || break
  sleep 0.2
done
if [ $up = yes ]; then
  found "daemon (as $who) started on a read-only database; /healthz: $(curl -s -o /dev/null -w '%{http_code}' "$BASE/healthz")"
  kill $RPID 2>/dev/null
fi
wait $RPID; code=$?
[ $up = no ] && ok "serve as $who refused to start (exit $code): $(grep -o 'cannot start: .*' "$W/ro.log" | head -1 | cut -c1-220)"
chmod 644 "$W/state/fb.sqlite"
echo
echo "probe done (daemon log: $(wc -l < "$W/daemon.log") lines)"
