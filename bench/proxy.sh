#!/usr/bin/env bash
# Tugboat vs HAProxy, same machine, same backends, same load.
#
#   bash bench/proxy.sh            # needs: apt-get install -y nginx-light haproxy wrk
#
# Starts nginx serving a small static body on two loopback ports, then HAProxy 2.6 and Tugboat
# (release build) in front of them with equivalent settings (round robin, keep-alive to the
# backends, two threads), runs the same `wrk -t2 -c50 -d10s --latency` against each (ROUNDS times,
# alternating), and prints requests/s and p99 latency of both and the Tugboat/HAProxy ratios.
# Everything listens on 127.0.0.1 and is stopped by PID at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-50}
ROUNDS=${ROUNDS:-2}
TUGBOAT_BIN=${TUGBOAT_BIN:-}   # set it to benchmark a given binary as is

for tool in nginx haproxy wrk; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y nginx-light haproxy wrk" >&2; exit 1; }
done
if [ -z "$TUGBOAT_BIN" ]; then
  echo "building tugboat (release)..." >&2
  swift build -c release --product tugboat >&2
  TUGBOAT_BIN=.build/release/tugboat
fi

work=$(mktemp -d /tmp/tugboat-bench.XXXXXX)
chmod 755 "$work"   # nginx workers run as www-data
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() { for _ in $(seq 1 200); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; cat "$work"/*.log >&2; exit 1; }

B1=$(free_port); B2=$(free_port); HP=$(free_port); TP=$(free_port); TA=$(free_port)
printf 'hello from nginx, a small static body for the proxy benchmark.\n' > "$work/index.html"

cat > "$work/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  server { listen 127.0.0.1:$B1; root $work; location / { try_files /index.html =404; } }
  server { listen 127.0.0.1:$B2; root $work; location / { try_files /index.html =404; } }
}
NGINX
nginx -c "$work/nginx.conf" -p "$work" & pids+=($!)
wait_port "$B1"; wait_port "$B2"

cat > "$work/haproxy.cfg" <<HAPROXY
global
  nbthread 2
  maxconn 4096
defaults
  mode http
  timeout connect 2s
  timeout client 75s
  timeout server 60s
  timeout http-request 10s
  timeout http-keep-alive 75s
  option http-keep-alive
  http-reuse always
frontend front
  bind 127.0.0.1:$HP
  default_backend pool
backend pool
  balance roundrobin
  server b1 127.0.0.1:$B1
  server b2 127.0.0.1:$B2
HAPROXY
haproxy -f "$work/haproxy.cfg" -db >"$work/haproxy.log" 2>&1 & pids+=($!)
wait_port "$HP"

cat > "$work/tugboat.yaml" <<TUGBOAT
listen: 127.0.0.1:$TP
admin: { listen: 127.0.0.1:$TA }
pool:
  balance: round-robin
  backends: [127.0.0.1:$B1, 127.0.0.1:$B2]
  health: { path: /, interval: 2s, timeout: 1s, rise: 1, fall: 3 }
  retries: 2
TUGBOAT
TUGBOAT_LOG_LEVEL=warning "$TUGBOAT_BIN" serve --config "$work/tugboat.yaml" 2>"$work/tugboat.log" & pids+=($!)
wait_port "$TP"
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$TP/" >/dev/null && break; sleep 0.05; done

# wrk's output -> "rps p99_ms"
measure() {
  local out p99 unit
  out=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency "http://127.0.0.1:$1/")
  if echo "$out" | grep -q "Non-2xx"; then echo "non-2xx responses from port $1:" >&2; echo "$out" >&2; exit 1; fi
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  unit=$(echo "$p99" | sed 's/[0-9.]*//')
  p99=$(echo "$p99" | sed 's/[a-z]*$//')
  case $unit in us) p99=$(echo "$p99 / 1000" | bc -l);; s) p99=$(echo "$p99 * 1000" | bc -l);; esac
  echo "$(echo "$out" | awk '/Requests\/sec/ {print $2}') $p99"
}

wrk -t2 -c"$CONNECTIONS" -d2s "http://127.0.0.1:$HP/" >/dev/null   # warm-up
wrk -t2 -c"$CONNECTIONS" -d2s "http://127.0.0.1:$TP/" >/dev/null
h_rps=0; h_p99=0; t_rps=0; t_p99=0
for round in $(seq 1 "$ROUNDS"); do
  read -r r p <<<"$(measure "$HP")"; h_rps=$(echo "$h_rps + $r" | bc -l); h_p99=$(echo "$h_p99 + $p" | bc -l)
  printf 'round %d  haproxy  %10.0f req/s  p99 %7.2f ms\n' "$round" "$r" "$p"
  read -r r p <<<"$(measure "$TP")"; t_rps=$(echo "$t_rps + $r" | bc -l); t_p99=$(echo "$t_p99 + $p" | bc -l)
  printf 'round %d  tugboat  %10.0f req/s  p99 %7.2f ms\n' "$round" "$r" "$p"
done
h_rps=$(echo "$h_rps / $ROUNDS" | bc -l); h_p99=$(echo "$h_p99 / $ROUNDS" | bc -l)
t_rps=$(echo "$t_rps / $ROUNDS" | bc -l); t_p99=$(echo "$t_p99 / $ROUNDS" | bc -l)
echo
echo "wrk -t2 -c$CONNECTIONS -d$DURATION, mean of $ROUNDS round(s), $(nproc) cores, nginx backends x2"
printf '%-8s %12s %10s\n' proxy 'req/s' 'p99 ms'
printf '%-8s %12.0f %10.2f\n' haproxy "$h_rps" "$h_p99"
printf '%-8s %12.0f %10.2f\n' tugboat "$t_rps" "$t_p99"
printf 'ratio tugboat/haproxy: requests/s %.2f  p99 %.2f (lower is better)\n' \
  "$(echo "$t_rps / $h_rps" | bc -l)" "$(echo "$t_p99 / $h_p99" | bc -l)"
