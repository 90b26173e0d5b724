#!/usr/bin/env bash
# Starts or removes a throwaway systemd test host in Docker.
#
#   container.sh start NAME IMAGE
#   container.sh remove NAME
#
# The options are the ones measured to run libvirt and a TCG guest here (see
# shared/testbed.md). `privileged` fails on our machines, so capabilities are listed one by
# one. We call the docker CLI rather than the Docker API (which Molecule's docker driver
# uses) because `systempaths=unconfined` is a CLI option: the API rejects it, and without it
# /proc/sys is read-only and libvirt cannot start a network.
set -euo pipefail

start() {
  local name=$1 image=$2 state
  docker rm -f "$name" >/dev/null 2>&1 || true
  docker run --detach --name "$name" --hostname "$name" \
    --label kvmcloud.testhost=1 --stop-signal SIGRTMIN+3 \
    --cap-add SYS_ADMIN --cap-add NET_ADMIN --cap-add SYS_PTRACE --cap-add MKNOD \
    --cap-add SYS_NICE --cap-add IPC_LOCK --cap-add SYS_RAWIO --cap-add AUDIT_CONTROL \
    --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
    --security-opt systempaths=unconfined \
    --device /dev/kvm --device /dev/net/tun \
    --cgroupns host --volume /sys/fs/cgroup:/sys/fs/cgroup:rw \
    --tmpfs /run --tmpfs /run/lock \
    "$image" >/dev/null
  # Ready once systemd has finished booting ("running", or "degraded" when a unit that
  # needs real hardware failed).
  for _ in $(seq 60); do
    state=$(docker exec "$name" systemctl is-system-running 2>/dev/null || true)
    case "$state" in
      running | degraded) return 0 ;;
    esac
    sleep 1
  done
  echo "$name: systemd did not finish booting within 60 s (state: ${state:-unknown})" >&2
  return 1
}

remove() {
  docker rm -f "$1" >/dev/null 2>&1 || true
}

case "${1:-}" in
  start) start "${2:?name}" "${3:?image}" ;;
  remove) remove "${2:?name}" ;;
  *)
    echo "usage: $0 start NAME IMAGE | remove NAME" >&2
    exit 2
    ;;
esac
