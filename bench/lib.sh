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

# A free TCP port on 127.0.0.1.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
