#!/usr/bin/env bash
# The collection inside a larger playbook, the way a cloud team adopts it: builds the
# tarball, installs it into an empty collections path, copies tests/larger/ (the team's
# site playbook) to a directory outside this repository, and runs the Molecule scenario
# `larger` on it (converge, idempotence, verify). The collections the roles depend on come
# from the `ansible` package in the active virtualenv, as they would on a team's controller.
#
#   tests/larger/run.sh        needs the venv on PATH and the Debian 13 base image
#                              (scripts/bootstrap.sh); scripts/test.sh runs it per ansible-core
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/kvmcloud-larger.XXXXXX)
trap 'rm -rf "$work"' EXIT
# The checkout's ansible.cfg (named, or found in the working directory) would add its
# .collections link: work from outside it.
unset ANSIBLE_CONFIG
cd "$work"

ansible-galaxy collection build --output-path "$work/build" "$repo" >/dev/null
ansible-galaxy collection install --offline --no-deps -p "$work/collections" \
  "$work"/build/kvmcloud-hypervisor-*.tar.gz >/dev/null
cp -r "$repo/tests/larger" "$work/site"

export KVMCLOUD_LARGER_DIR=$work/site KVMCLOUD_LARGER_COLLECTIONS=$work/collections
# Exactly one kvmcloud.hypervisor is visible, and it is the installed tarball.
found=$(ANSIBLE_COLLECTIONS_PATH=$work/collections \
  ansible-galaxy collection list kvmcloud.hypervisor --format json)
python3 - "$found" "$work/collections" <<'PY'
import json, sys
paths = [path for path, found in json.loads(sys.argv[1]).items() if "kvmcloud.hypervisor" in found]
if paths != [sys.argv[2] + "/ansible_collections"]:
    sys.exit("kvmcloud.hypervisor should be found only in the tarball's install, found in: %s" % paths)
print("kvmcloud.hypervisor found only in", paths[0])
PY
echo "ansible-core $(ansible --version | sed -n '1s/.*core \([0-9.]*\).*/\1/p')"
# Molecule finds its scenarios from the project directory; it hands Ansible a config of its own.
cd "$repo"
molecule test --scenario-name larger
