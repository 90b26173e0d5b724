#!/usr/bin/env bash
# Everything a fresh Debian 12 machine (as root) needs before the demo or the tests run:
# apt packages, a running Docker engine, the pinned Python virtualenv, the collection linked
# where Ansible finds it, and the locally built base images. Safe to rerun: each step checks
# first and does nothing when its result is already there.
#
# What is slow to build and keyed by a hash of its recipe (the virtualenvs, the VM and guest
# images) lives outside the checkout, under ${KVMCLOUD_CACHE:-/var/cache/kvmcloud}, so every
# checkout on the machine (CI's fresh clone too) reuses it. Each build has a directory of its
# own, named for its hash (venvs/main-HASH, vm/apparmor-trixie-RECIPE, ...), and the
# checkout's path for it (.venv, .cache/vm/FLAVOR, ...) is a symlink to it: two checkouts
# with different recipes never share a build. A lock file beside each directory serialises
# its builders; its mtime is the last use, and builds unused for KVMCLOUD_CACHE_KEEP_DAYS
# (14) are removed when a sibling build of the same artefact is used.
#
# Source it (`. scripts/bootstrap.sh`) and call `bootstrap SUITE...`, or run it directly.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${KVMCLOUD_VENV:-$REPO_ROOT/.venv}
COLLECTIONS_DIR=$REPO_ROOT/.collections
# Absolute: the checkout's links point at it.
KVMCLOUD_CACHE=$(realpath -m "${KVMCLOUD_CACHE:-/var/cache/kvmcloud}")

# Each line says how long the run has taken so far, so a slow step shows itself.
log() { printf '\033[1m==> [%d:%02d] %s\033[0m\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*" >&2; }

# The Python the controller virtualenvs are made with: KVMCLOUD_PYTHON if set, else the first of
# python3, python3.14, python3.13, python3.12 (on PATH, then under pyenv's versions) that
# requirements.txt's `# controller-python:` line admits (the `ansible` package pinned there
# installs only on those). Debian 12's python3 (3.11) is too old for ansible 13 and later;
# Debian 13's (3.13) will do.
controller_python() {
  local minimum candidate
  minimum=$(sed -n 's/^#[[:space:]]*controller-python:[[:space:]]*>=\([0-9.]*\).*/\1/p' "$REPO_ROOT/requirements.txt")
  [ -n "$minimum" ] || { echo "requirements.txt has no '# controller-python: >=X.Y' line" >&2; return 1; }
  for candidate in ${KVMCLOUD_PYTHON:-} python3 python3.14 python3.13 python3.12 \
    "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3; do
    [ -x "$candidate" ] || candidate=$(command -v "$candidate" 2>/dev/null) || continue
    # pyenv's shims answer for versions that are not selected, and then fail: run it to know.
    if "$candidate" -c "import sys, venv; sys.exit(sys.version_info < tuple(map(int, '$minimum'.split('.'))))" 2>/dev/null; then
      "$candidate" -c 'import sys; print(sys.executable)'
      return 0
    fi
    if [ "$candidate" = "${KVMCLOUD_PYTHON:-}" ]; then
      echo "KVMCLOUD_PYTHON=$candidate is not a Python $minimum or newer with venv" >&2
      return 1
    fi
  done
  echo "no Python $minimum or newer found (the ansible package pinned in requirements.txt needs it);" \
    "Debian 13 has one as python3, on Debian 12 install one (pyenv, for one) and set KVMCLOUD_PYTHON" >&2
  return 1
}

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
  local dir=$1 requirements=$2 want=$3 clear=() stamp=$1/.requirements.sha256 python
  [ "${4:-}" = --clear ] && clear=(--clear)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  log "Creating the virtualenv $dir from $requirements (pip, quiet: about a minute)"
  rm -f "$stamp"
  python=$(controller_python)
  if ! "$python" -m venv "${clear[@]}" "$dir" 2>/dev/null; then
    ensure_apt_packages python3-venv
    "$python" -m venv "${clear[@]}" "$dir"
  fi
  "$dir/bin/pip" install -q --upgrade pip >/dev/null
  "$dir/bin/pip" install -q -r "$requirements" >&2
  echo "$want" >"$stamp"
}

# Runs COMMAND... holding the lock of cache directory DIR (the file DIR.lock), and records
# the use: of two builders at once, one builds and the other waits, then finds it built.
with_cache_lock() {
  local dir=$1
  shift
  mkdir -p "$(dirname "$dir")"
  touch "$dir.lock"
  (
    flock 9
    "$@"
  ) 9>>"$dir.lock"
}

# Makes LINK, a path inside the checkout, a symlink to DIR, a directory of the cache. A real
# directory at LINK (a checkout-local cache from before) is moved aside first and removed
# once the link stands, so a program running from it finds the same files through the link.
link_cache_dir() {
  local dir=$1 link=$2 old=
  [ -L "$link" ] && [ "$(readlink "$link")" = "$dir" ] && return 0
  mkdir -p "$(dirname "$link")"
  if [ -e "$link" ] && [ ! -L "$link" ]; then
    old=$(mktemp -d "$link.old.XXXXXX")
    mv "$link" "$old/" 2>/dev/null || true
  fi
  # A rename replaces the link in one step: nobody sees the path missing.
  ln -sfn "$dir" "$link.new.$$"
  mv -fT "$link.new.$$" "$link"
  [ -z "$old" ] || rm -rf "$old"
}

# Removes the builds of DIR's artefact for other hashes (DIR is NAME-HASH: NAME-* with
# another hash) that nobody has used for KVMCLOUD_CACHE_KEEP_DAYS days and nobody holds now.
prune_cache_siblings() {
  local dir=$1 other
  for other in "${dir%-*}"-*; do
    if [ "$other" = "$dir" ] || [ ! -d "$other" ] || [ -L "$other" ] ||
      ! [[ ${other##*-} =~ ^[0-9a-f]{16}$ ]] ||
      [ -z "$(find "$other.lock" -maxdepth 0 -mtime "+${KVMCLOUD_CACHE_KEEP_DAYS:-14}" 2>/dev/null)" ]; then
      continue
    fi
    if flock -n "$other.lock" rm -rf "$other"; then
      log "Removed $other (not used for ${KVMCLOUD_CACHE_KEEP_DAYS:-14} days)"
      rm -f -- "$other".*
    fi
  done
}

# The main virtualenv: KVMCLOUD_VENV if set, else $KVMCLOUD_CACHE/venvs/main-HASH (HASH: of
# requirements.txt and the Python) with .venv linked to it.
ensure_venv() {
  local want dir python
  python=$(controller_python)
  want=$( { "$python" --version; cat "$REPO_ROOT/requirements.txt"; } | sha256sum | cut -d' ' -f1)
  if [ -n "${KVMCLOUD_VENV:-}" ]; then
    ensure_venv_at "$VENV" "$REPO_ROOT/requirements.txt" "$want"
    return 0
  fi
  dir=$KVMCLOUD_CACHE/venvs/main-${want:0:16}
  with_cache_lock "$dir" ensure_venv_at "$dir" "$REPO_ROOT/requirements.txt" "$want"
  link_cache_dir "$dir" "$VENV"
  prune_cache_siblings "$dir"
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
