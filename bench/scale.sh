#!/usr/bin/env bash
# Autoscaling under a load step: seconds from the step until new instances serve traffic, and
# failed requests while scaling up and down, beside Kubernetes HPA's defaults.
#
#   bash bench/scale.sh          # needs: wrk (apt-get install -y wrk), python3, curl
#
# Tugboat runs the process provider (the bundled demo-app) with min 1, max 4, target-rps 500,
# window 10s, cooldown-up 5s, stabilize-down 30s. wrk goes from idle to as fast as it can (several
# times the target) for 30 s, then a light load (about 15 requests/s from curl) runs while the pool
# scales back down.
# Everything runs on 127.0.0.1 and is stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${TUGBOAT_BIN:-}" ]; then
  echo "building tugboat (release)..." >&2
  swift build -c release --product tugboat >&2
  TUGBOAT_BIN=.build/release/tugboat
fi
TUGBOAT_BIN=$(cd "$(dirname "$TUGBOAT_BIN")" && pwd)/$(basename "$TUGBOAT_BIN")
command -v wrk >/dev/null || { echo "missing wrk: apt-get install -y wrk" >&2; exit 1; }

work=$(mktemp -d /tmp/tugboat-scale.XXXXXX)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
now() { python3 -c 'import time; print("%.3f" % time.time())'; }
TP=$(free_port); TA=$(free_port)
BASE=$(( 30000 + RANDOM % 200 * 100 ))

cat > "$work/tugboat.yaml" <<YAML
listen: 127.0.0.1:$TP
admin: { listen: 127.0.0.1:$TA }
state: sqlite:$work/tugboat.db
pool:
  health: { path: /health, interval: 500ms, timeout: 500ms, rise: 1, fall: 2 }
  drain: 5s
scaling:
  provider: { process: { command: "$TUGBOAT_BIN demo-app --port {port}", ports: $BASE-$((BASE + 99)) } }
  min: 1
  max: 4
  target-rps: 500
  window: 10s
  cooldown-up: 5s
  stabilize-down: 30s
YAML
TUGBOAT_LOG_LEVEL=warning "$TUGBOAT_BIN" serve --config "$work/tugboat.yaml" 2>"$work/tugboat.log" & pids+=($!)
tugboat_pid=$!

# Healthy instances serving traffic: those with requests counted.
serving() {
  curl -s "http://127.0.0.1:$TA/api/pool" | python3 -c '
import json, sys
pool = json.load(sys.stdin)["backends"]
print(sum(1 for b in pool if b["state"] == "healthy" and b["requests"] > 0), len(pool))'
}
healthy_count() { curl -s "http://127.0.0.1:$TA/api/pool" | grep -o '"healthy"' | wc -l; }
for _ in $(seq 1 200); do [ "$(healthy_count)" -ge 1 ] && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$TP/" >/dev/null

# The step: idle -> as fast as wrk goes.
step=$(now)
wrk -t2 -c16 -d30s "http://127.0.0.1:$TP/work?ms=1" >"$work/up.txt" 2>&1 & wrk_pid=$!; pids+=($wrk_pid)
first_new="" all_serving=""
while kill -0 "$wrk_pid" 2>/dev/null; do
  read -r n total <<<"$(serving)"
  if [ -z "$first_new" ] && [ "$n" -ge 2 ]; then first_new=$(python3 -c "print('%.1f' % ($(now) - $step))"); fi
  if [ -z "$all_serving" ] && [ "$n" -ge 4 ]; then all_serving=$(python3 -c "print('%.1f' % ($(now) - $step))"); fi
  sleep 0.2
done
peak=$(healthy_count)

# Scale-down under a light load (paced at ~15 requests/s): count failures until back at min.
down_start=$(now)
( while :; do curl -s -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$TP/" || echo 000; sleep 0.05; done ) >"$work/down.codes" & down_pid=$!; pids+=($down_pid)
back=""
for _ in $(seq 1 300); do
  read -r n total <<<"$(serving)"
  if [ "$total" -le 1 ]; then back=$(python3 -c "print('%.1f' % ($(now) - $down_start))"); break; fi
  sleep 0.2
done
kill "$down_pid" 2>/dev/null || true; wait "$down_pid" 2>/dev/null || true

errors() {  # non-2xx plus socket errors in a wrk report
  python3 - "$1" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
non2xx = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", text))
sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
print(non2xx + (sum(int(g) for g in sock.groups()) if sock else 0))
PY
}
requests() { grep -oE '^ +[0-9]+ requests' "$1" | awk '{print $1}'; }

echo "load step: idle -> wrk -t2 -c16 for 30 s against target-rps 500 per instance (min 1, max 4)"
printf '%-52s %s\n' "seconds until a second instance served traffic" "${first_new:-never}"
printf '%-52s %s\n' "seconds until all 4 instances served traffic" "${all_serving:-never (peak $peak)}"
printf '%-52s %s of %s\n' "failed requests while scaling up" "$(errors "$work/up.txt")" "$(requests "$work/up.txt")"
printf '%-52s %s\n' "seconds back to 1 instance (stabilize-down 30s)" "${back:-not within 90 s}"
printf '%-52s %s of %s\n' "failed requests while scaling down" "$(grep -vc '^200$' "$work/down.codes")" "$(wc -l <"$work/down.codes")"
echo "for comparison, Kubernetes HPA defaults: 15 s sync period (a first reaction takes up to 15 s"
echo "plus pod start), 300 s scale-down stabilisation window"
grep -c "scaling failed" "$work/tugboat.log" >/dev/null 2>&1 && grep "scaling failed" "$work/tugboat.log" | head -3 || true
kill "$tugboat_pid" 2>/dev/null || true
