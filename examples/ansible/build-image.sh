#!/usr/bin/env bash
# Builds the demo image `tugboat-demo:latest` from local files only (nothing is pulled): a root
# file system holding a static busybox whose httpd serves, on port 80,
#   /health                 200 "ok"
#   /                       200 (a small page)
#   /cgi-bin/work?ms=N      burns N ms of CPU (default 50, at most 10000), then answers 200
# and `docker import`s it. Needs Debian's busybox-static (/bin/busybox) and the docker CLI.
#
#   bash examples/ansible/build-image.sh [IMAGE]        (default tugboat-demo:latest)
#
# The scaling examples (examples/ansible/*.yml, the docker provider) and the tests use this image.
set -euo pipefail

image=${1:-tugboat-demo:latest}
busybox=${BUSYBOX:-/bin/busybox}

command -v docker >/dev/null 2>&1 || { echo "build-image.sh: no docker CLI on PATH (Debian: apt-get install docker.io)" >&2; exit 1; }
[ -x "$busybox" ] || { echo "build-image.sh: no $busybox (Debian: apt-get install busybox-static)" >&2; exit 1; }
if ! "$busybox" --help >/dev/null 2>&1 || LC_ALL=C ldd "$busybox" 2>/dev/null | grep -q '=>'; then
  echo "build-image.sh: $busybox is not a static busybox (Debian: apt-get install busybox-static)" >&2; exit 1
fi

root=$(mktemp -d "${TMPDIR:-/tmp}/tugboat-demo-root.XXXXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/www/cgi-bin" "$root/tmp"
cp "$busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
echo ok >"$root/www/health"
echo "tugboat-demo: a static busybox httpd" >"$root/www/index.html"
cat >"$root/www/cgi-bin/work" <<'CGI'
#!/bin/sh
# Burns ms=N milliseconds of CPU (read from /proc/uptime: 10 ms resolution).
ms=$(echo "$QUERY_STRING" | /bin/busybox sed -n 's/.*\(^\|&\)ms=\([0-9]\{1,5\}\).*/\2/p')
ms=${ms:-50}
[ "$ms" -gt 10000 ] && ms=10000
now() { read -r up _ </proc/uptime; echo "${up%.*}${up#*.}"; }   # centiseconds since boot
start=$(now)
while [ $(( ($(now) - start) * 10 )) -lt "$ms" ]; do :; done
printf 'Content-Type: text/plain\r\n\r\nworked %s ms\n' "$ms"
CGI
chmod 755 "$root/www/cgi-bin/work"

# The tar stream goes straight into `docker import`; the image runs httpd in the foreground.
tar -C "$root" -c . | docker import \
  --change 'CMD ["/bin/busybox", "httpd", "-f", "-p", "80", "-h", "/www"]' \
  --change 'EXPOSE 80/tcp' \
  --message "tugboat demo (busybox httpd)" - "$image" >/dev/null
echo "built $image"
