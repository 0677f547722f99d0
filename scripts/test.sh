#!/usr/bin/env bash
# The README's test command. On a fresh Debian 12 machine with Swift it installs what the tests
# need (Debian packages, py-spy and aiosmtpd from PyPI), starts dockerd by hand when none answers
# (and stops it at the end), then runs the whole suite one test at a time. Arguments go to
# `swift test` (e.g. `bash scripts/test.sh --filter TLSTests`).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
dpkg -s zlib1g-dev >/dev/null 2>&1 || need+=(zlib1g-dev)        # CZlib (gzipped pprof)
dpkg -s libsqlite3-dev >/dev/null 2>&1 || need+=(libsqlite3-dev)  # GRDB
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)               # the docker scaling provider's live test
[ -x /bin/busybox ] || need+=(busybox-static)                         # its test image (docker import)
command -v ansible-playbook >/dev/null 2>&1 || need+=(ansible)        # examples/ansible (community.docker) through the exec provider
dpkg -s python3-requests >/dev/null 2>&1 || need+=(python3-requests)  # community.docker's Docker API client
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)       # the RESP client and cluster tests (each starts its own)
command -v perf >/dev/null 2>&1 || need+=(linux-perf)                 # crash capture (perf source)
command -v openssl >/dev/null 2>&1 || need+=(openssl)                 # the email tests' self-signed certificate
command -v pebble >/dev/null 2>&1 || need+=(pebble)                   # the ACME tests' server (pebble, pebble-challtestsrv)
[ -x /usr/bin/chromium ] || need+=(chromium)                          # the dashboard's browser tests (driven by Playwright)
command -v gcc >/dev/null 2>&1 || need+=(gcc)                          # the container forensics test's static C server
[ -f /usr/lib/x86_64-linux-gnu/libc.a ] || need+=(libc6-dev)          # (gcc -static)
for package in ruby ruby-stackprof ruby-rack ruby-webrick; do            # examples/ruby: a Rack app's stackprof pushes
  dpkg -s "$package" >/dev/null 2>&1 || need+=("$package")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi

# A real dockerd for the docker provider's test (images are built locally, nothing is pulled).
# If it cannot start here, that test reports itself skipped and everything else still runs.
source scripts/dockerd.sh
start_dockerd || echo "warning: dockerd did not start; the docker provider test will be skipped"

# py-spy for the crash capture's py-spy source (PyPI).
command -v py-spy >/dev/null 2>&1 || python3 -m pip install --quiet py-spy
# pyenv shims: make sure the freshly installed py-spy is on PATH (else link it from pip's scripts).
command -v pyenv >/dev/null 2>&1 && pyenv rehash 2>/dev/null || true
if ! command -v py-spy >/dev/null 2>&1; then
  scripts=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
  [ -x "$scripts/py-spy" ] && ln -sf "$scripts/py-spy" /usr/local/bin/py-spy
fi
command -v py-spy >/dev/null 2>&1 || { echo "error: py-spy did not install"; exit 1; }

# aiosmtpd for the email channel's live tests: a real SMTP server with STARTTLS and AUTH (PyPI).
# With CI=true those tests fail rather than skip when it is missing.
python3 -c 'import aiosmtpd' 2>/dev/null || python3 -m pip install --quiet aiosmtpd
python3 -c 'import aiosmtpd' || { echo "error: aiosmtpd did not install"; exit 1; }

# Playwright for Python (PyPI) to drive Debian's chromium in the dashboard's browser tests (its
# own browser download does not work here; Tests/Browser/driver.py points it at /usr/bin/chromium).
python3 -c 'import playwright' 2>/dev/null || python3 -m pip install --quiet playwright
python3 -c 'import playwright' || { echo "error: playwright did not install"; exit 1; }

swift --version
# One test at a time: the live tests start real processes and servers, and in parallel they would
# compete for this machine's two cores and starve the timing-sensitive ones.
swift test --no-parallel "$@"
