#!/usr/bin/env bash
# Tugboat vs HAProxy vs nginx direct: same machine, same backends, same load, several request shapes.
#
#   bash bench/proxy.sh                          # needs: apt-get install -y nginx-light haproxy wrk
#   CASES="small c1" DURATION=3s ROUNDS=1 bash bench/proxy.sh
#   TUGBOAT_BIN=.build/release/tugboat bash bench/proxy.sh   # benchmark a given binary as is
#
# What runs: nginx (NGINX_WORKERS worker processes, default 1) serves fixed bodies on two loopback
# ports: /small (15 bytes), /4k (4 KiB), /1m (1 MiB) and /post (reads the whole 16 KiB POST body
# with the echo module nginx-light ships, then answers "ok"); checked with curl before measuring.
# In front of them, round robin with keep-alive to the backends:
#   - haproxy-nbt1: HAProxy 2.6, `nbthread 1`, http-keep-alive, http-reuse always, and
#                   `option splice-response` (kernel splicing of response bodies: /1m ~1.4-1.8x here)
#   - haproxy-nbt2: the same with `nbthread 2`
#   - tugboat:      `threads: ${TUGBOAT_THREADS:-auto}` (written only when the binary accepts the key;
#                   `auto` gathers connections on as few loops as keep up, TUGBOAT_THREADS=2 keeps
#                   them on both loops as dealt, the setting before that)
#   - tugboat-log:  with ACCESS_LOG=1 only: a second Tugboat, the same but with
#                   `access-log: { path: <work dir>/access.log, format: ${ACCESS_LOG_FORMAT:-combined} }`,
#                   measured in the same rounds; each case then prints tugboat-log/tugboat (the
#                   access log's cost) and the summary gains those columns
#   - nginx-direct: wrk straight at the first nginx port, once per case: the ceiling
# HAProxy runs with both thread settings because on a 2-core box shared with wrk and nginx either can
# win: one thread avoids cross-thread contention and leaves a core to the others, two threads use
# both cores. "haproxy-best" is, per case, the setting with the higher mean req/s; latency is compared
# with the setting whose mean p99 (p50) is lower, which need not be the same one, so Tugboat is
# always measured against HAProxy's best showing here in each figure.
#
# Cases (CASES="small browser post16k download1m c1" by default, in that order):
#   small       GET /small, wrk -t2 -c$CONNECTIONS
#   browser     GET /4k with 12 realistic browser request headers (~800 bytes), -t2 -c$CONNECTIONS
#   post16k     POST /post with a 16 KiB body, -t2 -c$CONNECTIONS
#   download1m  GET /1m, -t2 -c$CONNECTIONS (req/s and MiB/s)
#   c1          GET /small, wrk -t1 -c1: latency of a lone client (p50, p99)
# Each case: a short warm-up of each proxy, nginx-direct once, then ROUNDS rounds of haproxy-nbt1,
# haproxy-nbt2, tugboat (DURATION each, `wrk --latency`). Any run with non-2xx responses or read/write/
# timeout socket errors fails the script (exit 1) and prints wrk's output.
# Output: a table per case with ratio lines (the req/s ratio also round by round: each round's Tugboat
# against the same round's haproxy-best, lowest-highest), then a Markdown summary to paste into the README.
# Knobs: DURATION (10s), ROUNDS (3), CONNECTIONS (50), WARMUP (2s), WRK_TIMEOUT (2s, wrk's default),
# NGINX_WORKERS (1), TUGBOAT_THREADS (auto), CASES, TUGBOAT_BIN, HAPROXY_EXTRA (HAProxy defaults-
# section lines, "option splice-response" unless set: HAPROXY_EXTRA= turns splicing off),
# ACCESS_LOG (1: add tugboat-log), ACCESS_LOG_FORMAT (combined or json).
#   CASES="small" ROUNDS=2 DURATION=5s ACCESS_LOG=1 bash bench/proxy.sh   # the access log's cost
# Everything listens on 127.0.0.1 and is stopped by PID at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-50}
WARMUP=${WARMUP:-2s}
WRK_TIMEOUT=${WRK_TIMEOUT:-2s}
NGINX_WORKERS=${NGINX_WORKERS:-1}
CASES=${CASES:-small browser post16k download1m c1}
TUGBOAT_BIN=${TUGBOAT_BIN:-}   # set it to benchmark a given binary as is
HAPROXY_EXTRA=${HAPROXY_EXTRA-option splice-response}
ACCESS_LOG=${ACCESS_LOG:-}
ACCESS_LOG_FORMAT=${ACCESS_LOG_FORMAT:-combined}

for c in $CASES; do
  case $c in small|browser|post16k|download1m|c1) ;; *) echo "unknown case '$c' (small browser post16k download1m c1)" >&2; exit 1;; esac
done
source bench/lib.sh
INSTALL_HINT="apt-get install -y nginx-light haproxy wrk curl python3" require_tools nginx haproxy wrk curl python3
tugboat_binary
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

work=$(mktemp -d /tmp/tugboat-bench.XXXXXX)
chmod 755 "$work"   # nginx workers run as www-data
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() { for _ in $(seq 1 200); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; for f in "$work"/*.log; do [ -s "$f" ] && { echo "--- $f:"; tail -n 20 "$f"; }; done >&2; exit 1; }
calc() { awk "BEGIN { printf \"%.6f\", $* }"; }

B1=$(free_port); B2=$(free_port); H1=$(free_port); H2=$(free_port); TP=$(free_port); TA=$(free_port)
LP=$(free_port); LA=$(free_port)   # tugboat-log (ACCESS_LOG=1)

# --- backends: nginx, two server blocks with the same content ------------------------------------
mkdir -p "$work/www"
printf 'hello, tugboat\n' > "$work/www/small"                       # 15 bytes
head -c 4096 /dev/zero | tr '\0' 'a' > "$work/www/4k"
head -c 1048576 /dev/zero | tr '\0' 'b' > "$work/www/1m"
head -c 16384 /dev/zero | tr '\0' 'p' > "$work/post16k.body"
chmod -R a+rX "$work/www"

# /post must read the whole 16 KiB body before it answers, as an application would. nginx-light
# ships the echo module (a dependency of the Debian package): `echo_read_request_body` reads the body
# into memory, then `@ok` answers "ok" with a Content-Length. Without the module, `return` makes
# nginx read and discard the body, possibly after answering (the checks below then only test keep-alive).
# Requests carrying `X-Bench-Check` are logged with their length, so the checks can prove nginx got
# all 16 KiB, directly and through each proxy; benchmark requests are not logged.
echo_module=/usr/lib/nginx/modules/ngx_http_echo_module.so
if [ -f "$echo_module" ]; then
  load_echo="load_module $echo_module;"
  post_body='echo_read_request_body; echo_exec @ok;'; post_note="body read by echo_read_request_body"
else
  load_echo=""
  post_body='return 200 "ok\n";'; post_note="no echo module: body read and discarded by return"
fi
server_block() {
  cat <<BLOCK
  server {
    listen 127.0.0.1:$1 reuseport backlog=4096;
    root $work/www;
    default_type text/plain;
    location / { }
    location = /post {
      client_body_buffer_size 64k;
      client_max_body_size 1m;
      access_log $work/post-check.log postlen if=\$bench_check;
      $post_body
    }
    location @ok {
      access_log $work/post-check.log postlen if=\$bench_check;
      return 200 "ok\n";
    }
  }
BLOCK
}
cat > "$work/nginx.conf" <<NGINX
$load_echo
worker_processes $NGINX_WORKERS;
worker_rlimit_nofile 16384;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 8192; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  open_file_cache max=16;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  map \$http_x_bench_check \$bench_check { "" 0; default 1; }
  log_format postlen '\$request_length \$status';
$(server_block "$B1")
$(server_block "$B2")
}
NGINX
nginx -c "$work/nginx.conf" -p "$work" -e "$work/nginx-error.log" & pids+=($!)
wait_port "$B1"; wait_port "$B2"

# --- HAProxy, one process per thread setting -------------------------------------------------------
start_haproxy() { # threads port
  cat > "$work/haproxy-nbt$1.cfg" <<HAPROXY
global
  nbthread $1
  maxconn 4096
defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 2s
  timeout client 75s
  timeout server 60s
  timeout http-request 10s
  timeout http-keep-alive 75s
  $HAPROXY_EXTRA
frontend front
  bind 127.0.0.1:$2
  default_backend pool
backend pool
  balance roundrobin
  server b1 127.0.0.1:$B1
  server b2 127.0.0.1:$B2
HAPROXY
  haproxy -f "$work/haproxy-nbt$1.cfg" -db >"$work/haproxy-nbt$1.log" 2>&1 & pids+=($!)
  wait_port "$2"
}
start_haproxy 1 "$H1"
start_haproxy 2 "$H2"

# --- Tugboat ---------------------------------------------------------------------------------------
tugboat_config() { # [threads line] [port] [admin port] [extra line]
  cat <<TUGBOAT
listen: 127.0.0.1:${2:-$TP}
admin: { listen: 127.0.0.1:${3:-$TA} }
${1:-}
${4:-}
pool:
  balance: round-robin
  backends: [127.0.0.1:$B1, 127.0.0.1:$B2]
  health: { path: /small, interval: 2s, timeout: 1s, rise: 1, fall: 3 }
  retries: 2
TUGBOAT
}
# `threads:` is a newer key and older binaries reject unknown keys: written when TUGBOAT_THREADS is
# set (then a binary that rejects it fails loudly), else only when `tugboat check` accepts it.
if [ -n "${TUGBOAT_THREADS:-}" ]; then
  threads_line="threads: $TUGBOAT_THREADS"; threads_note="threads: $TUGBOAT_THREADS (TUGBOAT_THREADS)"
else
  tugboat_config "threads: auto" > "$work/tugboat-probe.yaml"
  if "$TUGBOAT_BIN" check --config "$work/tugboat-probe.yaml" >/dev/null 2>&1; then
    threads_line="threads: auto"; threads_note="threads: auto"
  else
    threads_line=""; threads_note="no threads key (this binary does not accept it): its default"
  fi
fi
tugboat_config "$threads_line" > "$work/tugboat.yaml"
TUGBOAT_LOG_LEVEL=warning "$TUGBOAT_BIN" serve --config "$work/tugboat.yaml" 2>"$work/tugboat.log" & pids+=($!)
tugboat_pid=$!
wait_port "$TP"
# Health checks pass within a few seconds; give up after about 20 s.
deadline=$((SECONDS + 20)); until curl -sf --max-time 1 -o /dev/null "http://127.0.0.1:$TP/small" || [ $SECONDS -ge $deadline ]; do sleep 0.2; done
kill -0 "$tugboat_pid" 2>/dev/null || { echo "tugboat exited:" >&2; cat "$work/tugboat.log" >&2; exit 1; }
curl -sf --max-time 5 -o /dev/null "http://127.0.0.1:$TP/small" \
  || { echo "tugboat does not answer GET /small (tried for 20 s); its log:" >&2; tail -n 30 "$work/tugboat.log" >&2; exit 1; }

declare -A PORT=([nginx-direct]=$B1 [haproxy-nbt1]=$H1 [haproxy-nbt2]=$H2 [tugboat]=$TP [tugboat-log]=$LP)
PROXIES=(haproxy-nbt1 haproxy-nbt2 tugboat)

# --- ACCESS_LOG=1: the same Tugboat with the access log on, writing to a file in the work dir -----
if [ -n "$ACCESS_LOG" ]; then
  tugboat_config "$threads_line" "$LP" "$LA" "access-log: { path: $work/access.log, format: $ACCESS_LOG_FORMAT }" > "$work/tugboat-log.yaml"
  TUGBOAT_LOG_LEVEL=warning "$TUGBOAT_BIN" serve --config "$work/tugboat-log.yaml" 2>"$work/tugboat-log.log" & pids+=($!)
  wait_port "$LP"
  deadline=$((SECONDS + 20)); until curl -sf --max-time 1 -o /dev/null "http://127.0.0.1:$LP/small" || [ $SECONDS -ge $deadline ]; do sleep 0.2; done
  curl -sf --max-time 5 -o /dev/null "http://127.0.0.1:$LP/small" \
    || { echo "tugboat-log does not answer GET /small; its log:" >&2; tail -n 30 "$work/tugboat-log.log" >&2; exit 1; }
  PROXIES+=(tugboat-log)
fi

# --- sanity: every target serves every body, and nginx reads the whole POST body -------------------
for target in nginx-direct "${PROXIES[@]}"; do
  url="http://127.0.0.1:${PORT[$target]}"
  for spec in small:15 4k:4096 1m:1048576; do
    got=$(curl -s --max-time 10 -o /dev/null -w '%{http_code} %{size_download}' "$url/${spec%%:*}")
    [ "$got" = "200 ${spec#*:}" ] || { echo "$target: GET /${spec%%:*} gave '$got', expected '200 ${spec#*:}'" >&2; exit 1; }
  done
  : > "$work/post-check.log"
  # Two POSTs on one client connection: both 200, the second reuses the connection (num_connects 0).
  got=$(curl -s --max-time 10 -o /dev/null -o /dev/null -H 'X-Bench-Check: 1' -H 'Content-Type: application/octet-stream' \
        --data-binary @"$work/post16k.body" -w '%{http_code}/%{num_connects} ' "$url/post" "$url/post")
  [ "$got" = "200/1 200/0 " ] || { echo "$target: two POST /post on one connection gave '$got'" >&2; exit 1; }
  sleep 0.2
  lens=$(awk '$2 == 200 && $1 > 16384 { n++ } END { print n + 0 }' "$work/post-check.log")
  [ -z "$load_echo" ] || [ "$lens" = 2 ] || { echo "$target: nginx did not log 2 POSTs of more than 16 KiB:" >&2; cat "$work/post-check.log" >&2; exit 1; }
done

# --- wrk scripts -----------------------------------------------------------------------------------
write_browser_lua "$work/browser.lua"
cat > "$work/post16k.lua" <<'LUA'
-- POST of a 16 KiB body.
wrk.method = "POST"
wrk.body = string.rep("p", 16384)
wrk.headers["Content-Type"] = "application/octet-stream"
LUA
browser_bytes=$(awk -F' = ' '/^wrk.headers/ { k = $1; sub(/^wrk.headers\["/, "", k); sub(/"\]$/, "", k); v = $2; sub(/^["\047]/, "", v); sub(/["\047]$/, "", v); n += length(k) + 2 + length(v) + 2; c++ } END { print c " headers, " n " bytes" }' "$work/browser.lua")

case_path() { case $1 in small|c1) echo /small;; browser) echo /4k;; post16k) echo /post;; download1m) echo /1m;; esac; }
case_args() { # wrk options of a case, before the URL
  case $1 in
    c1) echo "-t1 -c1";;
    browser) echo "-t2 -c$CONNECTIONS -s $work/browser.lua";;
    post16k) echo "-t2 -c$CONNECTIONS -s $work/post16k.lua";;
    *) echo "-t2 -c$CONNECTIONS";;
  esac
}
case_label() { case_args "$1" | sed "s| -s $work/| -s |"; }

to_ms() { # wrk's 1.23ms / 456.00us / 1.02s / 1.50m -> milliseconds
  awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : (u == "h") ? 3600000 : 1
    printf "%.3f", n * f }'
}
to_mib() { # wrk's Transfer/sec 12.34MB (binary units) -> MiB
  awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    f = (u == "B") ? 1/1048576 : (u == "KB") ? 1/1024 : (u == "MB") ? 1 : (u == "GB") ? 1024 : (u == "TB") ? 1048576 : 0
    printf "%.3f", n * f }'
}

# Runs wrk; sets RPS, P50, P99 (ms), MIBS. Fails the script on non-2xx or read/write/timeout errors.
measure() { # case target duration
  local out="$work/wrk.out" errs
  # shellcheck disable=SC2046
  if ! wrk $(case_args "$1") -d"$3" --timeout "$WRK_TIMEOUT" --latency "http://127.0.0.1:${PORT[$2]}$(case_path "$1")" >"$out" 2>&1; then
    echo "wrk failed against $2 ($1):" >&2; cat "$out" >&2; exit 1
  fi
  if grep -q 'Non-2xx' "$out"; then echo "non-2xx responses from $2 ($1):" >&2; cat "$out" >&2; exit 1; fi
  errs=$(awk '/Socket errors:/ { gsub(/,/, ""); print $6 + $8 + $10 }' "$out")
  if [ "${errs:-0}" -gt 0 ]; then echo "socket errors (read/write/timeout) from $2 ($1):" >&2; cat "$out" >&2; exit 1; fi
  if grep -q 'Socket errors: connect [1-9]' "$out"; then echo "warning: connect errors from $2 ($1): $(grep 'Socket errors' "$out")" >&2; fi
  RPS=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
  MIBS=$(to_mib "$(awk '/^Transfer\/sec:/ { print $2 }' "$out")")
  P50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")
  P99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
  [ -n "$RPS" ] && [ "$P99" != "0.000" ] || { echo "could not read wrk's output ($2, $1):" >&2; cat "$out" >&2; exit 1; }
}

# --- header ----------------------------------------------------------------------------------------
echo "machine: $(nproc) cores, Linux $(uname -r)"
echo "haproxy: $(haproxy -v | head -n 1)${HAPROXY_EXTRA:+ + $HAPROXY_EXTRA}"
echo "nginx:   $(nginx -v 2>&1 | sed 's/^nginx version: //') ($NGINX_WORKERS worker(s), 2 backends)"
echo "wrk:     $( (wrk -v 2>&1 || true) | head -n 1)"
echo "tugboat: $TUGBOAT_BIN ($threads_note), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$( [ -n "$(git --no-optional-locks status --porcelain -- Sources 2>/dev/null)" ] && echo ' + uncommitted changes')"
echo "post:    $post_note"
echo "runs:    DURATION=$DURATION ROUNDS=$ROUNDS, browser request: $browser_bytes"
[ -n "$ACCESS_LOG" ] && echo "log:     tugboat-log writes access-log format $ACCESS_LOG_FORMAT to $work/access.log"
echo

summary=()
log_summary=()
for c in $CASES; do
  echo "== $c: wrk $(case_label "$c") -d$DURATION $(case_path "$c")"
  for target in "${PROXIES[@]}"; do measure "$c" "$target" "$WARMUP"; done   # warm-up, not counted
  declare -A sum_rps=() sum_p50=() sum_p99=() sum_mib=() round_rps=()
  measure "$c" nginx-direct "$DURATION"
  sum_rps[nginx-direct]=$RPS; sum_p50[nginx-direct]=$P50; sum_p99[nginx-direct]=$P99; sum_mib[nginx-direct]=$MIBS
  printf '  %-7s %-13s %9.0f req/s  p50 %8.3f ms  p99 %8.3f ms  %8.1f MiB/s\n' once nginx-direct "$RPS" "$P50" "$P99" "$MIBS"
  for round in $(seq 1 "$ROUNDS"); do
    for target in "${PROXIES[@]}"; do
      measure "$c" "$target" "$DURATION"
      sum_rps[$target]=$(calc "${sum_rps[$target]:-0} + $RPS / $ROUNDS")
      sum_p50[$target]=$(calc "${sum_p50[$target]:-0} + $P50 / $ROUNDS")
      sum_p99[$target]=$(calc "${sum_p99[$target]:-0} + $P99 / $ROUNDS")
      sum_mib[$target]=$(calc "${sum_mib[$target]:-0} + $MIBS / $ROUNDS")
      round_rps[$target]="${round_rps[$target]:-} $RPS"
      printf '  round %-2d%-13s %9.0f req/s  p50 %8.3f ms  p99 %8.3f ms  %8.1f MiB/s\n' "$round" "$target" "$RPS" "$P50" "$P99" "$MIBS"
    done
  done
  best=haproxy-nbt1
  if awk "BEGIN { exit !(${sum_rps[haproxy-nbt2]} > ${sum_rps[haproxy-nbt1]}) }"; then best=haproxy-nbt2; fi
  best_p99=haproxy-nbt1   # latency against HAProxy's lower p99 (p50), whichever setting gave it
  if awk "BEGIN { exit !(${sum_p99[haproxy-nbt2]} < ${sum_p99[haproxy-nbt1]}) }"; then best_p99=haproxy-nbt2; fi
  best_p50=haproxy-nbt1
  if awk "BEGIN { exit !(${sum_p50[haproxy-nbt2]} < ${sum_p50[haproxy-nbt1]}) }"; then best_p50=haproxy-nbt2; fi
  echo
  echo "  $c: mean of $ROUNDS round(s) (nginx-direct: 1 run)"
  printf '  %-13s %11s %11s %11s %11s\n' target 'req/s' 'p50 ms' 'p99 ms' 'MiB/s'
  for target in nginx-direct "${PROXIES[@]}"; do
    mark=""; [ "$target" = "$best" ] && mark="  <- haproxy-best"
    printf '  %-13s %11.0f %11.3f %11.3f %11.1f%s\n' "$target" "${sum_rps[$target]}" "${sum_p50[$target]}" "${sum_p99[$target]}" "${sum_mib[$target]}" "$mark"
  done
  r_rps=$(calc "${sum_rps[tugboat]} / ${sum_rps[$best]}")
  r_p99=$(calc "${sum_p99[tugboat]} / ${sum_p99[$best_p99]}")
  r_p50=$(calc "${sum_p50[tugboat]} / ${sum_p50[$best_p50]}")
  r_ngx=$(calc "${sum_rps[tugboat]} / ${sum_rps[nginx-direct]}")
  r_span=$(round_ratio_span "${round_rps[tugboat]}" "${round_rps[$best]}")
  if [ "$c" = c1 ]; then
    printf '  tugboat/haproxy-best: req/s %.2f (rounds %s; against %s)  p50 %.2f (against %s)  p99 %.2f (against %s; latency: lower is better)\n' "$r_rps" "$r_span" "${best#haproxy-}" "$r_p50" "${best_p50#haproxy-}" "$r_p99" "${best_p99#haproxy-}"
  else
    printf '  tugboat/haproxy-best: req/s %.2f (rounds %s; against %s)  p99 %.2f (against %s; lower is better)\n' "$r_rps" "$r_span" "${best#haproxy-}" "$r_p99" "${best_p99#haproxy-}"
  fi
  printf '  tugboat/nginx-direct: req/s %.2f\n' "$r_ngx"
  if [ -n "$ACCESS_LOG" ]; then
    l_rps=$(calc "${sum_rps[tugboat-log]} / ${sum_rps[tugboat]}")
    l_p50=$(calc "${sum_p50[tugboat-log]} / ${sum_p50[tugboat]}")
    l_p99=$(calc "${sum_p99[tugboat-log]} / ${sum_p99[tugboat]}")
    printf '  tugboat-log/tugboat (access log on/off): req/s %.2f  p50 %.2f  p99 %.2f\n' "$l_rps" "$l_p50" "$l_p99"
    log_summary+=("$(printf '| %s | `wrk %s` | %.0f | %.0f | %.2f | %.2f |' "$c" "$(case_label "$c")" "${sum_rps[tugboat]}" "${sum_rps[tugboat-log]}" "$l_rps" "$l_p99")")
  fi
  echo
  summary+=("$(printf '| %s | `wrk %s` | %.0f | %.0f (%s) | %.2f | %s | %.2f (%s) | %.2f |' \
    "$c" "$(case_label "$c")" "${sum_rps[tugboat]}" "${sum_rps[$best]}" "${best#haproxy-}" "$r_rps" "$r_span" "$r_p99" "${best_p99#haproxy-}" "$r_ngx")")
  unset sum_rps sum_p50 sum_p99 sum_mib round_rps
done

echo "summary: $(nproc) cores, Linux $(uname -r), $(haproxy -v | head -n 1 | awk '{print "HAProxy " $3}')${HAPROXY_EXTRA:+ ($HAPROXY_EXTRA)}, nginx $(nginx -v 2>&1 | sed 's/.*nginx\///') x2 backends, wrk -d$DURATION x $ROUNDS round(s)"
echo
echo '| case | load | tugboat req/s | haproxy-best req/s | tugboat/haproxy-best req/s | the same, round by round | tugboat/haproxy p99 (against its lower p99) | tugboat/nginx-direct req/s |'
echo '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |'
printf '%s\n' "${summary[@]}"
if [ -n "$ACCESS_LOG" ]; then
  echo
  echo "access log ($ACCESS_LOG_FORMAT, to a file): $(wc -l < "$work/access.log") lines written"
  echo
  echo '| case | load | tugboat req/s (log off) | tugboat-log req/s (log on) | on/off req/s | on/off p99 |'
  echo '| --- | --- | ---: | ---: | ---: | ---: |'
  printf '%s\n' "${log_summary[@]}"
fi
