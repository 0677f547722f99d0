#!/usr/bin/env bash
# User-space instructions per proxied request on the proxy's event loop thread, Tugboat beside
# HAProxy, counted by valgrind's callgrind: a count that does not move with the machine's speed, which on this shared 2-core
# machine drifts by ±10 % between rounds of bench/proxy.sh. Both proxies run one thread
# (`threads: 1`, `nbthread 1`) in front of the same nginx; counting is switched on only after a
# warm-up (pools, buffers, connections) and covers a wrk run of kept-alive requests. Instructions
# are not time (cache misses and the kernel are not in them): read this beside bench/proxy.sh.
#
#   bash bench/proxy-instructions.sh              # needs valgrind, nginx-light, haproxy, wrk
#   TUGBOAT_BIN=.build/release/tugboat CASES="small browser" DURATION=8 bash bench/proxy-instructions.sh
#
# Exits 1 when Tugboat executes more than MAX_RATIO (default 1.0) times HAProxy's instructions in
# a case: CI runs it, as it runs bench/proxy-allocs.sh, so that the request path cannot grow back
# past HAProxy's unnoticed (HAProxy's count is the same to the instruction from run to run;
# Tugboat's moves by under 1 %).
#
# Cases: small (GET of a 15-byte body), browser (GET with ~800 bytes of browser headers, 4 KiB
# body). valgrind cannot read the release binary's debug information, so it runs a copy without
# it (symbols kept). Everything listens on 127.0.0.1 and is stopped by PID at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
INSTALL_HINT="apt-get install -y valgrind nginx-light haproxy wrk binutils" require_tools valgrind callgrind_control callgrind_annotate objcopy nginx haproxy wrk python3 curl

DURATION=${DURATION:-8}
CONNECTIONS=${CONNECTIONS:-10}
CASES=${CASES:-small browser}
MAX_RATIO=${MAX_RATIO:-1.0}
tugboat_binary

work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
wait_port() { for _ in $(seq 1 600); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }

objcopy --strip-debug "$TUGBOAT_BIN" "$work/tugboat"
backend=$(free_port); front=$(free_port); admin=$(free_port); haproxy_port=$(free_port)
mkdir -p "$work/www"
printf 'hello, tugboat!' > "$work/www/small"
head -c 4096 /dev/zero | tr '\0' 'x' > "$work/www/4k"
write_single_nginx_conf "$work" "$backend"
nginx -c "$work/nginx.conf" -p "$work" -e "$work/nginx-error.log" & pids+=($!)
wait_port "$backend"
write_browser_lua "$work/browser.lua"

cat > "$work/tugboat.yaml" <<YAML
listen: 127.0.0.1:$front
admin: { listen: 127.0.0.1:$admin }
threads: 1
pool:
  backends: [127.0.0.1:$backend]
  health: { path: /small, interval: 600s, timeout: 5s, rise: 1, fall: 3 }
YAML
write_single_haproxy_cfg "$work/haproxy.cfg" "$haproxy_port" "$backend" 60s
cd "$work"  # callgrind writes its files here
TUGBOAT_LOG_LEVEL=warning valgrind --tool=callgrind --instr-atstart=no --separate-threads=yes --callgrind-out-file="$work/cg-tugboat.%p" \
  "$work/tugboat" serve --config "$work/tugboat.yaml" 2>"$work/tugboat.log" & tugboat_pid=$!; pids+=($tugboat_pid)
valgrind --tool=callgrind --instr-atstart=no --separate-threads=yes --callgrind-out-file="$work/cg-haproxy.%p" \
  haproxy -f "$work/haproxy.cfg" -db >"$work/haproxy.log" 2>&1 & haproxy_pid=$!; pids+=($haproxy_pid)
wait_port "$front"; wait_port "$haproxy_port"
for port in "$front" "$haproxy_port"; do
  for _ in $(seq 1 300); do curl -fsS "http://127.0.0.1:$port/small" >/dev/null 2>&1 && break; sleep 0.2; done
done

dump_count() { compgen -G "$work/cg-*.$1.*" | wc -l || true; }

# Instructions in process $1 per request while wrk sends case $3's requests to port $2.
count() {
  local pid=$1 port=$2 path=$3 script=$4 out requests total dumps
  wrk -t1 -c"$CONNECTIONS" -d3s $script "http://127.0.0.1:$port$path" >/dev/null
  callgrind_control -z "$pid" >/dev/null 2>&1; callgrind_control -i on "$pid" >/dev/null 2>&1
  out=$(wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" $script "http://127.0.0.1:$port$path")
  callgrind_control -i off "$pid" >/dev/null 2>&1
  dumps=$(dump_count "$pid")
  callgrind_control -d "$pid" >/dev/null 2>&1
  for _ in $(seq 1 100); do [ "$(dump_count "$pid")" -gt "$dumps" ] && break; sleep 0.1; done
  requests=$(echo "$out" | awk '/requests in/ {print $1}')
  # One file per thread for this dump: the busiest thread is the event loop (the state store's,
  # the health checks' and the runtime's threads are left out; they do not scale with requests).
  local part file best=0 count
  part=$(compgen -G "$work/cg-*.$pid.*" | sed -E 's/.*\.([0-9]+)-[0-9]+$/\1/' | sort -n | tail -1)
  for file in $(compgen -G "$work/cg-*.$pid.$part-*"); do
    count=$(callgrind_annotate "$file" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
    [[ $count =~ ^[0-9]+$ ]] && [ "$count" -gt "$best" ] && best=$count
  done
  total=$best
  awk -v t="$total" -v r="$requests" 'BEGIN { printf "%.0f %d\n", t / r, r }'
}

echo "user-space instructions per request (callgrind), one thread each, wrk -t1 -c$CONNECTIONS -d${DURATION}s, keep-alive:"
printf '%-8s %14s %14s %8s\n' case tugboat haproxy ratio
failed=()
for case in $CASES; do
  case $case in
    small) path=/small; script="" ;;
    browser) path=/4k; script="-s $work/browser.lua" ;;
    *) echo "unknown case $case" >&2; exit 1 ;;
  esac
  read -r t_per t_requests < <(count "$tugboat_pid" "$front" "$path" "$script")
  read -r h_per h_requests < <(count "$haproxy_pid" "$haproxy_port" "$path" "$script")
  ratio=$(awk -v t="$t_per" -v h="$h_per" 'BEGIN { printf "%.2f", t / h }')
  printf '%-8s %14s %14s %8s\n' "$case" "$t_per" "$h_per" "$ratio"
  if awk -v r="$ratio" -v m="$MAX_RATIO" 'BEGIN { exit !(r > m) }'; then failed+=("$case $ratio"); fi
done
echo "(ratio: Tugboat's instructions per request over HAProxy's; lower is better; $TUGBOAT_BIN)"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAIL: above $MAX_RATIO times HAProxy's instructions per request: ${failed[*]}" >&2
  exit 1
fi
