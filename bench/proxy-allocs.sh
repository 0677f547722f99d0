#!/usr/bin/env bash
# Heap allocations per proxied request: malloc(3) calls counted by a uprobe on the C library's
# malloc (`perf probe`), over a wrk run of kept-alive GETs of a 15-byte body through Tugboat, and
# through HAProxy the same way for scale. Exits 1 when Tugboat makes more than MAX_PER_REQUEST
# (default 0.5) per request: the byte path is meant to allocate nothing per request once warm.
#
#   bash bench/proxy-allocs.sh                     # needs root, perf, nginx-light, haproxy, wrk
#   TUGBOAT_BIN=.build/release/tugboat DURATION=5 bash bench/proxy-allocs.sh
#
# The count covers every thread of the process (the state store's writer too), so it is an upper
# bound for the request path. Optimised builds only: a debug build allocates in places the
# optimiser removes. Everything listens on 127.0.0.1 and is stopped by PID at the end; the probe
# is removed again if this script added it.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
INSTALL_HINT="apt-get install -y linux-perf nginx-light haproxy wrk" require_tools perf nginx haproxy wrk python3

DURATION=${DURATION:-4}
CONNECTIONS=${CONNECTIONS:-20}
MAX_PER_REQUEST=${MAX_PER_REQUEST:-0.5}
tugboat_binary

work=$(mktemp -d)
chmod 755 "$work"
pids=()
added_probe=""
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "$added_probe" ] && perf probe -q -d "$added_probe" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
wait_port() { for _ in $(seq 1 200); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; exit 1; }

libc=$(ldd "$TUGBOAT_BIN" | awk '/libc\.so\.6/ {print $3}')
[ -n "$libc" ] || { echo "cannot find the C library $TUGBOAT_BIN uses" >&2; exit 1; }
event=probe_libc:malloc
if ! perf list "$event" 2>/dev/null | grep -q "$event"; then
  perf probe -q -x "$libc" malloc || { echo "perf probe on $libc malloc failed (root and uprobes needed)" >&2; exit 1; }
  added_probe=$event
fi

backend=$(free_port); front=$(free_port); admin=$(free_port); haproxy_port=$(free_port)
mkdir -p "$work/www"
printf 'hello, tugboat!' > "$work/www/small"
write_single_nginx_conf "$work" "$backend"
nginx -c "$work/nginx.conf" -p "$work" -e "$work/nginx-error.log" & pids+=($!)
wait_port "$backend"

cat > "$work/tugboat.yaml" <<YAML
listen: 127.0.0.1:$front
admin: { listen: 127.0.0.1:$admin }
threads: 1
pool:
  backends: [127.0.0.1:$backend]
  health: { path: /small, interval: 60s, timeout: 1s, rise: 1, fall: 3 }
YAML
TUGBOAT_LOG_LEVEL=warning "$TUGBOAT_BIN" serve --config "$work/tugboat.yaml" 2>"$work/tugboat.log" & tugboat_pid=$!; pids+=($tugboat_pid)
write_single_haproxy_cfg "$work/haproxy.cfg" "$haproxy_port" "$backend"
haproxy -f "$work/haproxy.cfg" -db >"$work/haproxy.log" 2>&1 & haproxy_pid=$!; pids+=($haproxy_pid)
wait_port "$front"; wait_port "$haproxy_port"
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$front/small" >/dev/null 2>&1 && break; sleep 0.1; done

# Counts malloc calls in process $1 while wrk sends requests to port $2: prints "calls requests".
count() {
  wrk -t1 -c"$CONNECTIONS" -d1s "http://127.0.0.1:$2/small" >/dev/null  # warm: pools, buffers, connections
  perf stat -x, -e "$event" -p "$1" -o "$work/stat.txt" -- sleep "$DURATION" & local stat=$!
  local out; out=$(wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" "http://127.0.0.1:$2/small")
  wait $stat
  local calls requests
  calls=$(awk -F, -v e="$event" '$3 == e {print $1}' "$work/stat.txt")
  requests=$(echo "$out" | awk '/requests in/ {print $1}')
  echo "$calls $requests"
}

read -r t_calls t_requests < <(count "$tugboat_pid" "$front")
read -r h_calls h_requests < <(count "$haproxy_pid" "$haproxy_port")
per() { awk -v c="$1" -v r="$2" 'BEGIN { printf "%.3f", (r > 0 ? c / r : -1) }'; }
t_per=$(per "$t_calls" "$t_requests"); h_per=$(per "$h_calls" "$h_requests")
echo "malloc calls per request, wrk -t1 -c$CONNECTIONS -d${DURATION}s GET /small (15 bytes), keep-alive:"
echo "  tugboat  $t_per  ($t_calls calls over $t_requests requests; $TUGBOAT_BIN)"
echo "  haproxy  $h_per  ($h_calls calls over $h_requests requests; nbthread 1)"
if awk -v p="$t_per" -v m="$MAX_PER_REQUEST" 'BEGIN { exit !(p < 0 || p > m) }'; then
  echo "FAIL: tugboat makes $t_per malloc calls per request (at most $MAX_PER_REQUEST expected)" >&2
  exit 1
fi
