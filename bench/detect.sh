#!/usr/bin/env bash
# Detection speed: seconds from SIGKILL of a backend to the Twilio call arriving at a local
# Twilio contract server (tugboat-contract), with and without live traffic.
#
#   bash bench/detect.sh          # needs: wrk (apt-get install -y wrk), python3
#
# Tugboat runs with the default health settings (interval 2s, fall 3, passive failures 5) and a
# `backend-down` rule paging a twilio-call channel pointed at the contract server. The figures are
# printed beside the original system's 15-second heartbeat and Uptime Kuma's 60-second default
# interval. Everything runs on 127.0.0.1 and is stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${TUGBOAT_BIN:-}" ]; then
  echo "building tugboat and tugboat-contract (release)..." >&2
  swift build -c release --product tugboat >&2
  swift build -c release --product tugboat-contract >&2
  TUGBOAT_BIN=.build/release/tugboat
fi
CONTRACT_BIN=${CONTRACT_BIN:-$(dirname "$TUGBOAT_BIN")/tugboat-contract}
command -v wrk >/dev/null || { echo "missing wrk: apt-get install -y wrk" >&2; exit 1; }

work=$(mktemp -d /tmp/tugboat-detect.XXXXXX)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_for() { for _ in $(seq 1 400); do eval "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "timed out waiting for: $1" >&2; exit 1; }

SID=AC0123456789abcdef0123456789abcdef
TOKEN=bench-token
CP=$(free_port)
"$CONTRACT_BIN" --port "$CP" --account-sid "$SID" --auth-token "$TOKEN" >"$work/contract.log" 2>&1 & pids+=($!)
wait_for "curl -sf http://127.0.0.1:$CP/_contract/requests"

# First accepted call's time (epoch seconds) after $1, or nothing.
call_after() {
  curl -s "http://127.0.0.1:$CP/_contract/requests" | python3 -c '
import json, sys
since = float(sys.argv[1])
calls = [r["time"] for r in json.load(sys.stdin) if r["kind"] == "call" and r["status"] == 201 and r["time"] >= since]
print(min(calls) if calls else "")' "$1"
}

scenario() {  # $1: traffic|idle
  local b1 b2 tp ta pa pb pt pw="" killed at
  b1=$(free_port); b2=$(free_port); tp=$(free_port); ta=$(free_port)
  "$TUGBOAT_BIN" demo-app --port "$b1" 2>/dev/null & pa=$!; pids+=($pa)
  "$TUGBOAT_BIN" demo-app --port "$b2" 2>/dev/null & pb=$!; pids+=($pb)
  cat > "$work/$1.yaml" <<YAML
listen: 127.0.0.1:$tp
admin: { listen: 127.0.0.1:$ta }
state: sqlite:$work/$1.db
pool:
  backends: [127.0.0.1:$b1, 127.0.0.1:$b2]
alerts:
  channels:
    call: { twilio-call: { account-sid: $SID, auth-token: $TOKEN, from: "+15550100000", to: ["+15550100001"], api-base: http://127.0.0.1:$CP } }
  rules:
    - { name: backend-down, condition: backend-down, channels: [call] }
YAML
  TUGBOAT_LOG_LEVEL=warning "$TUGBOAT_BIN" serve --config "$work/$1.yaml" 2>"$work/$1.log" & pt=$!; pids+=($pt)
  wait_for "curl -s http://127.0.0.1:$ta/api/pool | grep -o healthy | wc -l | grep -q 2"
  if [ "$1" = traffic ]; then
    wrk -t1 -c4 -d20s "http://127.0.0.1:$tp/" >/dev/null 2>&1 & pw=$!; pids+=($pw)
    sleep 1   # let the load settle before the kill
  fi
  killed=$(python3 -c 'import time; print(time.time())')
  kill -9 "$pa"
  at=""
  for _ in $(seq 1 300); do at=$(call_after "$killed"); [ -n "$at" ] && break; sleep 0.05; done
  [ -n "$pw" ] && kill "$pw" 2>/dev/null || true
  kill "$pt" "$pb" 2>/dev/null || true
  if [ -z "$at" ]; then echo "no page within 15 s ($1)" >&2; cat "$work/$1.log" >&2; exit 1; fi
  python3 -c 'import sys; print("%.2f" % (float(sys.argv[1]) - float(sys.argv[2])))' "$at" "$killed"
}

with_traffic=$(scenario traffic)
idle=$(scenario idle)
echo "seconds from SIGKILL of a backend to the Twilio call (health: interval 2s, fall 3)"
printf '%-44s %8s\n' "tugboat, under live traffic (passive)" "$with_traffic"
printf '%-44s %8s\n' "tugboat, no traffic (active checks, bound 7)" "$idle"
printf '%-44s %8s\n' "original system: 15 s heartbeat" "<= 15"
printf '%-44s %8s\n' "Uptime Kuma default: 60 s interval" "<= 60"
