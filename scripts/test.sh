#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine (as root):
#   scripts/test.sh            lint, build, sanity and unit tests, every Molecule scenario
#   scripts/test.sh --quick    everything but the Molecule scenarios
# It installs what it needs first (apt packages, Docker, the virtualenv, the base images).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bootstrap.sh

quick=false
[ "${1:-}" = "--quick" ] && quick=true

ensure_apt_packages shellcheck
bootstrap bookworm trixie

passed=0
failed=0
results=()

# Runs one step, times it, and keeps going after a failure so one run shows every problem.
step() {
  local name=$1 start rc
  shift
  log "$name"
  start=$(date +%s)
  if "$@"; then rc=0; else rc=$?; fi
  local took=$(($(date +%s) - start))
  if [ $rc -eq 0 ]; then
    passed=$((passed + 1))
    results+=("PASS  $name (${took}s)")
  else
    failed=$((failed + 1))
    results+=("FAIL  $name (${took}s, exit $rc)")
  fi
}

build_and_install_collection() {
  local out=.cache/build
  rm -rf "$out" && mkdir -p "$out/collections"
  ansible-galaxy collection build --force --output-path "$out" . &&
    ansible-galaxy collection install --offline --no-deps -p "$out/collections" "$out"/kvmcloud-hypervisor-*.tar.gz &&
    ANSIBLE_COLLECTIONS_PATH="$out/collections" ansible-doc kvmcloud.hypervisor.kvm_host_facts >/dev/null &&
    ANSIBLE_COLLECTIONS_PATH="$out/collections" ansible-doc kvmcloud.hypervisor.kvm_audit >/dev/null
}

step "yamllint" yamllint --strict .
step "ansible-lint (production profile)" ansible-lint --nocolor
step "shellcheck" shellcheck scripts/*.sh tests/testbed/*.sh roles/kvm_host/files/libvirt-conf-check .ci/run
step "collection builds, installs and its docs render" build_and_install_collection
step "ansible-test sanity and units" scripts/ansible-test.sh
if ! $quick; then
  step "molecule: default (Debian 12 + 13 containers)" molecule test --scenario-name default
fi

echo
printf '%s\n' "${results[@]}"
echo "suite: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
