#!/usr/bin/env bash
# Several nodes, one pool: how fast a pool change made on one node reaches the others, and how long
# a takeover takes after `kill -9` of the leader.
#
#   bash bench/cluster.sh        # needs: redis-server (apt-get install -y redis-server), python3
#
# One redis-server and three `tugboat serve` nodes on 127.0.0.1 (lease ttl 3 s). CHANGES (default
# 100) times: add a backend through node1's admin API, time until node2 and node3 list it; then
# remove it. Then TAKEOVERS (default 3) times: kill -9 the leader, time until both others name a
# new leader; restart the killed node. Everything is stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${TUGBOAT_BIN:-}" ]; then
  echo "building tugboat (release)..." >&2
  swift build -c release --product tugboat >&2
  TUGBOAT_BIN=.build/release/tugboat
fi
TUGBOAT_BIN=$(cd "$(dirname "$TUGBOAT_BIN")" && pwd)/$(basename "$TUGBOAT_BIN")
command -v redis-server >/dev/null || { echo "missing redis-server: apt-get install -y redis-server" >&2; exit 1; }
CHANGES=${CHANGES:-100}
TAKEOVERS=${TAKEOVERS:-3}

work=$(mktemp -d /tmp/tugboat-cluster.XXXXXX)
declare -A node_pid
redis_pid=""
cleanup() {
  for pid in "${node_pid[@]}" $redis_pid; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
RP=$(free_port)
redis-server --port "$RP" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
redis_pid=$!
for _ in $(seq 1 100); do redis-cli -p "$RP" ping >/dev/null 2>&1 && break; sleep 0.05; done

declare -A admin_port
start_node() {
  local n=$1
  [ -n "${admin_port[$n]:-}" ] || admin_port[$n]=$(free_port)
  local proxy; proxy=$(free_port)
  cat > "$work/node$n.yaml" <<YAML
node: node$n
state: redis://127.0.0.1:$RP/0
local-state: sqlite:$work/node$n.db
listen: 127.0.0.1:$proxy
admin: { listen: 127.0.0.1:${admin_port[$n]} }
pool:
  health: { path: /health, interval: 1s, timeout: 500ms, rise: 1, fall: 2 }
  drain: 1s
YAML
  "$TUGBOAT_BIN" serve --config "$work/node$n.yaml" >"$work/node$n.log" 2>&1 &
  node_pid[$n]=$!
  for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:${admin_port[$n]}/healthz" >/dev/null 2>&1 && return; sleep 0.05; done
  echo "node$n did not start:" >&2; tail -5 "$work/node$n.log" >&2; exit 1
}
for n in 1 2 3; do start_node $n; done

python3 - "${admin_port[1]}" "${admin_port[2]}" "${admin_port[3]}" "$CHANGES" <<'PY'
import json, sys, time, urllib.request
a1, a2, a3, changes = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def call(port, method, path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method, data=body)
    with urllib.request.urlopen(req, timeout=2) as r:
        return json.loads(r.read() or b"null")
def listed(port):
    return {b["address"] for b in call(port, "GET", "/api/pool")["backends"]}
def wait(pred, limit=5.0):
    end = time.time() + limit
    while time.time() < end:
        if pred(): return True
        time.sleep(0.001)
    raise SystemExit("timed out")
deadline = time.time() + 10
while any(call(p, "GET", "/api/cluster")["leader"] is None for p in (a1, a2, a3)):
    if time.time() > deadline: raise SystemExit("no leader")
    time.sleep(0.05)
adds, removes = [], []
for i in range(changes):
    address = f"127.0.0.1:{40000 + i}"
    t = time.time()
    call(a1, "POST", "/api/pool/backends", json.dumps({"address": address}).encode())
    wait(lambda: address in listed(a2) and address in listed(a3))
    adds.append(time.time() - t)
    t = time.time()
    call(a1, "DELETE", f"/api/pool/backends/{address}")
    wait(lambda: address not in listed(a2) and address not in listed(a3), limit=10)
    removes.append(time.time() - t)
def pct(values, p):
    values = sorted(values); return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] * 1000
print(f"pool propagation, {changes} adds made on node1, seen by node2 and node3 (polled /api/pool):")
print(f"  add:    p50 {pct(adds, 50):.1f} ms   p99 {pct(adds, 99):.1f} ms   max {max(adds) * 1000:.1f} ms")
print(f"  remove: p50 {pct(removes, 50):.1f} ms   p99 {pct(removes, 99):.1f} ms   (marked draining; nothing in flight, so gone at once)")
PY

for round in $(seq 1 "$TAKEOVERS"); do
  leader=""
  for _ in $(seq 1 200); do   # a restarted node learns the leader within a second
    leader=$(curl -sf "http://127.0.0.1:${admin_port[1]}/api/cluster" | python3 -c 'import json,sys; print(json.load(sys.stdin)["leader"] or "")')
    [ -n "$leader" ] && break; sleep 0.05
  done
  n=${leader#node}
  [ -n "$n" ] || { echo "no leader" >&2; exit 1; }
  others=(); for m in 1 2 3; do [ "$m" = "$n" ] || others+=("${admin_port[$m]}"); done
  start=$(python3 -c 'import time; print(time.time())')
  kill -9 "${node_pid[$n]}"; wait "${node_pid[$n]}" 2>/dev/null || true
  python3 - "$start" "$leader" "${others[@]}" <<'PY'
import json, sys, time, urllib.request
start, old, ports = float(sys.argv[1]), sys.argv[2], [int(p) for p in sys.argv[3:]]
def leader(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/cluster", timeout=2) as r:
        return json.loads(r.read())["leader"]
while True:
    names = {leader(p) for p in ports}
    if len(names) == 1 and None not in names and old not in names: break
    if time.time() - start > 15: raise SystemExit("no takeover within 15 s")
    time.sleep(0.01)
print(f"takeover: kill -9 of {old} -> {names.pop()} leads after {time.time() - start:.2f} s (lease ttl 3 s)")
PY
  start_node "$n"
done
