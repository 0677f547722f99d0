#!/usr/bin/env bash
# Tugboat `exec` provider, `up`: runs scale_up.yml (one container of tugboat-demo:latest on the
# local Docker Engine) and prints the address it reports, `127.0.0.1:PORT`, as its only line on
# stdout. Ansible's output goes to stderr; on failure the last line of stderr is Ansible's error.
#
# Environment (set through the provider's `env:`):
#   TUGBOAT_POOL          the label value, `tugboat.pool=<pool>` (default: default)
#   ANSIBLE_EXTRA_VARS    more `-e` for the playbook, e.g. "image=web:2 health_timeout=60"
#   TUGBOAT_UP_PLAYBOOK   another playbook (default: scale_up.yml beside this script); it must
#                         report `tugboat-address HOST:PORT` in a message (ansible.builtin.debug)
set -euo pipefail
here=$(cd "${0%/*}" && pwd)   # builtins only until playbook.sh has checked PATH
source "$here/playbook.sh"

playbook=${TUGBOAT_UP_PLAYBOOK:-$here/scale_up.yml}
run_playbook "$playbook" || exit 1

address=$(sed -n 's/.*"tugboat-address \([^" ]*\)".*/\1/p' <<<"$playbook_output" | tail -n 1)
if [ -z "$address" ]; then
  echo "$(basename "$playbook") reported no address (it must end with a debug message \"tugboat-address HOST:PORT\")" >&2
  exit 1
fi
echo "$address"
