#!/usr/bin/env bash
# Tugboat `exec` scaling provider, the `up` side: start ONE new instance of the app and print its
# host:port as the LAST line of output. Tugboat adds it to the pool as `starting` and sends it
# traffic once its health check passes.
#
#   scaling:
#     provider: { exec: { up: ./examples/scale_up.sh, down: ./examples/scale_down.sh, timeout: 2m } }
#
# Contract:
#   - exit 0 and print `host:port` last (earlier lines are free-form log); anything else is a
#     failed launch, retried with backoff and raised as an alert;
#   - Tugboat reads stdout until EOF, so whatever you start in the background must NOT keep this
#     script's stdout/stderr open (redirect it, as below);
#   - TUGBOAT_ACTION=up is set; the whole run is killed after the provider's `timeout`.
#
# With Ansible, the "start" block below becomes your playbook, and the last line the address it
# brought up, e.g.:
#   ansible-playbook -i inventory/production scale_up.yml -e pool=web >&2
#   cat /var/lib/tugboat/last-instance          # written by the playbook: 10.0.3.17:8080
#
# This sample starts the bundled demo backend on this machine instead.
set -euo pipefail

TUGBOAT_BIN=${TUGBOAT_BIN:-tugboat}                             # the tugboat executable
STATE_DIR=${TUGBOAT_SCALE_DIR:-${TMPDIR:-/tmp}/tugboat-scale}   # pid and log files, one per instance
mkdir -p "$STATE_DIR"

# --- start ---------------------------------------------------------------------------------------
# Port 0: the kernel picks a free port and the app logs it; no race with other launches.
log=$(mktemp "$STATE_DIR/launch.XXXXXX")
nohup "$TUGBOAT_BIN" demo-app --host 127.0.0.1 --port "${DEMO_PORT:-0}" </dev/null >"$log" 2>&1 &
pid=$!

line=""
for _ in $(seq 1 100); do                       # up to 10 s for the app to listen
  if line=$(grep -m1 'listening on' "$log"); then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "demo-app exited during start:" >&2; cat "$log" >&2; rm -f "$log"; exit 1
  fi
  sleep 0.1
done
address=$(sed -n 's/.*listening on \([^ ]*:[0-9]*\).*/\1/p' <<<"$line")
if [ -z "$address" ]; then
  echo "demo-app did not start listening within 10 s" >&2; kill "$pid" 2>/dev/null || true; rm -f "$log"; exit 1
fi

# --- register ------------------------------------------------------------------------------------
echo "$pid" >"$STATE_DIR/$address.pid"
mv "$log" "$STATE_DIR/$address.log"
echo "started demo-app (pid $pid)"
echo "$address"                                 # the last line: what Tugboat adds to the pool
