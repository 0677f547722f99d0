#!/usr/bin/env bash
# What crash capture costs: the demo app's throughput through Tugboat with and without
# `profiling: { source: perf, rate: 99, window: 15s }`, in one run.
#
#   bash bench/capture.sh        # needs: perf (apt-get install -y linux-perf), wrk, python3, curl
#
# Each round starts `tugboat serve` twice, one after the other (the order alternates from round
# to round, to cancel drift): both times in front of ONE demo-app instance of the process provider
# (min 1, max 1), once with the profiling section and once without. Once the instance is healthy
# (GET /api/pool on the admin port) and, with capture, perf records it, `wrk -t2 -c8 -d10s` loads
# the CPU-bound path /work?ms=1 through the proxy. Prints requests/s of both, the ratio and the
# overhead (median over the rounds of each round's pair), and the CPU time perf itself used.
# The script fails if perf is not recording during a run with capture (or is during one without).
# Everything listens on 127.0.0.1 and is stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}          # seconds of wrk per measurement
CONNECTIONS=${CONNECTIONS:-8}
THREADS=${THREADS:-2}
WORK_PATH=${WORK_PATH:-/work?ms=1}
RATE=${RATE:-99}
WINDOW=${WINDOW:-15s}
BUDGET=${BUDGET:-3}               # the overhead allowed, in %

source bench/lib.sh
tugboat_binary
require_tools wrk perf python3 curl

work=$(mktemp -d /tmp/tugboat-capture.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() { echo "capture.sh: $*" >&2; for log in "$work"/*.log; do [ -s "$log" ] && { echo "--- $log" >&2; tail -20 "$log" >&2; }; done; exit 1; }
TP=$(free_port); TA=$(free_port)
# The instance's port. Tugboat finds the instance's pid (for perf) by its listening socket in
# /proc/net/tcp, and Foundation's String(contentsOfFile:) reads only the first page (~4 KB, the
# first ~26 sockets, listeners first) of that file: an instance whose listener is listed further
# down gets no perf ("perf needs the process id of ..., which is not known"). So take a free port
# whose listener shows in the first page (one read, as Foundation does) and use it in both runs.
instance_port() {
  python3 - <<'PY'
import os, socket
for _ in range(200):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0)); s.listen(); port = s.getsockname()[1]
    fd = os.open("/proc/net/tcp", os.O_RDONLY); page = os.read(fd, 1 << 20).decode(); os.close(fd)
    s.close()
    if any(f[1].endswith(":%04X" % port) and f[3] == "0A" for f in (l.split() for l in page.splitlines()[1:]) if len(f) > 3):
        print(port); break
else:
    raise SystemExit("no port whose listener is in the first page of /proc/net/tcp")
PY
}
IP=$(instance_port)
CLK_TCK=$(getconf CLK_TCK)

# utime + stime of a process, in seconds (empty if it is gone).
cpu_seconds() { awk -v hz="$CLK_TCK" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$1/stat" 2>/dev/null || true; }
# The perf recorder Tugboat spawned (its child), if any.
perf_pid() { pgrep -P "$1" -x perf | head -1 || true; }
# The healthy instance's address in /api/pool, if any.
healthy_instance() {
  curl -s --max-time 2 "http://127.0.0.1:$TA/api/pool" | python3 -c '
import json, sys
try: pool = json.load(sys.stdin)["backends"]
except Exception: sys.exit(0)
print(next((b["address"] for b in pool if b["state"] == "healthy"), ""))' || true
}

# config NAME WITH_CAPTURE -> path of a tugboat.yaml
config() {
  local file="$work/$1.yaml"
  cat > "$file" <<YAML
listen: 127.0.0.1:$TP
admin: { listen: 127.0.0.1:$TA }
state: sqlite:$work/$1.db
pool:
  health: { path: /health, interval: 500ms, timeout: 500ms, rise: 1, fall: 3 }
scaling:
  provider: { process: { command: "$TUGBOAT_BIN demo-app --port {port}", ports: $IP-$IP } }
  min: 1
  max: 1
  target-rps: 100000
YAML
  if [ "$2" = yes ]; then echo "profiling: { source: perf, rate: $RATE, window: $WINDOW }" >> "$file"; fi
  echo "$file"
}
CONFIG_WITH=$(config with yes)
CONFIG_WITHOUT=$(config without no)

# run MODE ROUND: sets RPS and PERF_CPU (perf's CPU seconds during the measurement; - without capture)
run() {
  local mode=$1 round=$2 tugboat instance="" perf="" out cpu0 cpu1 config
  RPS="" PERF_CPU=-
  config=$CONFIG_WITHOUT; [ "$mode" = with ] && config=$CONFIG_WITH
  TUGBOAT_LOG_LEVEL=warning "$TUGBOAT_BIN" serve --config "$config" 2>"$work/tugboat-$mode-$round.log" & tugboat=$!
  pids+=("$tugboat")
  for _ in $(seq 1 150); do   # up to 30 s: the demo app starts and passes a health check
    instance=$(healthy_instance); [ -n "$instance" ] && break
    kill -0 "$tugboat" 2>/dev/null || die "tugboat exited during start-up ($mode, round $round)"
    sleep 0.2
  done
  [ -n "$instance" ] || die "no healthy instance within 30 s ($mode, round $round)"
  if [ "$mode" = with ]; then
    for _ in $(seq 1 100); do perf=$(perf_pid "$tugboat"); [ -n "$perf" ] && break; sleep 0.1; done
    [ -n "$perf" ] || die "capture on, but no perf process under tugboat (pid $tugboat) within 10 s of the instance turning healthy"
    pids+=("$perf")
  fi
  local port=${instance##*:} leftover
  pids+=($(pgrep -f "$TUGBOAT_BIN demo-app --port $port\$" || true))
  wrk -t"$THREADS" -c"$CONNECTIONS" -d2s "http://127.0.0.1:$TP$WORK_PATH" >/dev/null   # warm-up
  if [ "$mode" = with ]; then
    kill -0 "$perf" 2>/dev/null || die "perf (pid $perf) stopped during the warm-up: $(cat "$work/tugboat-$mode-$round.log")"
    cpu0=$(cpu_seconds "$perf")
  elif [ -n "$(perf_pid "$tugboat")" ] || pgrep -x perf >/dev/null; then
    echo "warning: a perf process is running during a run without capture (pgrep -x perf: $(pgrep -x perf | tr '\n' ' '))" >&2
  fi
  out=$(timeout $((DURATION + 30)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" "http://127.0.0.1:$TP$WORK_PATH") \
    || die "wrk failed ($mode, round $round)"
  if [ "$mode" = with ]; then
    [ -n "$(pgrep -P "$tugboat" -x perf)" ] && kill -0 "$perf" 2>/dev/null \
      || die "perf (pid $perf) was not running until the end of the measurement ($mode, round $round)"
    cpu1=$(cpu_seconds "$perf")
    PERF_CPU=$(python3 -c "print('%.2f' % ($cpu1 - $cpu0))")
  fi
  if echo "$out" | grep -qE "Non-2xx|Socket errors"; then die "errors under load ($mode, round $round): $out"; fi
  RPS=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  [ -n "$RPS" ] || die "no Requests/sec in wrk's output: $out"
  kill "$tugboat" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$tugboat" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$tugboat" 2>/dev/null || true
  wait "$tugboat" 2>/dev/null || true
  # The instance (and perf) go with tugboat; make sure before the next run.
  for _ in $(seq 1 50); do
    leftover=$(pgrep -f "$TUGBOAT_BIN demo-app --port $port\$" || true)
    [ -z "$leftover" ] && [ -z "$(pgrep -P "$tugboat" || true)" ] && break
    sleep 0.1
  done
  if [ -n "$leftover" ]; then echo "warning: demo-app on port $port outlived tugboat; killing pid $leftover" >&2; kill $leftover 2>/dev/null || true; fi
  if [ -n "$perf" ] && kill -0 "$perf" 2>/dev/null; then echo "warning: perf (pid $perf) outlived tugboat; stopping it" >&2; kill -INT "$perf" 2>/dev/null || true; fi
}

echo "tugboat serve + 1 demo-app instance, wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s $WORK_PATH, capture: perf at $RATE Hz, window $WINDOW"
results=()
for round in $(seq 1 "$ROUNDS"); do
  if (( round % 2 )); then order="without with"; else order="with without"; fi
  for mode in $order; do
    run "$mode" "$round"
    if [ "$mode" = with ]; then w_rps=$RPS; w_cpu=$PERF_CPU; else o_rps=$RPS; fi
    printf 'round %d  %-15s %9.1f req/s%s\n' "$round" "$mode capture" "$RPS" \
      "$([ "$PERF_CPU" = - ] || echo "  perf CPU $PERF_CPU s in $DURATION s")"
  done
  results+=("$o_rps $w_rps $w_cpu")
done

printf '%s\n' "${results[@]}" | python3 -c '
import statistics, sys
duration, budget = float(sys.argv[1]), float(sys.argv[2])
rows = [tuple(map(float, line.split())) for line in sys.stdin if line.strip()]
without = statistics.median(r[0] for r in rows)
with_ = statistics.median(r[1] for r in rows)
overheads = [100 * (1 - r[1] / r[0]) for r in rows]
overhead = statistics.median(overheads)
perf_cpu = statistics.median(r[2] for r in rows)
print()
print("median of %d round(s), %s" % (len(rows), sys.argv[3]))
print("%-34s %10.1f req/s" % ("without capture", without))
print("%-34s %10.1f req/s" % ("with capture (perf, %s Hz)" % sys.argv[4], with_))
print("%-34s %10.3f" % ("ratio with/without", with_ / without))
print("%-34s %9.2f %%   (rounds: %s)" % ("overhead (median of round pairs)", overhead, ", ".join("%.2f" % o for o in overheads)))
print("%-34s %10.2f s per %.0f s = %.1f %% of one core" % ("perf record CPU (user+system)", perf_cpu, duration, 100 * perf_cpu / duration))
print("%-34s %s" % ("within the %g %% budget" % budget, "yes" if overhead < budget else "NO"))
' "$DURATION" "$BUDGET" "$(nproc) cores, wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s $WORK_PATH" "$RATE"
