#!/usr/bin/env bash
# Builds the disk image of a tier-2 test VM (QEMU under TCG, booting its own Debian kernel,
# so AppArmor and SELinux can be shown):
#
#   build-image.sh apparmor-trixie | selinux-bookworm
#
# Output in .cache/vm/FLAVOR/: disk.qcow2, vmlinuz, initrd.img (booted directly, no
# bootloader), cmdline (the flavour's kernel arguments), id_ed25519 (root's SSH key) and
# recipe. The recipe is the hash of this script: an unchanged recipe is a cache hit and
# costs nothing; a changed one rebuilds. .cache/vm/FLAVOR is a symlink to the machine's cache,
# $KVMCLOUD_CACHE/vm/FLAVOR-RECIPE (tests/vm/image-cache.sh), shared by every checkout.
#
# No loop mounts: mmdebstrap builds a directory and `mke2fs -d` turns it into a filesystem.
# The hypervisor packages are baked in because installing them inside a TCG VM takes about
# 10 minutes (see shared/testbed.md); the role's install step is then a no-op.
set -euo pipefail

flavor=${1:?usage: build-image.sh apparmor-trixie|selinux-bookworm}
here=$(cd "$(dirname "$0")" && pwd)
out=$here/../../.cache/vm/$flavor
recipe=$(sha256sum "$0" | cut -c1-16)

# What the kvm_host and kvm_network roles install on Debian (roles/*/vars/Debian.yml), plus
# what Ansible and the tests need on a booted system.
packages=linux-image-cloud-amd64,systemd-sysv,udev,dbus,kmod,e2fsprogs,libnss-myhostname
packages+=,openssh-server,python3,python3-apt,sudo,iproute2,procps,ca-certificates
packages+=,qemu-system-x86,qemu-utils,libvirt-daemon-system,libvirt-clients,python3-libvirt
packages+=,python3-lxml,ovmf,augeas-tools,libxml2-utils
packages+=,ebtables,iptables,nftables
# What kvm_guests adds (roles/kvm_guests/vars/Debian.yml).
packages+=,xorriso

case $flavor in
  apparmor-trixie)
    suite=trixie
    packages+=,apparmor,apparmor-utils
    # The storage pools' tools (LVM, the NFS and iSCSI clients libvirt runs) and the NFS
    # server and iSCSI target (LIO, targetcli) the scenario serves itself on loopback.
    # Debian 13 ships libvirt's logical and iSCSI backends in packages of their own.
    packages+=,lvm2,nfs-common,nfs-kernel-server,open-iscsi,targetcli-fb
    packages+=,libvirt-daemon-driver-storage-logical,libvirt-daemon-driver-storage-iscsi
    cmdline='apparmor=1 security=apparmor'
    ;;
  selinux-bookworm)
    suite=bookworm
    # python3-selinux and policycoreutils-python-utils: Ansible's SELinux modules and semanage.
    packages+=,selinux-basics,selinux-policy-default,auditd,policycoreutils-python-utils,python3-selinux
    # The NFS client libvirt mounts a netfs pool with, and the server the scenario serves
    # itself on loopback.
    packages+=,nfs-common,nfs-kernel-server
    cmdline='security=selinux selinux=1 enforcing=1'
    ;;
  *)
    echo "unknown flavour '$flavor' (apparmor-trixie or selinux-bookworm)" >&2
    exit 2
    ;;
esac

# shellcheck source=tests/vm/image-cache.sh
. "$here/image-cache.sh"
reuse_cached_image "$out" "$recipe"

# On the same filesystem as the output: it must hold xattrs (SELinux labels) for mke2fs -d.
work=$(mktemp -d "$(dirname "$IMAGE_DIR")/.build-$flavor.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
echo "==> Building the $flavor VM image with mmdebstrap (a few minutes)" >&2
# Keep the package lists, as an installed system has them. Hooks get the root as $1.
# shellcheck disable=SC2016
mmdebstrap --quiet --variant=minbase --skip=cleanup/apt/lists --include="$packages" \
  --customize-hook='chroot "$1" systemctl enable --quiet systemd-networkd.service' \
  "$suite" "$root"

ssh-keygen -q -t ed25519 -N '' -C "kvmcloud-vm-$flavor" -f "$work/id_ed25519"
install -d -m 0700 "$root/root/.ssh"
install -m 0600 "$work/id_ed25519.pub" "$root/root/.ssh/authorized_keys"

# The root filesystem is the whole virtio disk; vm.sh sets the hostname per VM.
echo '/dev/vda / ext4 defaults 0 0' >"$root/etc/fstab"
echo 'vm' >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
# DHCP on the virtio NIC. QEMU's user network answers DNS at 10.0.2.3; without
# systemd-resolved nothing would write it to resolv.conf.
cat >"$root/etc/systemd/network/10-dhcp.network" <<'EOF'
[Match]
Name=en* eth*

[Network]
DHCP=ipv4
EOF
echo 'nameserver 10.0.2.3' >"$root/etc/resolv.conf"

if [ "$flavor" = selinux-bookworm ]; then
  cat >"$root/etc/selinux/config" <<'EOF'
SELINUX=enforcing
SELINUXTYPE=default
EOF
  # Label every file now, so the VM is enforcing from its first boot (an autorelabel
  # needs a permissive boot and misses the mount-point directories). libselinux sets labels
  # through /proc/self/fd, so /proc is mounted in a private mount namespace. setfiles walks
  # a non-recursive bind mount of the root at /mnt: there /dev, /sys and /run are the bare
  # directories, which must carry their labels too (libvirt is denied mounton an unlabelled
  # /dev), and -r /mnt labels them as if they were at /. (The policy itself leaves the /proc
  # directory unlabelled: `/proc -d <<none>>`.)
  # shellcheck disable=SC2016 # $1 expands in the inner shell
  unshare --mount --propagation private sh -euc '
    mount --bind "$1" "$1/mnt"
    mount -t proc proc "$1/proc"
    chroot "$1" setfiles -F -r /mnt /etc/selinux/default/contexts/files/file_contexts /mnt
  ' labeller "$root"
fi

# Direct kernel boot: the kernel and initrd live next to the image.
cp "$(find "$root/boot" -name 'vmlinuz-*' | sort | tail -n 1)" "$work/vmlinuz"
cp "$(find "$root/boot" -name 'initrd.img-*' | sort | tail -n 1)" "$work/initrd.img"
echo "$cmdline" >"$work/cmdline"

# A sparse 8 GiB filesystem (room for test guests' disks); qcow2 keeps only used blocks.
truncate -s 8G "$work/disk.raw"
mke2fs -q -t ext4 -L root -d "$root" "$work/disk.raw"
qemu-img convert -O qcow2 "$work/disk.raw" "$work/disk.qcow2"

mv -f "$work/disk.qcow2" "$work/vmlinuz" "$work/initrd.img" "$work/cmdline" \
  "$work/id_ed25519" "$work/id_ed25519.pub" "$IMAGE_DIR/"
echo "$recipe" >"$IMAGE_DIR/recipe"
