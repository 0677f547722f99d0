# Helpers shared by the bench scripts (sourced from the repository's root).

# TUGBOAT_BIN, or a release build made now; as an absolute path.
tugboat_binary() {
  if [ -z "${TUGBOAT_BIN:-}" ]; then
    echo "building tugboat (release)..." >&2
    swift build -c release --product tugboat >&2
    TUGBOAT_BIN=.build/release/tugboat
  fi
  [ -x "$TUGBOAT_BIN" ] || { echo "no tugboat binary at $TUGBOAT_BIN" >&2; exit 1; }
  TUGBOAT_BIN=$(cd "$(dirname "$TUGBOAT_BIN")" && pwd)/$(basename "$TUGBOAT_BIN")
}

# Exits when one of the tools named is not on PATH (saying how to install them: INSTALL_HINT).
require_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "missing $tool (${INSTALL_HINT:-apt-get install -y wrk linux-perf python3 curl})" >&2; exit 1; }
  done
}

# The req/s ratio round by round: "lowest-highest" of tugboat[i] / peer[i] over two
# whitespace-separated lists of per-round req/s in the same order (the rounds alternate, so each
# pair saw the same drift of the machine's speed).
round_ratio_span() { # "tugboat rounds" "peer rounds"
  awk -v t="$1" -v h="$2" 'BEGIN {
    n = split(t, tt, " "); split(h, hh, " ")
    for (i = 1; i <= n; i++) { r = tt[i] / hh[i]; if (i == 1 || r < lo) lo = r; if (i == 1 || r > hi) hi = r }
    printf "%.2f-%.2f", lo, hi }'
}

# A free TCP port on 127.0.0.1.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# The browser-shaped request's wrk script (12 headers, about 800 bytes with wrk's Host) into $1.
write_browser_lua() {
  cat > "$1" <<'LUA'
-- A browser's navigation request: 12 headers, about 800 bytes (wrk adds Host).
wrk.headers["User-Agent"] = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
wrk.headers["Accept"] = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
wrk.headers["Accept-Language"] = "en-US,en;q=0.9,de;q=0.8"
wrk.headers["Accept-Encoding"] = "gzip, deflate, br, zstd"
wrk.headers["Cookie"] = "_ga=GA1.1.1234567890.1712345678; session=eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyIjoiNDIifQ.dGVzdHNpZ25hdHVyZQ; csrftoken=Wq3kN8xYb2LmP5rT7vZ0aC4dF6gH9jK1; theme=dark"
wrk.headers["Referer"] = "https://www.example.com/products/widgets?page=2&sort=price"
wrk.headers["sec-ch-ua"] = '"Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"'
wrk.headers["sec-ch-ua-mobile"] = "?0"
wrk.headers["sec-ch-ua-platform"] = '"Windows"'
wrk.headers["Sec-Fetch-Dest"] = "document"
wrk.headers["Sec-Fetch-Mode"] = "navigate"
wrk.headers["Sec-Fetch-Site"] = "same-origin"
LUA
}

# One nginx worker serving directory $1/www on 127.0.0.1:$2, its files in $1 (nginx.conf, pid, log).
write_single_nginx_conf() {
  cat > "$1/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $1/nginx.pid;
error_log $1/nginx-error.log;
events { worker_connections 1024; }
http { access_log off; keepalive_requests 1000000; default_type text/plain;
  server { listen 127.0.0.1:$2; root $1/www; } }
NGINX
}

# HAProxy at one thread, kept-alive both ways, listening on 127.0.0.1:$2 in front of 127.0.0.1:$3,
# into file $1 (timeouts: $4, default 30s).
write_single_haproxy_cfg() {
  cat > "$1" <<CFG
global
  nbthread 1
defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client ${4:-30s}
  timeout server ${4:-30s}
frontend front
  bind 127.0.0.1:$2
  default_backend pool
backend pool
  server b1 127.0.0.1:$3
CFG
}

# A throwaway CA and an ECDSA P-256 leaf for 127.0.0.1 and localhost into directory $1: ca.pem,
# site.pem, site.key (mode 600) and haproxy.pem (the leaf and its key in one file, as HAProxy wants).
make_bench_certificates() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=bench CA" \
    -keyout "$1/ca.key" -out "$1/ca.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$1/site.key" -out "$1/site.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$1/site.ext"
  openssl x509 -req -in "$1/site.csr" -CA "$1/ca.pem" -CAkey "$1/ca.key" -CAcreateserial -days 2 \
    -extfile "$1/site.ext" -out "$1/site.pem" 2>/dev/null
  chmod 600 "$1/site.key"
  cat "$1/site.pem" "$1/site.key" > "$1/haproxy.pem"
}
