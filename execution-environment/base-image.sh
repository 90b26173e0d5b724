#!/usr/bin/env bash
# Builds the execution environment's base image, kvmcloud-ee-base:trixie, from Debian packages
# with mmdebstrap (no container registry is reachable here), as tests/testbed/base-image.sh does
# for the test hosts. Debian 13: its python3 (3.13) is one ansible-core 2.21 runs on. A label
# holds the hash of the recipe (this script, the apt wrapper and the machine's extra CA
# certificates): an unchanged recipe costs nothing.
set -euo pipefail
cd "$(dirname "$0")"

image=kvmcloud-ee-base:trixie
# Egress here goes through a TLS-inspecting proxy whose CA the machine trusts; pip in the image
# build must trust it too. On a machine without extra CAs this adds nothing.
cas=(/usr/local/share/ca-certificates/*.crt)
[ -e "${cas[0]}" ] || cas=()
recipe=$(cat base-image.sh apt-dnf ${cas[@]+"${cas[@]}"} | sha256sum | cut -c1-16)

if [ "$(docker image inspect -f '{{ index .Config.Labels "kvmcloud.recipe" }}' "$image" 2>/dev/null)" = "$recipe" ]; then
  exit 0
fi

workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT
mkdir "$workdir/ca"
[ ${#cas[@]} -eq 0 ] || cp "${cas[@]}" "$workdir/ca/"
echo "==> Building $image with mmdebstrap" >&2
# A virtualenv, /opt/ee: ansible-builder installs pip with ensurepip, which Debian disables for
# its system python (python3-venv brings it for virtualenvs), and pip then installs there rather
# than over Debian's packages.
# apt-dnf: the package manager ansible-builder is told to call (options.package_manager_path).
# shellcheck disable=SC2016 # mmdebstrap expands $1 (the chroot) in its hooks
mmdebstrap --quiet --variant=minbase --include=python3,python3-venv,ca-certificates \
  --customize-hook="copy-in apt-dnf /usr/local/bin" \
  --customize-hook="sync-in $workdir/ca /usr/local/share/ca-certificates" \
  --customize-hook='chroot "$1" update-ca-certificates' \
  --customize-hook='chroot "$1" python3 -m venv /opt/ee' \
  trixie "$workdir/rootfs.tar"
docker import \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PATH=/opt/ee/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
  --change 'ENV REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt' \
  --change 'CMD ["/bin/bash"]' \
  --change "LABEL kvmcloud.recipe=$recipe" \
  "$workdir/rootfs.tar" "$image" >/dev/null
