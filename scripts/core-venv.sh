#!/usr/bin/env bash
# A controller virtualenv for one ansible-core minor version of the support matrix, for running
# ansible-test, the playbooks and Molecule against that version: .cache/venvs/core-VERSION, a
# symlink to $KVMCLOUD_CACHE/venvs/core-VERSION-HASH outside the checkout (scripts/bootstrap.sh),
# which every checkout on the machine with the same pins shares.
# The pins come from requirements.txt, the project's one requirements file:
#   - a `# core-matrix: ansible-core==X.Y.Z [PKG==VER...]` comment line per version, where the
#     optional PKG==VER pins replace or add to the tool pins for that version only (`ansible==`
#     among them brings that release's collections);
#   - for the version requirements.txt itself pins, its ansible-core line when no matrix line names it;
#   - the tool pins (molecule, molecule-plugins[docker], pytest-testinfra, pytest, pytest-xdist).
# The main virtualenv's `ansible` pin is left out (it pins its own ansible-core). A matrix line
# that pins an `ansible` release of its own gets that release's collections; otherwise the bundle
# in the main virtualenv (made by ensure_venv of bootstrap.sh if needed) is linked into the new
# virtualenv's site-packages, where the `ansible` package would have put it, so Ansible finds it
# on sys.path as in the main virtualenv, also where ANSIBLE_COLLECTIONS_PATH is overridden
# (molecule/*/molecule.yml, ansible-test).
# Safe to rerun: a stamp holding the hash of what was installed makes a rerun do nothing, and
# a changed pin gets a virtualenv of its own, built from scratch (the hash covers the pins,
# the Python's version and the `ansible` pin whose bundle is linked in).
#
# Usage: scripts/core-venv.sh VERSION        (VERSION is a minor version, e.g. 2.19)
# Prints the virtualenv's path on stdout. VENV.collections.env (beside it, in the checkout) sets
# ANSIBLE_COLLECTIONS_PATH to the checkout's .collections plus the bundle; VENV/bundle-path
# holds the bundle path alone. For example:
#   venv=$(scripts/core-venv.sh 2.19) && . "$venv/bin/activate" && . "$venv.collections.env"
set -euo pipefail
shopt -s inherit_errexit

# shellcheck source-path=SCRIPTDIR source=bootstrap.sh
. "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"

TOOLS=(molecule molecule-plugins pytest-testinfra pytest pytest-xdist)

usage() {
  echo "usage: $0 VERSION   (an ansible-core minor version, e.g. 2.19)" >&2
  exit 2
}

# The name of a `NAME[EXTRAS]==VERSION` pin, normalised the way pip compares names.
pin_name() {
  [[ $1 =~ ^[A-Za-z0-9._-]+ ]] || return 1
  local name=${BASH_REMATCH[0],,}
  echo "${name//[_.]/-}"
}

# Pins of requirements.txt: one per line, comments and blank lines left out.
requirement_pins() {
  sed -e 's/[[:space:]]*#.*$//' -e '/^[[:space:]]*$/d' "$REPO_ROOT/requirements.txt"
}

# The ansible-core pin and the extra pins of VERSION's matrix line, one per line.
matrix_pins() {
  local version=$1 line pins pin
  line=$(grep -E "^#[[:space:]]*core-matrix:[[:space:]]*ansible-core==${version/./[.]}[.][0-9]+([[:space:]]|$)" \
    "$REPO_ROOT/requirements.txt" || true)
  if [ -z "$line" ]; then
    pin=$(requirement_pins | grep -E "^ansible-core==${version/./[.]}[.][0-9]+$" || true)
    [ -n "$pin" ] && echo "$pin"
    return 0
  fi
  if [ "$(printf '%s\n' "$line" | wc -l)" -gt 1 ]; then
    echo "requirements.txt has more than one core-matrix line for $version" >&2
    return 1
  fi
  read -r -a pins <<<"${line#*core-matrix:}"
  printf '%s\n' "${pins[@]}"
}

# Everything to install for VERSION: its matrix pins, then the tool pins they do not replace.
version_pins() {
  local version=$1 pin tool found matrix
  local -A overridden=()
  matrix=$(matrix_pins "$version")
  if [ -z "$matrix" ]; then
    echo "requirements.txt pins no ansible-core $version.x; known versions:" >&2
    { grep -oE '^#[[:space:]]*core-matrix:[[:space:]]*ansible-core==[0-9]+\.[0-9]+' "$REPO_ROOT/requirements.txt" \
        | sed 's/.*==//'
      requirement_pins | grep -oE '^ansible-core==[0-9]+\.[0-9]+' | sed 's/.*==//'
    } | sort -uV | sed 's/^/  /' >&2
    return 1
  fi
  while IFS= read -r pin; do
    echo "$pin"
    overridden[$(pin_name "$pin")]=1
  done <<<"$matrix"
  for tool in "${TOOLS[@]}"; do
    [ -n "${overridden[$tool]:-}" ] && continue
    found=
    while IFS= read -r pin; do
      if [ "$(pin_name "$pin")" = "$tool" ]; then
        echo "$pin"
        found=1
      fi
    done < <(requirement_pins)
    if [ -z "$found" ]; then
      echo "requirements.txt has no pin for $tool" >&2
      return 1
    fi
  done
}

# The directory holding the main virtualenv's ansible_collections (the `ansible` package's
# bundle), in the cache itself rather than through the checkout's .venv link: the virtualenvs
# there are shared with other checkouts.
bundle_path() {
  local site
  site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  site=$(readlink -f "$site")
  if [ ! -d "$site/ansible_collections" ]; then
    echo "no collection bundle in $site; is the ansible package pinned in requirements.txt?" >&2
    return 1
  fi
  echo "$site"
}

# Builds VERSION's virtualenv in the cache if needed, linking BUNDLE's collections into it,
# and points the checkout's link at it. Sets CORE_VENV (the link) and CORE_VENV_DIR.
ensure_core_venv() {
  local version=$1 bundle=$2 pins want
  CORE_VENV=$REPO_ROOT/.cache/venvs/core-$version
  pins=$(version_pins "$version")
  want=$( {
    "$(controller_python)" --version
    echo "$pins"
    requirement_pins | grep -E '^ansible==' || true
  } | sha256sum | cut -d' ' -f1)
  CORE_VENV_DIR=$KVMCLOUD_CACHE/venvs/core-$version-${want:0:16}
  with_cache_lock "$CORE_VENV_DIR" build_core_venv "$CORE_VENV_DIR" "$pins" "$want" "$bundle"
  link_cache_dir "$CORE_VENV_DIR" "$CORE_VENV"
  # What a checkout-local virtualenv of before left beside it.
  rm -f "$CORE_VENV.pins"
  prune_cache_siblings "$CORE_VENV_DIR"
}

# Run under the virtualenv's lock: the pins (beside the virtualenv, which --clear empties),
# the virtualenv, and the link to the bundle, replaced in one step when it changed.
build_core_venv() {
  local dir=$1 pins=$2 want=$3 bundle=$4 site
  echo "$pins" >"$dir.pins"
  ensure_venv_at "$dir" "$dir.pins" "$want" --clear
  site=$("$dir/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  if grep -q '^ansible==' <<<"$pins"; then
    # The `ansible` release of this line brought its own collections.
    echo "$site" >"$dir/bundle-path"
    return 0
  fi
  if [ "$(readlink "$site/ansible_collections")" != "$bundle/ansible_collections" ]; then
    ln -sfn "$bundle/ansible_collections" "$site/ansible_collections.new"
    mv -fT "$site/ansible_collections.new" "$site/ansible_collections"
  fi
  echo "$bundle" >"$dir/bundle-path"
}

main() {
  [ $# -eq 1 ] || usage
  [[ $1 =~ ^[0-9]+\.[0-9]+$ ]] || usage
  local bundle
  # Fail on a version without pins before building anything.
  version_pins "$1" >/dev/null
  ensure_venv >&2
  bundle=$(bundle_path)
  ensure_core_venv "$1" "$bundle" >&2
  bundle=$(cat "$CORE_VENV/bundle-path")
  # In the checkout: its .collections is this checkout's own.
  printf 'export ANSIBLE_COLLECTIONS_PATH=%q\n' "$COLLECTIONS_DIR:$bundle" >"$CORE_VENV.collections.env"
  echo "$CORE_VENV"
}

main "$@"
