#!/usr/bin/env bash
# HTTPS at the front: Tugboat vs HAProxy terminating TLS with the same certificate, same machine,
# same nginx backends, same load.
#
#   bash bench/proxy-tls.sh                     # needs: apt-get install -y nginx-light haproxy wrk openssl nghttp2-client
#   DURATION=5s ROUNDS=1 bash bench/proxy-tls.sh
#   CASES=h2 bash bench/proxy-tls.sh            # some of: keepalive handshake h2
#   TUGBOAT_BIN=.build/release/tugboat bash bench/proxy-tls.sh
#
# A throwaway CA and an ECDSA P-256 leaf for 127.0.0.1 are made with openssl; HAProxy gets the
# leaf and key in one PEM (`crt`), Tugboat the two files (`tls.certificates`). Both offer ALPN
# h2 and http/1.1, and keep-alive to the backends (HTTP/1.1). HAProxy runs with `nbthread 1` and `nbthread 2`; per case,
# the better of the two in each figure is the peer ("haproxy-best" for req/s).
# Cases:
#   keepalive   GET /small (15 bytes) over kept-alive TLS connections: wrk -t2 -c$CONNECTIONS
#   handshake   the same with `Connection: close`: a new TLS connection per request (wrk reconnects;
#               whether it resumes sessions is the same for both proxies)
#   h2          GET /small over HTTP/2: h2load -c$CONNECTIONS -m$STREAMS (streams per connection),
#               for DURATION; its p99 is read from h2load's per-request log (`--log-file`: each
#               request's microseconds until the end of its response), 2xx rows only
# Output: req/s and p99 (means of ROUNDS), Tugboat's req/s ratio against haproxy-best (the setting
# with more req/s) and its p99 ratio against the setting with the lower p99 (not always the same);
# both ratios also round by round (each round's Tugboat against the same round's run of that
# setting, lowest-highest). Rounds alternate between the proxies.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-50}
STREAMS=${STREAMS:-10}
CASES=${CASES:-keepalive handshake h2}
TUGBOAT_BIN=${TUGBOAT_BIN:-}
source bench/lib.sh
INSTALL_HINT="apt-get install -y nginx-light haproxy wrk nghttp2-client openssl python3" require_tools nginx haproxy wrk h2load openssl python3
tugboat_binary
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

work=$(mktemp -d /tmp/tugboat-bench-tls.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 1 200); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; tail -n 20 "$work"/*.log >&2; exit 1; }

B1=$(free_port); B2=$(free_port); H1=$(free_port); H2=$(free_port); TP=$(free_port); TA=$(free_port)

# --- certificates ----------------------------------------------------------------------------------
make_bench_certificates "$work"

# --- backends ----------------------------------------------------------------------------------------
mkdir -p "$work/www"; printf 'hello, tugboat\n' > "$work/www/small"; chmod -R a+rX "$work/www"
cat > "$work/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$B1 reuseport backlog=4096; root $work/www; default_type text/plain; }
  server { listen 127.0.0.1:$B2 reuseport backlog=4096; root $work/www; default_type text/plain; }
}
NGINX
nginx -c "$work/nginx.conf" -p "$work" -e "$work/nginx-error.log" & pids+=($!)
wait_port "$B1"; wait_port "$B2"

# --- HAProxy -------------------------------------------------------------------------------------------
for threads in 1 2; do
  port=$([ "$threads" = 1 ] && echo "$H1" || echo "$H2")
  cat > "$work/haproxy-nbt$threads.cfg" <<HAPROXY
global
  nbthread $threads
  maxconn 4096
  ssl-default-bind-options ssl-min-ver TLSv1.2
defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 2s
  timeout client 75s
  timeout server 60s
frontend front
  bind 127.0.0.1:$port ssl crt $work/haproxy.pem alpn h2,http/1.1
  default_backend pool
backend pool
  balance roundrobin
  server b1 127.0.0.1:$B1
  server b2 127.0.0.1:$B2
HAPROXY
  haproxy -f "$work/haproxy-nbt$threads.cfg" -db >"$work/haproxy-nbt$threads.log" 2>&1 & pids+=($!)
  wait_port "$port"
done

# --- Tugboat -------------------------------------------------------------------------------------------
cat > "$work/tugboat.yaml" <<TUGBOAT
listen: 127.0.0.1:$TP
admin: { listen: 127.0.0.1:$TA }
threads: ${TUGBOAT_THREADS:-auto}
tls:
  certificates:
    - { cert: $work/site.pem, key: $work/site.key }
pool:
  balance: round-robin
  backends: [127.0.0.1:$B1, 127.0.0.1:$B2]
  health: { path: /small, interval: 2s, timeout: 1s, rise: 1, fall: 3 }
TUGBOAT
TUGBOAT_LOG_LEVEL=warning "$TUGBOAT_BIN" serve --config "$work/tugboat.yaml" 2>"$work/tugboat.log" & pids+=($!)
wait_port "$TP"
for _ in $(seq 1 200); do
  curl -s "http://127.0.0.1:$TA/api/pool" | grep -q '"healthy".*"healthy"' && break; sleep 0.1
done
for port in "$H1" "$H2" "$TP"; do
  curl -sf --cacert "$work/ca.pem" "https://127.0.0.1:$port/small" | grep -q hello || { echo "no answer over TLS on $port" >&2; exit 1; }
  [ "$(curl -s --http2 -o /dev/null -w '%{http_version}' --cacert "$work/ca.pem" "https://127.0.0.1:$port/small")" = 2 ] \
    || { echo "no HTTP/2 on $port" >&2; exit 1; }
done

# --- measuring -----------------------------------------------------------------------------------------
run() { # port extra-header → "rps p99ms"
  local out
  out=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency ${2:+-H "$2"} "https://127.0.0.1:$1/small" 2>&1)
  if echo "$out" | grep -q "Non-2xx\|Socket errors"; then echo "$out" >&2; echo "errors in the run above" >&2; exit 1; fi
  local rps p99
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub("us","",v); v/=1000} else if (v ~ /ms$/) {sub("ms","",v)} else if (v ~ /s$/) {sub("s","",v); v*=1000}; print v}')
  echo "$rps $p99"
}
run_h2() { # port → "rps p99ms"
  local out
  rm -f "$work/h2load.log"  # h2load appends to its log
  out=$(h2load -c"$CONNECTIONS" -m"$STREAMS" -D"${DURATION%s}" --log-file="$work/h2load.log" "https://127.0.0.1:$1/small" 2>&1)
  # Requests still in flight when the duration ends may count as failed: tolerate up to 1 %.
  if ! echo "$out" | awk '/^requests:/ {ok = ($8 > 0 && ($10 + $12) * 100 <= $2)} END {exit !ok}'; then
    echo "$out" >&2; echo "failed requests in the h2 run above" >&2; exit 1
  fi
  echo "$out" | awk -v port="$1" '/^requests:/ && $10 + $12 > 0 {print "h2 on " port ": " $10 " failed, " $12 " errored of " $2 > "/dev/stderr"}'
  local rps p99
  rps=$(echo "$out" | awk '/^finished in/ {print $4}')
  p99=$(awk -F'\t' '$2 >= 200 && $2 < 300 {print $3}' "$work/h2load.log" | sort -n \
    | awk '{v[NR] = $1} END {if (NR == 0) exit 1; i = int(NR * 0.99); if (i < 1) i = 1; printf "%.3f", v[i] / 1000}') \
    || { echo "h2 on $1: no 2xx response in h2load's log" >&2; exit 1; }
  echo "$rps $p99"
}
mean() { awk '{s+=$1; p+=$2; n++} END {printf "%.0f %.2f\n", s/n, p/n}'; }
echo "| case | haproxy nbt1 req/s (p99 ms) | haproxy nbt2 | tugboat | tugboat / haproxy-best req/s | the same, round by round | p99 ratio against HAProxy's lower p99 (round by round) |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for case in $CASES; do
  header=""; [ "$case" = handshake ] && header="Connection: close"
  measure=run; [ "$case" = h2 ] && measure=run_h2
  : > "$work/h1"; : > "$work/h2"; : > "$work/t"
  for _ in $(seq 1 "$ROUNDS"); do
    $measure "$H1" "$header" >> "$work/h1"; $measure "$H2" "$header" >> "$work/h2"; $measure "$TP" "$header" >> "$work/t"
  done
  read -r h1 p1 < <(mean < "$work/h1"); read -r h2 p2 < <(mean < "$work/h2"); read -r t pt < <(mean < "$work/t")
  if [ "$h1" -ge "$h2" ]; then best=$h1; rounds="$work/h1"; else best=$h2; rounds="$work/h2"; fi
  # p99 against the setting with the lower mean p99, which need not be the one with more req/s
  if awk "BEGIN {exit !($p1 <= $p2)}"; then bp=$p1; bpn=nbt1; p99rounds="$work/h1"; else bp=$p2; bpn=nbt2; p99rounds="$work/h2"; fi
  span=$(round_ratio_span "$(cut -d' ' -f1 "$work/t")" "$(cut -d' ' -f1 "$rounds")")
  p99span=$(round_ratio_span "$(cut -d' ' -f2 "$work/t")" "$(cut -d' ' -f2 "$p99rounds")")
  printf "| %s | %s (%s) | %s (%s) | %s (%s) | %.2f | %s | %.2f (%s; against %s) |\n" "$case" "$h1" "$p1" "$h2" "$p2" "$t" "$pt" \
    "$(awk "BEGIN {print $t/$best}")" "$span" "$(awk "BEGIN {print $pt/$bp}")" "$p99span" "$bpn"
done
