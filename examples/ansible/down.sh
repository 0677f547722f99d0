#!/usr/bin/env bash
# Tugboat `exec` provider, `down`: runs scale_down.yml for the address Tugboat drained ($1, also
# TUGBOAT_INSTANCE): stops and removes that container. Succeeds when it is already gone.
# Ansible's output goes to stderr; on failure the last line of stderr is Ansible's error.
#
# Environment: TUGBOAT_POOL and ANSIBLE_EXTRA_VARS as for up.sh; TUGBOAT_DOWN_PLAYBOOK, another
# playbook (default: scale_down.yml beside this script), given `-e address=HOST:PORT`.
set -euo pipefail
here=$(cd "${0%/*}" && pwd)   # builtins only until playbook.sh has checked PATH
source "$here/playbook.sh"

address=${1:-${TUGBOAT_INSTANCE:-}}
[ -n "$address" ] || { echo "usage: down.sh HOST:PORT (or TUGBOAT_INSTANCE)" >&2; exit 2; }
run_playbook "${TUGBOAT_DOWN_PLAYBOOK:-$here/scale_down.yml}" -e "address=$address" || exit 1
echo "stopped $address"
