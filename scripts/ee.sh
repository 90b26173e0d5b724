#!/usr/bin/env bash
# Builds the execution environment (execution-environment.yml) as kvmcloud-hypervisor-ee:latest
# and proves it: from inside the image, playbooks/kvm_host.yml (as shipped in the collection)
# converges a throwaway test host, and a rerun must change nothing.
#   scripts/ee.sh                        build (skipped when nothing changed) and test
#   KVMCLOUD_EE_NO_CACHE=1 scripts/ee.sh  rebuild the image without Docker's layer cache
# The test host, kvmcloud-ee-target, is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bootstrap.sh

image=kvmcloud-hypervisor-ee:latest
target=kvmcloud-ee-target
work=$(mktemp -d)
trap 'tests/testbed/container.sh remove "$target"; rm -rf "$work"' EXIT

bootstrap trixie
ensure_apt_packages qemu-utils e2fsprogs dosfstools mtools fdisk
log "Base images and the guest image (each cached by its recipe)"
start=$SECONDS
nice -n 10 execution-environment/base-image.sh
nice -n 10 tests/vm/build-guest-image.sh >/dev/null
log "Base images ready in $((SECONDS - start)) s"

log "The collection's tarball, under the name execution-environment.yml expects"
ansible-galaxy collection build --force --output-path "$work" . >/dev/null
cp "$work"/kvmcloud-hypervisor-*.tar.gz execution-environment/kvmcloud-hypervisor.tar.gz

# The tarball's own file list with checksums, not its bytes, which change with mtimes.
recipe=$({
  find execution-environment.yml execution-environment -type f ! -name '*.tar.gz' | sort | xargs cat
  docker image inspect -f '{{ .Id }}' kvmcloud-ee-base:trixie
  tar -xzOf execution-environment/kvmcloud-hypervisor.tar.gz MANIFEST.json FILES.json
} | sha256sum | cut -c1-16)
if [ -z "${KVMCLOUD_EE_NO_CACHE:-}" ] &&
  [ "$(docker image inspect -f '{{ index .Config.Labels "kvmcloud.recipe" }}' "$image" 2>/dev/null)" = "$recipe" ]; then
  log "$image is up to date (recipe $recipe)"
else
  log "ansible-builder build: $image (recipe $recipe)"
  start=$SECONDS
  previous=$(docker image inspect -f '{{ .Id }}' "$image" 2>/dev/null || true)
  # The build runs in the Docker daemon, not under our nice: low CPU shares instead, as other
  # jobs share this machine.
  nice -n 10 ansible-builder build -f execution-environment.yml -c .cache/ee-build -t "$image" \
    --container-runtime docker -v 2 ${KVMCLOUD_EE_NO_CACHE:+--no-cache} \
    --extra-build-cli-args "--cpu-shares 256 --label kvmcloud.recipe=$recipe"
  log "Built in $((SECONDS - start)) s"
  # The replaced image would stay behind untagged, a few hundred MB each rebuild.
  if [ -n "$previous" ] && [ "$previous" != "$(docker image inspect -f '{{ .Id }}' "$image")" ]; then
    docker rmi "$previous" >/dev/null 2>&1 || true
  fi
fi

log "Starting the test host $target, with sshd and a key made for this run"
tests/testbed/container.sh start "$target" kvmcloud-testbed:trixie
docker exec "$target" sh -c 'apt-get update -q && DEBIAN_FRONTEND=noninteractive \
  apt-get install -q -y --no-install-recommends openssh-server && systemctl start ssh' >/dev/null
mkdir -m 700 "$work/ssh"
ssh-keygen -q -t ed25519 -N '' -C "$target" -f "$work/ssh/id_ed25519"
docker exec "$target" install -d -m 700 /root/.ssh
docker cp "$work/ssh/id_ed25519.pub" "$target:/root/.ssh/authorized_keys"
# The image runs as uid 1000, as AWX runs it; ssh reads only a key its user owns.
chown -R 1000:0 "$work/ssh"
address=$(docker inspect -f '{{ range .NetworkSettings.Networks }}{{ .IPAddress }}{{ end }}' "$target")

# The demo's inventory, as it is, and on top of it (a later inventory source wins) how the EE
# reaches its host kvmcloud-demo, which is this target here: over ssh, the EE's own connection,
# as root with the key made for this run. Extra vars would do that for localhost too, where the
# roles' controller-side tasks run. The guest image sits where the demo's inventory looks for
# it, ../../.cache/guest beside inventories/local. The checkout's ansible.cfg is not in the
# image: its pipelining comes as a variable.
cat >"$work/ssh/hosts.yml" <<EOF
kvm_hosts:
  hosts:
    kvmcloud-demo:
      ansible_connection: ssh
      ansible_host: $address
      ansible_user: root
      ansible_ssh_private_key_file: /runner/ssh/id_ed25519
      # A new throwaway host, with a new host key, each run.
      ansible_ssh_common_args: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
EOF
in_ee() {
  docker run --rm \
    -v "$PWD/inventories/local:/runner/inventories/local:ro" -v "$work/ssh:/runner/ssh:ro" \
    -v "$PWD/.cache/guest/debian-trixie:/runner/.cache/guest/debian-trixie:ro" \
    -e ANSIBLE_PIPELINING=True -e ANSIBLE_FORCE_COLOR=False \
    "$image" ansible-playbook -i /runner/inventories/local/hosts.yml -i /runner/ssh/hosts.yml \
    kvmcloud.hypervisor.kvm_host
}

log "Converging $target from inside $image"
start=$SECONDS
in_ee
log "Converged in $((SECONDS - start)) s; rerunning, which must change nothing"
start=$SECONDS
in_ee | tee "$work/rerun.log"
log "Rerun took $((SECONDS - start)) s"
if ! grep -Eq "^kvmcloud-demo +: ok=[0-9]+ +changed=0 +unreachable=0 +failed=0 " "$work/rerun.log"; then
  log "The rerun changed something or failed:"
  sed -n '/^PLAY RECAP/,$p' "$work/rerun.log" >&2
  exit 1
fi
log "The rerun changed nothing: $image runs the collection"
