#!/usr/bin/env bash
# Tugboat `exec` scaling provider, the `down` side: stop the instance `scale_up.sh` started.
# Tugboat has already drained it (no new requests, in-flight ones finished or `drain` elapsed).
#
# Contract:
#   - the instance's host:port (as `up` printed it) is $1 and also TUGBOAT_INSTANCE;
#   - exit 0 once it is gone; anything else (or the provider's `timeout`) is a failed stop,
#     retried with backoff and raised as an alert. Stopping an instance that is already gone
#     should succeed;
#   - TUGBOAT_ACTION=down is set.
#
# With Ansible this becomes e.g.:
#   ansible-playbook -i inventory/production scale_down.yml -e "pool=web instance=$1"
set -euo pipefail

address=${1:-${TUGBOAT_INSTANCE:?usage: scale_down.sh HOST:PORT}}
STATE_DIR=${TUGBOAT_SCALE_DIR:-${TMPDIR:-/tmp}/tugboat-scale}
pidfile="$STATE_DIR/$address.pid"

if [ ! -f "$pidfile" ]; then
  echo "no instance $address known here; nothing to stop"
  exit 0
fi
pid=$(cat "$pidfile")

alive() {   # running, and not a zombie waiting for its parent
  [ -e "/proc/$1" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != "Z" ]
}

if alive "$pid"; then
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.1; done   # up to 10 s
  if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
fi
rm -f "$pidfile" "$STATE_DIR/$address.log"
echo "stopped $address (pid $pid)"
