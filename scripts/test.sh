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

# qemu boots the VMs of the apparmor and selinux scenarios; mmdebstrap and e2fsprogs build their disks.
ensure_apt_packages shellcheck qemu-system-x86 qemu-utils e2fsprogs openssh-client
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

# The tarball must install into a clean collections path and work from there, away from
# this checkout (which ansible.cfg links in as a collection too).
build_and_install_collection() {
  local out=$PWD/.cache/build
  rm -rf "$out" && mkdir -p "$out/collections"
  ansible-galaxy collection build --force --output-path "$out" . &&
    ansible-galaxy collection install --offline --no-deps --force -p "$out/collections" \
      "$out"/kvmcloud-hypervisor-*.tar.gz &&
    test -f "$out/collections/ansible_collections/kvmcloud/hypervisor/MANIFEST.json" &&
    (cd / && env -u ANSIBLE_CONFIG ANSIBLE_COLLECTIONS_PATH="$out/collections" \
      ansible-doc kvmcloud.hypervisor.kvm_host_facts kvmcloud.hypervisor.kvm_audit \
      kvmcloud.hypervisor.libvirt_conf >/dev/null)
}

step "yamllint" yamllint --strict .
step "ansible-lint (production profile)" ansible-lint --nocolor
# shellcheck disable=SC2046 # one word per tracked file is what we want
step "shellcheck" shellcheck -x $(git ls-files "*.sh") .ci/run
step "collection builds, installs and its docs render" build_and_install_collection
step "ansible-test sanity and units" scripts/ansible-test.sh
if ! $quick; then
  step "molecule: default (Debian 12 + 13 containers)" molecule test --scenario-name default
  step "molecule: apparmor (Debian 13 VM under TCG: kernel, AppArmor sVirt)" molecule test --scenario-name apparmor
  step "molecule: selinux (Debian 12 VM under TCG: SELinux enforcing sVirt)" molecule test --scenario-name selinux
fi

echo
printf '%s\n' "${results[@]}"
echo "suite: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
