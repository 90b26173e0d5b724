#!/usr/bin/env bash
# The main job, with the embedded default: builds and starts a throwaway systemd test host
# (a Docker container named kvmcloud-demo), runs playbooks/kvm_host.yml on it with --diff
# (it ends with an audit summary), then writes the full audit report and prints it.
# From a fresh Debian 12 machine, as root:
#   scripts/demo.sh                       Debian 13 test host
#   KVMCLOUD_DEMO_SUITE=bookworm scripts/demo.sh   Debian 12 test host
# Remove the test host afterwards with: docker rm -f kvmcloud-demo
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bootstrap.sh

suite=${KVMCLOUD_DEMO_SUITE:-trixie}
inventory=inventories/local/hosts.yml

bootstrap "$suite"
# The guests' base image (about a minute the first time, then cached).
ensure_apt_packages qemu-utils e2fsprogs dosfstools mtools fdisk
log "Building the guest image (about a minute the first time, then cached in .cache/guest)"
tests/vm/build-guest-image.sh >/dev/null

log "Starting the throwaway test host kvmcloud-demo (Debian $suite, systemd in Docker)"
tests/testbed/container.sh start kvmcloud-demo "kvmcloud-testbed:$suite"

log "Running playbooks/kvm_host.yml"
ansible-playbook -i "$inventory" playbooks/kvm_host.yml --diff

log "Writing the full audit report"
ansible-playbook -i "$inventory" playbooks/audit.yml -e kvm_audit_report_dir="$PWD/reports"

log "What the test host looks like now"
docker exec kvmcloud-demo sh -c '
  echo "libvirt: $(virsh -c qemu:///system version --daemon | sed -n "s/^Running against daemon: //p")"
  virsh -c qemu:///system pool-list --all
  virsh -c qemu:///system net-list --all
  virsh -c qemu:///system list --all
  ls -l /run/libvirt/libvirt-sock /run/libvirt/libvirt-sock-ro /run/libvirt/libvirt-admin-sock'
echo
cat reports/kvmcloud-demo.md
echo
log "Done. Reports: reports/kvmcloud-demo.{md,json}. Log in with: docker exec -it kvmcloud-demo bash"
