#!/usr/bin/env bash
# Memory per idle keep-alive client connection: Tugboat vs HAProxy.
#
#   bash bench/proxy-memory.sh                   # needs: apt-get install -y nginx-light haproxy python3
#   CONNS=2000 TUGBOAT_BIN=.build/debug/tugboat bash bench/proxy-memory.sh
#
# nginx serves /small (15 bytes) on two loopback ports; HAProxy 2.6 (nbthread HAPROXY_THREADS,
# default 1) and then Tugboat (`threads: ${TUGBOAT_THREADS:-auto}`, when the binary accepts the key)
# proxy to both, round robin, keep-alive, idle timeouts of IDLE_TIMEOUT (300s). For each proxy in turn:
#   1. start it, send a few requests, read its resident memory (VmRSS of the process and any children,
#      from /proc/PID/status): "before";
#   2. a Python asyncio client (generated into the work dir) opens CONNS (10000) connections, sends
#      one complete `GET /small` on each, reads the response, and keeps every connection open, idle;
#   3. after SETTLE (3s) with all of them idle, VmRSS again ("after"), and `ss` counts the proxy's
#      established client connections (must be CONNS) and its connections to nginx;
#   4. the client checks that no connection was closed meanwhile, closes them, the proxy is stopped.
# Reported: (after - before) / CONNS in KiB per connection for each proxy, and tugboat/haproxy.
# Kernel socket buffers are not in VmRSS: this is the proxy's own (user-space) memory per connection.
#
# Limits: the client raises its RLIMIT_NOFILE to the hard limit, the script raises `ulimit -n` to the
# hard limit for the proxies. HAProxy is given `maxconn 20000`; it wants 2 fds per connection
# (40014) and by default refuses to start below that, so `no strict-limits` lets it run with what the
# hard limit allows (20000 here holds 10000 idle clients plus backend connections). Tugboat gets
# `max-connections: 20000` when the binary accepts the key. If CONNS connections cannot be opened
# (fd limit, ephemeral port range, refused or reset connections) the script says why and fails.
# HAProxy runs with one thread by default: idle connections cost it the same with `nbthread 2`
# (1.20 KiB per connection with either, measured here), HAPROXY_THREADS=2 to check.
# Knobs: CONNS (10000), HAPROXY_THREADS (1), TUGBOAT_THREADS (auto), IDLE_TIMEOUT (300s), SETTLE (3,
# seconds), OPEN_TIMEOUT (120, seconds to open all connections), NGINX_WORKERS (1), TUGBOAT_BIN,
# TUGBOAT_WRAPPER (a command Tugboat runs under, e.g. `heaptrack`; it writes its file in the repo root).
# Everything listens on 127.0.0.1 and is stopped by PID; the client gives up after OPEN_TIMEOUT and
# HOLD_MAX (300) seconds at most.
set -euo pipefail
cd "$(dirname "$0")/.."

CONNS=${CONNS:-10000}
HAPROXY_THREADS=${HAPROXY_THREADS:-1}
IDLE_TIMEOUT=${IDLE_TIMEOUT:-300s}
SETTLE=${SETTLE:-3}
OPEN_TIMEOUT=${OPEN_TIMEOUT:-120}
NGINX_WORKERS=${NGINX_WORKERS:-1}
TUGBOAT_BIN=${TUGBOAT_BIN:-}   # set it to measure a given binary as is
TUGBOAT_WRAPPER=${TUGBOAT_WRAPPER:-}   # e.g. heaptrack: where the bytes go (its RSS figures then include the tool)

source bench/lib.sh
INSTALL_HINT="apt-get install -y nginx-light haproxy curl python3 iproute2" require_tools nginx haproxy curl python3 ss
tugboat_binary
ulimit -n "$(ulimit -Hn)"   # as high as allowed: inherited by nginx, the proxies and the client

work=$(mktemp -d /tmp/tugboat-memory.XXXXXX)
chmod 755 "$work"   # nginx workers run as www-data
pids=()
client_pid=""
cleanup() {
  for pid in $client_pid "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() { for _ in $(seq 1 200); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; for f in "$work"/*.log; do [ -s "$f" ] && { echo "--- $f:"; tail -n 20 "$f"; }; done >&2; exit 1; }
# VmRSS in KiB of a process and its children (HAProxy with -db and Tugboat here do not fork).
rss_kib() {
  local total=0 p v
  for p in "$1" $(pgrep -P "$1" || true); do
    v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || true)
    total=$((total + ${v:-0}))
  done
  echo "$total"
}
established() { ss -Htn state established "( $1 )" | wc -l; }

B1=$(free_port); B2=$(free_port); HP=$(free_port); TP=$(free_port); TA=$(free_port)

# --- backends --------------------------------------------------------------------------------------
mkdir -p "$work/www"
printf 'hello, tugboat\n' > "$work/www/small"   # 15 bytes
chmod -R a+rX "$work/www"
cat > "$work/nginx.conf" <<NGINX
worker_processes $NGINX_WORKERS;
worker_rlimit_nofile 16384;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  server { listen 127.0.0.1:$B1; root $work/www; default_type text/plain; }
  server { listen 127.0.0.1:$B2; root $work/www; default_type text/plain; }
}
NGINX
nginx -c "$work/nginx.conf" -p "$work" -e "$work/nginx-error.log" & pids+=($!)
wait_port "$B1"; wait_port "$B2"

# --- the client ------------------------------------------------------------------------------------
cat > "$work/idle_client.py" <<'PY'
"""Opens COUNT keep-alive connections, one GET /small on each, then holds them idle.

usage: idle_client.py HOST PORT COUNT READY_FILE RELEASE_FILE
Writes READY_FILE once every connection has its response, waits for RELEASE_FILE (HOLD_MAX seconds
at most), checks that none was closed by the proxy meanwhile, closes them all. Exit 0 when all COUNT
were opened and still open at release; otherwise says why on stderr and exits non-zero.
"""
import asyncio, collections, errno, os, resource, sys, time

host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ready_file, release_file = sys.argv[4], sys.argv[5]
concurrency = int(os.environ.get("OPEN_CONCURRENCY", "200"))
open_timeout = float(os.environ.get("OPEN_TIMEOUT", "120"))
hold_max = float(os.environ.get("HOLD_MAX", "300"))

def fail(message, code=2):
    print("client: " + message, file=sys.stderr, flush=True)
    sys.exit(code)

# File descriptors: one per connection, raised to the hard limit.
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if hard != resource.RLIM_INFINITY and hard < count + 64:
    fail(f"RLIMIT_NOFILE hard limit is {hard}: {count} connections need about {count + 64} file "
         f"descriptors (raise the hard limit, e.g. limits.conf or a root shell's `ulimit -Hn`)")
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
# Ephemeral ports: one per connection to the same HOST:PORT.
low, high = map(int, open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
if high - low + 1 < count:
    fail(f"net.ipv4.ip_local_port_range {low}-{high} has {high - low + 1} ports: fewer than the "
         f"{count} connections (widen it with sysctl)")

request = (f"GET /small HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: tugboat-memory-bench\r\n"
           f"Accept: */*\r\n\r\n").encode()
errors = collections.Counter()
conns = []

def describe(error):
    if isinstance(error, OSError) and error.errno == errno.EADDRNOTAVAIL:
        return "EADDRNOTAVAIL: out of ephemeral ports (net.ipv4.ip_local_port_range, TIME_WAIT sockets)"
    if isinstance(error, OSError) and error.errno in (errno.EMFILE, errno.ENFILE):
        return "EMFILE/ENFILE: out of file descriptors in the client"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused: the proxy is not listening or its backlog overflowed"
    if isinstance(error, (asyncio.TimeoutError, TimeoutError)):
        return "timeout (10 s) connecting or waiting for the response: the proxy stopped accepting (at its connection limit?)"
    if isinstance(error, asyncio.IncompleteReadError):
        return "connection closed before a complete response (proxy at its connection limit?)"
    return f"{type(error).__name__}: {error}"

async def open_one(semaphore):
    async with semaphore:
        writer = None
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
            writer.write(request)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            lines = head.decode("latin-1").split("\r\n")
            status = lines[0].split(" ")[1] if " " in lines[0] else "?"
            fields = {l.split(":", 1)[0].strip().lower(): l.split(":", 1)[1].strip()
                      for l in lines[1:] if ":" in l}
            if "content-length" not in fields:
                raise RuntimeError(f"response without Content-Length: {lines[0]}")
            await asyncio.wait_for(reader.readexactly(int(fields["content-length"])), 10)
            if status != "200":
                raise RuntimeError(f"status {status}")
            if fields.get("connection", "").lower() == "close":
                raise RuntimeError("the proxy answered Connection: close")
            conns.append((reader, writer))
        except Exception as error:  # counted and reported below
            errors[describe(error)] += 1
            if writer is not None:
                writer.close()

async def main():
    started = time.monotonic()
    semaphore = asyncio.Semaphore(concurrency)
    try:
        await asyncio.wait_for(asyncio.gather(*(open_one(semaphore) for _ in range(count))), open_timeout)
    except asyncio.TimeoutError:
        errors[f"could not open all connections within OPEN_TIMEOUT={open_timeout:g}s"] += 1
    opened = time.monotonic() - started
    if len(conns) < count:
        for reason, n in errors.most_common():
            print(f"client: {n} x {reason}", file=sys.stderr)
        fail(f"opened {len(conns)} of {count} connections", 3)
    print(f"client: {count} connections opened and answered in {opened:.1f} s, now idle", flush=True)
    with open(ready_file, "w") as f:
        f.write(f"{count}\n")
    deadline = time.monotonic() + hold_max
    while not os.path.exists(release_file) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    closed = sum(1 for reader, writer in conns if reader.at_eof() or writer.is_closing())
    for _, writer in conns:
        writer.close()
    if closed:
        fail(f"{closed} of {count} idle connections were closed by the proxy while held", 4)
    if not os.path.exists(release_file):
        fail(f"not released within HOLD_MAX={hold_max:g}s", 5)
    print(f"client: all {count} connections were still open when released", flush=True)

asyncio.run(main())
PY

# --- one proxy at a time ---------------------------------------------------------------------------
results=()
measure() { # name pid port
  local name=$1 pid=$2 port=$3 before after conns backends ready=$work/ready-$1 release=$work/release-$1
  wait_port "$port"
  deadline=$((SECONDS + 20)); until curl -sf --max-time 1 -o /dev/null "http://127.0.0.1:$port/small" || [ $SECONDS -ge $deadline ]; do sleep 0.2; done
  # A few requests first, so that lazily set-up state (pools, buffers) is in "before".
  local warm=()
  for _ in $(seq 1 20); do warm+=(-o /dev/null "http://127.0.0.1:$port/small"); done
  curl -sf --max-time 20 "${warm[@]}" \
    || { echo "$name does not answer GET /small (20 requests within 20 s); its log:" >&2; tail -n 20 "$work/$name.log" >&2; exit 1; }
  sleep 1
  before=$(rss_kib "$pid")
  OPEN_TIMEOUT=$OPEN_TIMEOUT python3 "$work/idle_client.py" 127.0.0.1 "$port" "$CONNS" "$ready" "$release" \
    >"$work/client-$name.out" 2>&1 &
  client_pid=$!
  while [ ! -f "$ready" ]; do
    if ! kill -0 "$client_pid" 2>/dev/null; then
      wait "$client_pid" || true; client_pid=""
      echo "$name: the client could not hold $CONNS connections:" >&2; cat "$work/client-$name.out" >&2
      echo "--- $name log (tail):" >&2; tail -n 20 "$work/$name.log" >&2
      exit 1
    fi
    sleep 0.2
  done
  sleep "$SETTLE"
  after=$(rss_kib "$pid")
  conns=$(established "sport = :$port")
  backends=$(established "dport = :$B1 or dport = :$B2")
  touch "$release"
  if ! wait "$client_pid"; then
    client_pid=""; echo "$name: the client failed:" >&2; cat "$work/client-$name.out" >&2; exit 1
  fi
  client_pid=""
  sed 's/^/  /' "$work/client-$name.out"
  if [ "$conns" -lt "$CONNS" ]; then
    echo "$name: only $conns established client connections at measurement time, expected $CONNS" >&2; exit 1
  fi
  kill "$pid"; wait "$pid" 2>/dev/null || true
  results+=("$name $before $after $conns $backends")
  printf '  %s: VmRSS %d KiB before, %d KiB with %d idle connections (%d to nginx)\n' "$name" "$before" "$after" "$conns" "$backends"
}

echo "machine: $(nproc) cores, Linux $(uname -r), fd hard limit $(ulimit -Hn), ephemeral ports $(tr '\t' '-' </proc/sys/net/ipv4/ip_local_port_range)"
echo "haproxy: $(haproxy -v | head -n 1)"
echo "nginx:   $(nginx -v 2>&1 | sed 's/^nginx version: //') ($NGINX_WORKERS worker(s), 2 backends)"
echo "python:  $(python3 -V 2>&1)"

# HAProxy
cat > "$work/haproxy.cfg" <<HAPROXY
global
  nbthread $HAPROXY_THREADS
  maxconn 20000
  no strict-limits
defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 2s
  timeout client $IDLE_TIMEOUT
  timeout server 60s
  timeout http-request 10s
  timeout http-keep-alive $IDLE_TIMEOUT
frontend front
  bind 127.0.0.1:$HP
  default_backend pool
backend pool
  balance roundrobin
  server b1 127.0.0.1:$B1
  server b2 127.0.0.1:$B2
HAPROXY

# Tugboat: `threads` and `max-connections` are newer keys and older binaries reject unknown keys:
# each is written only when `tugboat check` accepts it (threads always when TUGBOAT_THREADS is set).
tugboat_config() { # extra top-level lines
  cat <<TUGBOAT
listen: 127.0.0.1:$TP
admin: { listen: 127.0.0.1:$TA }
${1:-}
pool:
  balance: round-robin
  backends: [127.0.0.1:$B1, 127.0.0.1:$B2]
  health: { path: /small, interval: 2s, timeout: 1s, rise: 1, fall: 3 }
  retries: 2
  timeouts: { idle: $IDLE_TIMEOUT }
TUGBOAT
}
accepts() { tugboat_config "$1" > "$work/probe.yaml"; "$TUGBOAT_BIN" check --config "$work/probe.yaml" >/dev/null 2>&1; }
extra=""; notes=()
if [ -n "${TUGBOAT_THREADS:-}" ]; then extra="threads: $TUGBOAT_THREADS"; notes+=("threads: $TUGBOAT_THREADS")
elif accepts "threads: auto"; then extra="threads: auto"; notes+=("threads: auto")
else notes+=("no threads key"); fi
if accepts "max-connections: 20000"; then
  extra=$(printf '%s\nmax-connections: 20000' "$extra"); notes+=("max-connections: 20000")
else notes+=("no max-connections key"); fi
tugboat_config "$extra" > "$work/tugboat.yaml"
echo "tugboat: $TUGBOAT_BIN ($(IFS=,; echo "${notes[*]}" | sed 's/,/, /g'))"
echo "load:    $CONNS idle keep-alive connections, one GET /small each, idle timeouts $IDLE_TIMEOUT"
echo

haproxy -f "$work/haproxy.cfg" -db >"$work/haproxy-nbt$HAPROXY_THREADS.log" 2>&1 & pids+=($!)
measure "haproxy-nbt$HAPROXY_THREADS" "$!" "$HP"

TUGBOAT_LOG_LEVEL=warning $TUGBOAT_WRAPPER "$TUGBOAT_BIN" serve --config "$work/tugboat.yaml" 2>"$work/tugboat.log" & pids+=($!)
measure tugboat "$!" "$TP"

echo
printf '%-13s %14s %14s %12s %10s %14s\n' proxy 'RSS before KiB' 'RSS after KiB' 'delta KiB' 'KiB/conn' 'backend conns'
declare -A per_conn
for row in "${results[@]}"; do
  read -r name before after conns backends <<<"$row"
  per_conn[$name]=$(awk -v a="$after" -v b="$before" -v n="$CONNS" 'BEGIN { printf "%.2f", (a - b) / n }')
  printf '%-13s %14d %14d %12d %10.2f %14d\n' "$name" "$before" "$after" "$((after - before))" "${per_conn[$name]}" "$backends"
done
printf 'tugboat/haproxy-nbt%s KiB per connection: %.2f\n' "$HAPROXY_THREADS" \
  "$(awk -v t="${per_conn[tugboat]}" -v h="${per_conn[haproxy-nbt$HAPROXY_THREADS]}" 'BEGIN { print (h > 0) ? t / h : 0 }')"
