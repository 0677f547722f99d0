#!/usr/bin/env bash
# What crash capture's perf costs with several instances: the CPU of Tugboat's one shared
# system-wide recorder against one recorder per instance (the design it replaced), with 1, 4 and 8
# demo-app instances under load.
#
#   bash bench/recorders.sh      # needs: perf (apt-get install -y linux-perf), wrk, python3, curl
#
# For each N in COUNTS: `tugboat serve` with N demo-app instances (process provider, min = max = N)
# and `profiling: { source: perf }`; once all N are healthy, wrk loads them through the proxy for
# DURATION seconds while the script reads the CPU time (user + system, /proc/PID/stat) of
#   shared:   the perf processes Tugboat runs (one, whatever N is), and
#   one each: N more recorders started by this script with the same command line as Tugboat's
#             (its own argv from /proc, another output directory), rotated every 5 s: the design
#             this replaced (one system-wide perf per instance, a file every 5-second slice).
# Prints both, per instance, and whether the shared recorder stays under BUDGET % of a core per
# instance. perf's cost is mostly the events it writes anew into each rolling file (the mappings of
# every process on the host), so it grows with how many processes the machine runs, not with the
# instances: measure on a machine at rest. Everything listens on 127.0.0.1 and is stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."

COUNTS=${COUNTS:-"1 4 8"}
DURATION=${DURATION:-20}
RATE=${RATE:-99}
BUDGET=${BUDGET:-1}
WORK_PATH=${WORK_PATH:-/work?ms=1}

source bench/lib.sh
tugboat_binary
require_tools wrk perf python3 curl

work=$(mktemp -d /tmp/tugboat-recorders.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  sleep 0.5
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() { echo "recorders.sh: $*" >&2; for log in "$work"/*.log; do [ -s "$log" ] && { echo "--- $log" >&2; tail -20 "$log" >&2; }; done; exit 1; }
CLK_TCK=$(getconf CLK_TCK)
# utime + stime of processes, in seconds, summed.
cpu_seconds() {
  local total=0 pid
  for pid in "$@"; do
    total=$(awk -v hz="$CLK_TCK" -v t="$total" '{ sub(/^.*\) /, ""); printf "%.2f", t + ($12 + $13) / hz }' "/proc/$pid/stat" 2>/dev/null || echo "$total")
  done
  echo "$total"
}
healthy_count() {
  { curl -s --max-time 2 "http://127.0.0.1:$TA/api/pool" || true; } | python3 -c '
import json, sys
try: print(sum(1 for b in json.load(sys.stdin)["backends"] if b["state"] == "healthy"))
except Exception: print(0)'
}

echo "perf at $RATE Hz, wrk -t2 -c16 -d${DURATION}s $WORK_PATH through the proxy; $(nproc) cores"
printf '%-10s %22s %22s %12s\n' "instances" "shared: CPU (% core)" "one each: CPU (% core)" "per instance"
for n in $COUNTS; do
  TP=$(free_port); TA=$(free_port); base=$(free_port)
  cat > "$work/tugboat-$n.yaml" <<YAML
listen: 127.0.0.1:$TP
admin: { listen: 127.0.0.1:$TA }
state: sqlite:$work/$n.db
pool:
  health: { path: /health, interval: 500ms, timeout: 500ms, rise: 1, fall: 3 }
scaling:
  provider: { process: { command: "$TUGBOAT_BIN demo-app --port {port}", ports: $((base + 1))-$((base + 40)) } }
  min: $n
  max: $n
  target-rps: 100000
profiling: { source: perf, rate: $RATE, window: 15s }
YAML
  TUGBOAT_LOG_LEVEL=warning "$TUGBOAT_BIN" serve --config "$work/tugboat-$n.yaml" 2>"$work/tugboat-$n.log" & tugboat=$!
  pids+=("$tugboat")
  for _ in $(seq 1 300); do
    [ "$(healthy_count)" -ge "$n" ] && break
    kill -0 "$tugboat" 2>/dev/null || die "tugboat exited during start-up ($n instances)"
    sleep 0.2
  done
  [ "$(healthy_count)" -ge "$n" ] || die "fewer than $n healthy instances within 60 s"
  shared=()
  for _ in $(seq 1 100); do mapfile -t shared < <(pgrep -P "$tugboat" -x perf || true); [ ${#shared[@]} -gt 0 ] && break; sleep 0.1; done
  [ ${#shared[@]} -gt 0 ] || die "no perf under tugboat (pid $tugboat)"
  # The old design: one more recorder per instance, Tugboat's own command line.
  mapfile -d '' argv < <(cat "/proc/${shared[0]}/cmdline")
  each=()
  for i in $(seq 1 "$n"); do
    mkdir -p "$work/each-$n-$i"
    args=()
    for a in "${argv[@]}"; do [[ $a == */perf.data ]] && a=$work/each-$n-$i/perf.data; args+=("$a"); done
    "${args[@]}" >/dev/null 2>"$work/each-$n-$i.log" & each+=($!)
  done
  pids+=("${each[@]}")
  ( while sleep 5; do kill -USR2 "${each[@]}" 2>/dev/null || exit 0; done ) & rotator=$!
  pids+=("$rotator")
  wrk -t2 -c16 -d2s "http://127.0.0.1:$TP$WORK_PATH" >/dev/null   # warm-up
  s0=$(cpu_seconds "${shared[@]}"); e0=$(cpu_seconds "${each[@]}")
  out=$(timeout $((DURATION + 30)) wrk -t2 -c16 -d"${DURATION}s" "http://127.0.0.1:$TP$WORK_PATH") || die "wrk failed"
  s1=$(cpu_seconds "${shared[@]}"); e1=$(cpu_seconds "${each[@]}")
  [ "$(pgrep -P "$tugboat" -x perf | wc -l)" -eq 1 ] || echo "warning: $(pgrep -P "$tugboat" -x perf | wc -l) perf processes under tugboat with $n instances" >&2
  python3 -c "
n, d = $n, $DURATION
shared, each = $s1 - $s0, $e1 - $e0
print('%-10d %12.2f s (%5.2f %%) %12.2f s (%5.2f %%) %8.2f %% %s' % (n, shared, 100 * shared / d, each, 100 * each / d,
      100 * shared / d / n, 'within %g %%' % $BUDGET if 100 * shared / d / n < $BUDGET else 'OVER %g %%' % $BUDGET))"
  kill "$rotator" 2>/dev/null || true
  for pid in "${each[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  kill "$tugboat" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$tugboat" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$tugboat" 2>/dev/null || true
  wait "$tugboat" 2>/dev/null || true
  for pid in "${each[@]}"; do wait "$pid" 2>/dev/null || true; done
done
