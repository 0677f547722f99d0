# Sourced by up.sh and down.sh: `run_playbook PLAYBOOK [ARGS...]` runs
#   ansible-playbook -i localhost, -c local PLAYBOOK -e pool=$TUGBOAT_POOL $ANSIBLE_EXTRA_VARS ARGS...
# with Ansible's own output on stderr (Tugboat keeps stdout for the address) and a copy in
# $playbook_output (not a file: a run killed at the provider's timeout leaves nothing behind).
# On failure it prints, as the LAST line of stderr, what Ansible said went wrong (the failed
# task's message, or Ansible's ERROR! line): Tugboat puts that line in the failed transition's
# reason and its log. Exits when ansible-playbook is not on PATH.

if ! command -v ansible-playbook >/dev/null 2>&1; then
  echo "${0##*/}: ansible-playbook not found on PATH (Debian: apt-get install ansible)" >&2
  exit 127
fi

playbook_output=""

# The message of the last failed task (`fatal: [host]: FAILED! => {... "msg": ...}`), or the last
# `ERROR!` line (a playbook that does not parse, a missing file), on one line.
ansible_error() {
  local line
  line=$(grep -E '^(fatal|failed): \[|^ERROR! ' <<<"$playbook_output" | tail -n 1)
  if [[ $line == ERROR!* ]]; then
    echo "${line#ERROR! }"
  elif [ -n "$line" ]; then
    python3 -c 'import json, sys
text = sys.argv[1].split("=> ", 1)[-1]
try:
    print(" ".join(str(json.loads(text).get("msg", text)).split()))
except ValueError:
    print(text)' "$line"
  else
    tail -n 1 <<<"$playbook_output"
  fi
}

run_playbook() {
  local playbook=$1; shift
  local extra=()
  # One -e: Ansible splits `ANSIBLE_EXTRA_VARS="image=web:2 health_path=/healthz"` itself.
  [ -n "${ANSIBLE_EXTRA_VARS:-}" ] && extra=(-e "$ANSIBLE_EXTRA_VARS")
  if ! playbook_output=$(ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 ANSIBLE_PIPELINING=1 \
       ansible-playbook -i localhost, -c local "$playbook" -e "pool=${TUGBOAT_POOL:-default}" "${extra[@]}" "$@" \
       2>&1 | tee /dev/stderr); then
    echo "$(basename "$playbook"): $(ansible_error)" >&2
    return 1
  fi
}
