#!/usr/bin/env bash
# Writes dist/tugboat_<version>_amd64.deb with dpkg-deb: the static binary (packaging/build.sh,
# built first unless dist/tugboat exists and SKIP_BUILD=1), the systemd unit, /etc/tugboat/tugboat.yaml
# (a conffile), and the maintainer scripts that create the `tugboat` user and /var/lib/tugboat.
# Depends: the Debian packages of the shared libraries `ldd` lists for the binary.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "${SKIP_BUILD:-0}" = 1 ] && [ -x dist/tugboat ] || bash packaging/build.sh
version=$(dist/tugboat --version | awk '{print $2}')

# Shared libraries → their Debian packages (libc6, libsqlite3-0, zlib1g, …), with the installed versions as minimum.
depends=$(ldd dist/tugboat | awk '/=>/ {print $3} /^\s*\/lib/ {print $1}' | sort -u | while read -r lib; do
  real=$(readlink -f "$lib")
  dpkg -S "$real" 2>/dev/null || dpkg -S "$lib" 2>/dev/null || true
done | cut -d: -f1 | sort -u | while read -r pkg; do
  echo "$pkg (>= $(dpkg-query -W -f='${Version}' "$pkg" | sed 's/-[^-]*$//'))"
done | paste -sd, | sed 's/,/, /g')
[ -n "$depends" ] || { echo "error: no Depends found (ldd dist/tugboat)"; exit 1; }

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
install -D -m 0755 dist/tugboat "$root/usr/bin/tugboat"
install -D -m 0644 packaging/tugboat.service "$root/lib/systemd/system/tugboat.service"
install -D -m 0640 packaging/tugboat.yaml "$root/etc/tugboat/tugboat.yaml"
install -D -m 0644 README.md "$root/usr/share/doc/tugboat/README.md"
mkdir -p "$root/DEBIAN"
install -m 0755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "$root/DEBIAN/"
echo "/etc/tugboat/tugboat.yaml" > "$root/DEBIAN/conffiles"
cat > "$root/DEBIAN/control" <<CONTROL
Package: tugboat
Version: $version
Architecture: amd64
Maintainer: Tugboat <ops@tugboat.invalid>
Depends: $depends, passwd
Section: net
Priority: optional
Installed-Size: $(du -sk "$root" | cut -f1)
Description: reverse proxy that watches, pages, scales and explains a web application
 One daemon in front of a web application: an HTTP/1.1 and HTTPS reverse proxy over a pool of
 backends with health checks, heartbeats, incidents that page the on-call person (Twilio call
 and SMS, webhook, Slack, email, PagerDuty, Opsgenie), autoscaling through providers, and a
 flame graph attached to every crash.
CONTROL
mkdir -p dist
deb="dist/tugboat_${version}_amd64.deb"
dpkg-deb --root-owner-group --build "$root" "$deb" >/dev/null
echo "packaging: $deb $(du -h "$deb" | cut -f1), Depends: $depends"
