#!/usr/bin/env bash
# Everything a fresh Debian 12 machine (as root) needs before the demo or the tests run:
# apt packages, a running Docker engine, the pinned Python virtualenv, the collection linked
# where Ansible finds it, and the locally built base images. Safe to rerun: each step checks
# first and does nothing when its result is already there.
#
# Source it (`. scripts/bootstrap.sh`) and call `bootstrap SUITE...`, or run it directly.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${KVMCLOUD_VENV:-$REPO_ROOT/.venv}
COLLECTIONS_DIR=$REPO_ROOT/.collections

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

ensure_apt_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "Installing apt packages: ${missing[*]}"
  # Callers ask for packages in several rounds; the package lists need fetching once.
  if [ -z "${APT_LISTS_FRESH:-}" ]; then
    apt-get update -qq
    APT_LISTS_FRESH=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_docker() {
  docker info >/dev/null 2>&1 && return 0
  ensure_apt_packages docker.io
  docker info >/dev/null 2>&1 && return 0
  # PID 1 is not systemd on our machines, so nothing starts dockerd for us.
  log "Starting dockerd (log: /var/log/kvmcloud-dockerd.log)"
  nohup dockerd >/var/log/kvmcloud-dockerd.log 2>&1 &
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && return 0
    sleep 1
  done
  echo "dockerd did not answer within 60 s; see /var/log/kvmcloud-dockerd.log" >&2
  return 1
}

# Makes virtualenv DIR and installs REQUIREMENTS (a pip requirements file) into it, unless
# DIR's stamp already holds WANT (a hash of what those requirements are). With --clear a
# rebuild starts from an empty virtualenv, so a pin taken out leaves nothing behind.
ensure_venv_at() {
  local dir=$1 requirements=$2 want=$3 clear=() stamp=$1/.requirements.sha256
  [ "${4:-}" = --clear ] && clear=(--clear)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  log "Creating the virtualenv $dir from $requirements"
  rm -f "$stamp"
  if ! python3 -m venv "${clear[@]}" "$dir" 2>/dev/null; then
    ensure_apt_packages python3-venv
    python3 -m venv "${clear[@]}" "$dir"
  fi
  "$dir/bin/pip" install -q --upgrade pip >/dev/null
  "$dir/bin/pip" install -q -r "$requirements" >&2
  echo "$want" >"$stamp"
}

ensure_venv() {
  ensure_venv_at "$VENV" "$REPO_ROOT/requirements.txt" \
    "$(sha256sum "$REPO_ROOT/requirements.txt" | cut -d' ' -f1)"
}

# Ansible finds collections only under an ansible_collections/NAMESPACE/NAME path.
ensure_collection_link() {
  mkdir -p "$COLLECTIONS_DIR/ansible_collections/kvmcloud"
  ln -sfn "$REPO_ROOT" "$COLLECTIONS_DIR/ansible_collections/kvmcloud/hypervisor"
}

bootstrap() {
  ensure_apt_packages mmdebstrap ca-certificates
  ensure_docker
  ensure_venv
  ensure_collection_link
  local suite
  for suite in "$@"; do
    "$REPO_ROOT/tests/testbed/base-image.sh" "$suite"
  done
  export PATH="$VENV/bin:$PATH"
  export ANSIBLE_CONFIG="$REPO_ROOT/ansible.cfg"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  [ $# -gt 0 ] || set -- bookworm trixie
  bootstrap "$@"
fi
