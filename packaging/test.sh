#!/usr/bin/env bash
# The packaging test, on a machine with dockerd and debootstrap (CI runs it after the suite):
#  1. builds dist/tugboat (static Swift runtime, stripped) and dist/tugboat_<version>_amd64.deb;
#  2. makes a clean Debian 12 image from a debootstrap minbase root (`docker import`; nothing pulled);
#  3. installs the .deb there with apt (which pulls the Depends from Debian's mirror), runs
#     `tugboat check` on the packaged config and `tugboat serve` as the `tugboat` user in front of
#     a demo-app, and asks through the proxy from the host;
#  4. builds packaging/Dockerfile on that base and runs the image: non-root, HEALTHCHECK healthy,
#     serving.
# Containers use host networking and listen on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
base=tugboat-test-debian12
started=$(date +%s)
step() { echo "packaging-test: $* ($(( $(date +%s) - started )) s)"; }
fail() { echo "packaging-test: FAILED: $*"; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_http() {  # URL PATTERN: until the body contains PATTERN (30 s at most)
  for _ in $(seq 1 150); do curl -sf "$1" 2>/dev/null | grep -q "$2" && return 0; sleep 0.2; done
  return 1
}
containers=()
cleanup() { for c in "${containers[@]}"; do docker rm -f "$c" >/dev/null 2>&1 || true; done; }
trap cleanup EXIT

command -v debootstrap >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap; }
curl -sf --unix-socket /var/run/docker.sock http://localhost/_ping >/dev/null || fail "no dockerd answers on /var/run/docker.sock"

bash packaging/build-deb.sh
deb=$(ls -t dist/tugboat_*_amd64.deb | head -1)
step "built $deb"

if ! docker image inspect "$base" >/dev/null 2>&1; then
  root=$(mktemp -d /var/tmp/tugboat-rootfs.XXXXXX)
  debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >/tmp/tugboat-debootstrap.log 2>&1 \
    || { tail -20 /tmp/tugboat-debootstrap.log; fail "debootstrap"; }
  tar -C "$root" -c . | docker import - "$base" >/dev/null
  rm -rf "$root"
fi
step "base image $base"
docker run --rm "$base" sh -c 'command -v swift || ls /usr/lib/swift 2>/dev/null' && fail "the base image has a Swift toolchain"

# 3. The .deb in a clean container.
c=tugboat-deb-test-$$; containers+=("$c")
docker run -d --name "$c" --network host -v "$PWD/dist:/dist:ro" "$base" sleep 900 >/dev/null
docker exec "$c" sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq /$deb" >/tmp/tugboat-deb-install.log 2>&1 \
  || { tail -20 /tmp/tugboat-deb-install.log; fail "apt-get install ./$deb"; }
step "installed with apt"
docker exec "$c" sh -c 'ldd /usr/bin/tugboat | grep "not found"' && fail "a library is missing"
docker exec "$c" tugboat --version
docker exec "$c" sh -c 'test -f /lib/systemd/system/tugboat.service && getent passwd tugboat && stat -c "%U:%G %a" /var/lib/tugboat /etc/tugboat/tugboat.yaml'
docker exec "$c" tugboat check --config /etc/tugboat/tugboat.yaml || fail "tugboat check on the packaged config"
app=$(free_port); front=$(free_port); admin=$(free_port)
docker exec "$c" sh -c "cat > /etc/tugboat/test.yaml <<YAML
listen: 127.0.0.1:$front
admin: { listen: 127.0.0.1:$admin }
state: sqlite:/var/lib/tugboat/test.db
pool: { backends: [127.0.0.1:$app], health: { interval: 500ms, rise: 1 } }
YAML
chmod 0644 /etc/tugboat/test.yaml"
docker exec -d -u tugboat "$c" tugboat demo-app --port "$app"
docker exec -d -u tugboat "$c" sh -c 'tugboat serve --config /etc/tugboat/test.yaml > /var/lib/tugboat/serve.log 2>&1'
wait_http "http://127.0.0.1:$front/echo" '"x-forwarded-for"' || { docker exec "$c" cat /var/lib/tugboat/serve.log; fail "no answer through the packaged tugboat"; }
uids=$(docker exec "$c" sh -c 'for s in /proc/[0-9]*/status; do if grep -q "^Name:[[:space:]]*tugboat$" "$s"; then awk "/^Uid:/ {print \$2}" "$s"; fi; done' | sort -u)
[ "$uids" = "$(docker exec "$c" id -u tugboat)" ] || fail "tugboat runs as uid(s) $uids, not as the tugboat user"
step "the packaged tugboat serves as the tugboat user"
docker rm -f "$c" >/dev/null

# 4. The image.
docker build -q -f packaging/Dockerfile --build-arg BASE="$base" --network host -t tugboat:test . >/dev/null
step "image built: $(docker image inspect tugboat:test -f '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}')"
app=$(free_port); front=$(free_port)
config=$(mktemp /tmp/tugboat-image-XXXXXX.yaml)
printf 'listen: 127.0.0.1:%s\nadmin: { listen: 127.0.0.1:8081 }\nstate: sqlite:/var/lib/tugboat/tugboat.db\npool: { backends: [127.0.0.1:%s], health: { interval: 500ms, rise: 1 } }\n' "$front" "$app" > "$config"
chmod 0644 "$config"
a=tugboat-image-app-$$; i=tugboat-image-$$; containers+=("$a" "$i")
docker run -d --name "$a" --network host tugboat:test demo-app --port "$app" >/dev/null
ss -ltn | grep -q ':8081 ' && fail "127.0.0.1:8081 is taken on this machine; the image's HEALTHCHECK needs it"
docker run -d --name "$i" --network host --health-interval 1s -v "$config:/etc/tugboat/tugboat.yaml:ro" tugboat:test >/dev/null
[ "$(docker exec "$i" id -u)" != 0 ] || fail "the image runs as root"
for _ in $(seq 1 60); do [ "$(docker inspect -f '{{.State.Health.Status}}' "$i")" = healthy ] && break; sleep 0.5; done
[ "$(docker inspect -f '{{.State.Health.Status}}' "$i")" = healthy ] || { docker logs "$i"; fail "the HEALTHCHECK did not turn healthy"; }
wait_http "http://127.0.0.1:$front/echo" '"x-forwarded-for"' || { docker logs "$i"; fail "no answer through the image"; }
step "the image runs as uid $(docker exec "$i" id -u), healthy, serving"
docker stop -t 20 "$i" >/dev/null
[ "$(docker inspect -f '{{.State.ExitCode}}' "$i")" = 0 ] || { docker logs "$i" | tail; fail "the image did not stop cleanly on SIGTERM"; }
step "passed: binary $(du -h dist/tugboat | cut -f1), package $(du -h "$deb" | cut -f1)"
