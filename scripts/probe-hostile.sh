#!/usr/bin/env bash
# Hostile-client probe of a RUNNING fleetboot daemon, for issue 13 holes 1, 2, 5 and 8 (the
# other holes: hostile-b's probe). Prints one line per check ("ok" / "FAIL" / "info") and exits
# with the number of failures. Needs curl and python3; talks only to the URL you give it.
#
#   scripts/probe-hostile.sh [BASE_URL]            (default http://127.0.0.1:8080)
#
# Environment:
#   ASSET=tiny/vmlinuz   a file under /assets to time during the login burst (skipped if unset)
#   TOKEN=...            a live install token (else a made-up one: body errors come first)
#   LOG=/path/to/log     the daemon's log file: checked for the token and for stack traces
#   LOGIN_USER=admin     the user name the login burst guesses against
#   BURST=200            parallel logins
#   SLOW_SECONDS=75      how long the slow-header/slow-body clients keep trickling
#   CONNS=80             connections opened from this address for the per-address cap
# Warning: the login burst uses up this address's login attempts for loginWindowSeconds.
set -u
BASE=${1:-http://127.0.0.1:8080}
BASE=${BASE%/}
TOKEN=${TOKEN:-probeTokenNotReal0123456789abcdef}
BURST=${BURST:-200}
SLOW_SECONDS=${SLOW_SECONDS:-75}
CONNS=${CONNS:-80}
LOGIN_USER=${LOGIN_USER:-admin}
fails=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ok() { printf 'ok    %s\n' "$*"; }
bad() { printf 'FAIL  %s\n' "$*"; fails=$((fails + 1)); }
info() { printf 'info  %s\n' "$*"; }
hostport=${BASE#*://}
hostport=${hostport%%/*}
HOST=${hostport%:*}
PORT=${hostport##*:}
[ "$PORT" = "$HOST" ] && PORT=80

curl -fsS -o /dev/null "$BASE/healthz" || { echo "no daemon at $BASE"; exit 99; }
info "probing $BASE"

# --- hole 5: bad bodies, bombs, escapes -> 4xx, never 500 -----------------------------------
expect() { # expect "name" "statuses-regex" curl-args...
  local name=$1 want=$2
  shift 2
  local got
  got=$(curl -s -o "$tmp/body" -w '%{http_code}' --path-as-is "$@")
  if [[ $got =~ ^($want)$ ]]; then ok "$name -> $got"; else bad "$name -> $got (want $want): $(head -c 200 "$tmp/body")"; fi
}
python3 -c 'import gzip,sys; sys.stdout.buffer.write(gzip.compress(b" " * (64 << 20), 9))' >"$tmp/bomb.gz"
head -c 1048576 /dev/zero | tr '\0' 'y' >"$tmp/big"
P="$BASE/i/$TOKEN/progress"
expect 'invalid JSON to /i/<token>/progress' '400' -X POST -H 'content-type: application/json' --data-binary '{"stage": "x' "$P"
expect '1 MiB body to /i/<token>/progress' '413' -X POST -H 'content-type: text/plain' --data-binary @"$tmp/big" "$P"
expect "gzip bomb ($(stat -c %s "$tmp/bomb.gz") B -> 64 MiB) to /i/<token>/progress" '413' -X POST -H 'content-type: application/json' -H 'content-encoding: gzip' --data-binary @"$tmp/bomb.gz" "$P"
expect 'unknown Content-Encoding to progress' '415' -X POST -H 'content-type: application/json' -H 'content-encoding: zstd' --data-binary '{}' "$P"
expect 'invalid JSON to /login' '400' -X POST -H 'content-type: application/json' --data-binary '{' "$BASE/login"
expect '1 MiB form to /login' '413' -X POST -H 'content-type: application/x-www-form-urlencoded' --data-binary @"$tmp/big" "$BASE/login"
expect 'gzip bomb to /login' '413' -X POST -H 'content-type: application/json' -H 'content-encoding: gzip' --data-binary @"$tmp/bomb.gz" "$BASE/login"
expect '/assets/%' '400' "$BASE/assets/%"
expect '/assets/%zz' '400' "$BASE/assets/%zz"
expect '/i/%c0/answer' '400' "$BASE/i/%c0/answer"
expect '/i/<token>%c0/progress' '400' "$BASE/i/$TOKEN%c0/progress"
expect '/mirror/debian/dists/%c0 (404 when the cache is off)' '400|404' "$BASE/mirror/debian/dists/%c0"
expect 'malformed cookie' '200|302|303|404' -H 'cookie: fb_session=%' "$BASE/"
curl -fsS -o /dev/null "$BASE/healthz" && ok 'daemon still answers /healthz' || bad 'daemon stopped answering'

# --- hole 1: parallel login burst -------------------------------------------------------------
info "login burst: $BURST parallel logins as $LOGIN_USER with wrong passwords"
for i in $(seq 1 "$BURST"); do
  printf 'url = "%s/login?n=%d"\nheader = "content-type: application/json"\ndata = "{\\"username\\":\\"%s\\",\\"password\\":\\"probe-wrong-%d\\"}"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' "$BASE" "$i" "$LOGIN_USER" "$i"
  [ "$i" -lt "$BURST" ] && echo next
done >"$tmp/burst.cfg"
idle=''
if [ -n "${ASSET:-}" ]; then idle=$(curl -s -o /dev/null -w '%{time_total}' "$BASE/assets/$ASSET"); fi
t0=$(date +%s.%N)
curl -s --no-progress-meter -Z --parallel-immediate --parallel-max "$BURST" -K "$tmp/burst.cfg" >"$tmp/burst.out" 2>/dev/null &
burst=$!
if [ -n "${ASSET:-}" ]; then
  sleep 0.3
  during=$(curl -s -o /dev/null -w '%{time_total}' "$BASE/assets/$ASSET")
  running=$(kill -0 $burst 2>/dev/null && echo yes || echo no)
fi
wait $burst
t1=$(date +%s.%N)
summary=$(sort "$tmp/burst.out" | uniq -c | awk '{printf "%s x %s, ", $2, $1}')
checked=$(grep -c '^401$' "$tmp/burst.out")
info "burst answers: ${summary%, } in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b - a}') s"
if [ "$checked" -le 10 ]; then ok "passwords checked during the burst: $checked (limit: web.loginMaxAttempts, default 10)"; else bad "passwords checked during the burst: $checked (> 10: the rate limit was passed)"; fi
grep -q '^200$' "$tmp/burst.out" && bad 'a burst login succeeded?!'
if [ -n "${ASSET:-}" ]; then
  info "asset /assets/$ASSET: idle ${idle}s, during the burst ${during}s (burst still running then: $running)"
  if [ "$running" = yes ] || awk -v d="$during" -v i="$idle" 'BEGIN{exit !(d < 20 * i + 0.5)}'; then ok 'asset served during the burst without waiting for it'; else bad 'asset waited for the burst'; fi
fi

# --- hole 2: slow clients and connection caps -------------------------------------------------
info "slow header and slow body clients for up to ${SLOW_SECONDS}s (requestTimeoutMs default 60 s)"
python3 - "$HOST" "$PORT" "$SLOW_SECONDS" "$TOKEN" <<'PY' || fails=$((fails + 1))
import socket, sys, time, threading
host, port, limit, token = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
res = {}
def trickle(name, head, drip):
    s = socket.create_connection((host, port)); s.settimeout(0.2)
    s.sendall(head.encode()); t0 = time.time(); reply = b''
    while time.time() - t0 < limit:
        try:
            s.sendall(drip.encode())
        except OSError:
            break
        try:
            d = s.recv(4096)
            if not d: break
            reply += d
        except socket.timeout:
            pass
        time.sleep(1)
    else:
        res[name] = None; return
    res[name] = (time.time() - t0, reply.split(b'\r\n')[0].decode(errors='replace'))
ts = [threading.Thread(target=trickle, args=a) for a in [
    ('slow headers', 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ', 'a'),
    ('slow body', f'POST /i/{token}/progress HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n', 'b')]]
for t in ts: t.start()
for t in ts: t.join()
failed = 0
for k, v in res.items():
    if v is None: print(f'FAIL  {k}: still open after {limit:.0f}s'); failed += 1
    else: print(f'ok    {k}: dropped by the server after {v[0]:.1f}s ({v[1] or "no answer"})')
sys.exit(failed)
PY
python3 - "$HOST" "$PORT" "$CONNS" "$BASE" <<'PY' || fails=$((fails + 1))
import socket, sys, subprocess, time
host, port, n, base = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
socks, refused = [], 0
for i in range(n):
    s = socket.create_connection((host, port)); s.settimeout(2)
    s.sendall(b'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')
    try:
        d = s.recv(4096)
    except socket.timeout:
        d = b''
    if d.startswith(b'HTTP/1.1 503') or not d: refused += 1; s.close()
    else: socks.append(s)
print(f'info  {n} keep-alive connections from this address: {len(socks)} held, {refused} refused')
ok = refused > 0
print(('ok    ' if ok else 'FAIL  ') + f'per-address connection cap {"enforced" if ok else "not enforced (raise CONNS above http.maxConnectionsPerAddress?)"}')
for s in socks: s.close()
time.sleep(0.2)
code = subprocess.run(['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', base + '/healthz'], capture_output=True, text=True).stdout
print(('ok    ' if code == '200' else 'FAIL  ') + f'after closing them /healthz -> {code}')
sys.exit(0 if ok and code == '200' else 1)
PY

# --- the log ---------------------------------------------------------------------------------
if [ -n "${LOG:-}" ] && [ -r "$LOG" ]; then
  if [ "$TOKEN" != probeTokenNotReal0123456789abcdef ] && grep -qF "$TOKEN" "$LOG"; then bad "the full token is in $LOG"; else ok "no full token in $LOG"; fi
  if grep -q '"stack"' "$LOG"; then bad "stack traces in $LOG: $(grep -c '"stack"' "$LOG")"; else ok "no stack trace in $LOG"; fi
  n=$(grep -c 'probe-wrong-' "$LOG"); [ "$n" -eq 0 ] && ok 'no typed password in the log' || bad "typed passwords in the log: $n lines"
fi
echo "$fails failure(s)"
exit "$fails"
