#!/usr/bin/env bash
# Builds the systemd base image for one Debian suite with mmdebstrap and imports it into
# Docker as kvmcloud-testbed:SUITE. No container registry is reachable here, so images are
# built locally. The image carries a label with the hash of this script: an unchanged recipe
# is a cache hit and costs nothing; a changed one rebuilds.
set -euo pipefail

suite=${1:?usage: base-image.sh bookworm|trixie}
image=kvmcloud-testbed:$suite
recipe=$(sha256sum "$0" | cut -c1-16)

if [ "$(docker image inspect -f '{{ index .Config.Labels "kvmcloud.recipe" }}' "$image" 2>/dev/null)" = "$recipe" ]; then
  exit 0
fi

# Just enough for Ansible and systemd; the roles install everything else themselves.
packages=systemd,systemd-sysv,dbus,python3,python3-apt,sudo,iproute2,ca-certificates

workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT
echo "==> Building $image with mmdebstrap (about 30 s)" >&2
# Keep the package lists, as an installed system has them.
mmdebstrap --quiet --variant=minbase --skip=cleanup/apt/lists --include="$packages" "$suite" "$workdir/rootfs.tar"
docker import \
  --change 'CMD ["/lib/systemd/systemd"]' \
  --change 'ENV container=docker' \
  --change "LABEL kvmcloud.recipe=$recipe" \
  "$workdir/rootfs.tar" "$image" >/dev/null
