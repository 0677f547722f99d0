# Sourced by scripts/test.sh and .ci/run: `start_dockerd` starts a dockerd by hand when none
# answers on /var/run/docker.sock (there is no systemd here) and stops it when the script exits.
# Returns non-zero when no daemon answers after 30 s.
docker_answers() { curl -sf --unix-socket /var/run/docker.sock http://localhost/_ping >/dev/null 2>&1; }
start_dockerd() {
  docker_answers && return 0
  dockerd >/tmp/tugboat-dockerd.log 2>&1 &
  dockerd_pid=$!
  trap '[ -n "${dockerd_pid:-}" ] && kill "$dockerd_pid" 2>/dev/null && wait "$dockerd_pid" 2>/dev/null; true' EXIT
  for _ in $(seq 1 60); do docker_answers && return 0; sleep 0.5; done
  tail -5 /tmp/tugboat-dockerd.log || true
  return 1
}
