#!/usr/bin/env bash
# Builds a small Debian 13 (trixie) guest disk for the kvm_guests tests: a base image the role
# imports, makes an overlay of, and boots under UEFI Secure Boot with a NoCloud seed.
#
#   build-guest-image.sh
#
# Output in .cache/guest/debian-trixie/:
#   disk.qcow2  compressed qcow2, no backing file; virtual size about 2-3 GiB (the root
#               filesystem is sized from the packages; cloud-init grows it to fill a larger
#               overlay at first boot)
#   checksum    "sha256:HEX" of disk.qcow2, for kvm_guests_base_images[].checksum
#   manifest    the installed packages and versions (dpkg-query), and the boot chain
#   recipe      hash of this script: unchanged recipe = cache hit, nothing is rebuilt
# .cache/guest/debian-trixie is a symlink to the machine's cache, shared by every checkout:
# $KVMCLOUD_CACHE/guest/debian-trixie-RECIPE (tests/vm/image-cache.sh).
#
# The disk: a GPT with
#   1. an EFI system partition (FAT, 64 MiB): \EFI\BOOT\BOOTX64.EFI is Debian's shim signed by
#      Microsoft (so OVMF with Microsoft's keys enrolled starts it), next to it grubx64.efi,
#      Debian's GRUB signed by Debian (shim trusts Debian's key), and mmx64.efi. There are no
#      UEFI boot entries: a new guest's variable store is empty, so the firmware takes the
#      removable-media path \EFI\BOOT\BOOTX64.EFI. No fbx64.efi: with it shim would try to
#      create boot entries and reset the guest first. Debian's signed GRUB has the prefix
#      /EFI/debian built in and reads \EFI\debian\grub.cfg, which loads the kernel and initrd
#      from the root filesystem. Under Secure Boot, GRUB has shim verify the kernel (Debian
#      signs linux-image-cloud-amd64), and the kernel then only loads signed modules.
#   2. an ext4 root filesystem (Linux x86-64 root partition type), found by its UUID.
# Inside: linux-image-cloud-amd64, systemd, cloud-init limited to the NoCloud data source and
# writing systemd-networkd config, qemu-guest-agent (started by udev when its virtio port
# appears), cloud-guest-utils (growpart). The kernel logs to ttyS0 and the guest has a serial
# getty there, so the boot, cloud-init's output and "Secure boot enabled" land in the console
# log that kvm_guests configures. No password and no SSH server: tests read the console log
# and talk to the guest agent.
#
# No loop devices and no mounts of the image: mmdebstrap builds a directory, `mke2fs -d` makes
# the root filesystem from it, `mkfs.vfat -C` and mtools make the ESP, `sfdisk` writes the GPT
# into a sparse file and `dd conv=notrunc` puts both filesystems at their partition offsets.
# Needs (Debian packages): mmdebstrap, e2fsprogs, dosfstools, mtools, fdisk, qemu-utils.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
suite=trixie
out=$here/../../.cache/guest/debian-$suite
recipe=$(sha256sum "$0" | cut -c1-16)

# cloud-init's dependencies bring python3. grub-efi-amd64-signed and shim-signed bring the
# unsigned GRUB tools too; their maintainer scripts do nothing without /boot/efi/EFI/debian.
packages=linux-image-cloud-amd64,systemd-sysv,udev,dbus,kmod,e2fsprogs,netbase,iproute2
packages+=,cloud-init,cloud-guest-utils,qemu-guest-agent
packages+=,shim-signed,grub-efi-amd64-signed

esp_mib=64
# Partition 1 starts at 1 MiB; the backup GPT needs the last 33 sectors: 1 MiB at the end.
align_mib=1

for tool in mmdebstrap mke2fs mkfs.vfat mmd mcopy sfdisk qemu-img; do
  if ! command -v "$tool" >/dev/null; then
    echo "build-guest-image.sh: $tool is missing (apt-get install mmdebstrap e2fsprogs dosfstools mtools fdisk qemu-utils)" >&2
    exit 2
  fi
done

# shellcheck source=tests/vm/image-cache.sh
. "$here/image-cache.sh"
reuse_cached_image "$out" "$recipe"

work=$(mktemp -d "$(dirname "$IMAGE_DIR")/.build-guest-$suite.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
started=$SECONDS

echo "==> Building the Debian $suite guest image with mmdebstrap" >&2
# No recommends: they would pull in eatmydata, sudo and more that the tests do not need.
# Hooks get the root as $1. systemd-networkd applies the network config cloud-init writes.
# shellcheck disable=SC2016
mmdebstrap --quiet --variant=minbase --aptopt='APT::Install-Recommends "false"' \
  --include="$packages" \
  --customize-hook='chroot "$1" systemctl enable --quiet systemd-networkd.service' \
  "$suite" "$root"

kernel=$(find "$root/boot" -name 'vmlinuz-*' -printf '%f\n' | sort -V | tail -n 1)
kernel_version=${kernel#vmlinuz-}
if [ -z "$kernel_version" ] || [ ! -f "$root/boot/initrd.img-$kernel_version" ]; then
  echo "build-guest-image.sh: no kernel and initrd in $root/boot" >&2
  exit 1
fi
for file in usr/lib/shim/shimx64.efi.signed usr/lib/shim/mmx64.efi.signed \
  usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed; do
  if [ ! -f "$root/$file" ]; then
    echo "build-guest-image.sh: /$file is missing from the image" >&2
    exit 1
  fi
done

root_uuid=$(cat /proc/sys/kernel/random/uuid)
cmdline="root=UUID=$root_uuid ro console=tty0 console=ttyS0,115200n8"

echo "UUID=$root_uuid / ext4 defaults,errors=remount-ro 0 1" >"$root/etc/fstab"
echo 'debian' >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
# Empty: systemd makes a machine id at the first boot, so no two guests share one.
: >"$root/etc/machine-id"

# Only the seed kvm_guests attaches (label cidata); without this, cloud-init's ds-identify
# probes for every cloud it knows. Its network config is written for systemd-networkd (the
# image has neither ifupdown nor netplan).
cat >"$root/etc/cloud/cloud.cfg.d/90-kvmcloud.cfg" <<'EOF'
datasource_list: [NoCloud, None]
# No SSH server, so no host keys to make.
ssh_genkeytypes: []
ssh_deletekeys: false
system_info:
  network:
    renderers: [networkd]
    activators: [networkd]
EOF
# cloud-init's later stages wait for the network. A guest on a network without DHCP would
# wait out networkd's 120 s default on every boot: one configured link is enough, or 20 s.
mkdir -p "$root/etc/systemd/system/systemd-networkd-wait-online.service.d"
cat >"$root/etc/systemd/system/systemd-networkd-wait-online.service.d/kvmcloud.conf" <<'EOF'
[Service]
ExecStart=
ExecStart=/usr/lib/systemd/systemd-networkd-wait-online --any --timeout=20
EOF

# The root filesystem: the tree's size plus room for logs, cloud-init's state and apt, so the
# first boot never runs out before growpart has grown the partition.
used_mib=$(du -sxm "$root" | cut -f1)
root_mib=$(((used_mib * 13 / 10 + 512 + 63) / 64 * 64))
truncate -s "${root_mib}M" "$work/root.img"
mke2fs -q -t ext4 -L root -U "$root_uuid" -d "$root" "$work/root.img"

# The ESP, written with mtools: no mount.
mkfs.vfat -n ESP -C "$work/esp.img" $((esp_mib * 1024)) >/dev/null
mmd -i "$work/esp.img" ::/EFI ::/EFI/BOOT ::/EFI/debian
mcopy -i "$work/esp.img" "$root/usr/lib/shim/shimx64.efi.signed" ::/EFI/BOOT/BOOTX64.EFI
mcopy -i "$work/esp.img" "$root/usr/lib/shim/mmx64.efi.signed" ::/EFI/BOOT/mmx64.efi
mcopy -i "$work/esp.img" "$root/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed" ::/EFI/BOOT/grubx64.efi
cat >"$work/grub.cfg" <<EOF
set timeout=0
set default=0
search --no-floppy --fs-uuid --set=root $root_uuid
menuentry 'Debian $suite ($kernel_version)' {
  linux /boot/vmlinuz-$kernel_version $cmdline
  initrd /boot/initrd.img-$kernel_version
}
EOF
mcopy -i "$work/esp.img" "$work/grub.cfg" ::/EFI/debian/grub.cfg

# The disk: GPT in a sparse file, then each filesystem at its partition's offset.
esp_start=$((align_mib * 2048))
root_start=$((esp_start + esp_mib * 2048))
truncate -s $((align_mib + esp_mib + root_mib + align_mib))M "$work/disk.raw"
sfdisk --quiet --no-reread --no-tell-kernel "$work/disk.raw" <<EOF
label: gpt
unit: sectors
first-lba: $esp_start
start=$esp_start, size=$((esp_mib * 2048)), type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI System"
start=$root_start, size=$((root_mib * 2048)), type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name="root"
EOF
dd if="$work/esp.img" of="$work/disk.raw" bs=1M seek="$align_mib" conv=notrunc,sparse status=none
dd if="$work/root.img" of="$work/disk.raw" bs=1M seek=$((align_mib + esp_mib)) conv=notrunc,sparse status=none

# Compressed: the image is copied to every test host; as a read-only backing file the
# compressed clusters cost nothing at run time.
qemu-img convert -c -f raw -O qcow2 "$work/disk.raw" "$work/disk.qcow2"
echo "sha256:$(sha256sum "$work/disk.qcow2" | cut -d' ' -f1)" >"$work/checksum"
{
  echo "# Debian $suite guest image built by tests/vm/build-guest-image.sh ($recipe)"
  echo "kernel: $kernel_version"
  echo "cmdline: $cmdline"
  echo "esp: /EFI/BOOT/BOOTX64.EFI (shimx64.efi.signed), /EFI/BOOT/grubx64.efi (grubx64.efi.signed), /EFI/debian/grub.cfg"
  echo "root: ext4 UUID=$root_uuid, ${root_mib} MiB"
  # shellcheck disable=SC2016 # dpkg-query's format, not the shell's
  dpkg-query --admindir="$root/var/lib/dpkg" -W -f '${Package} ${Version}\n'
} >"$work/manifest"

mv -f "$work/disk.qcow2" "$work/checksum" "$work/manifest" "$IMAGE_DIR/"
echo "$recipe" >"$IMAGE_DIR/recipe"
echo "==> $IMAGE_DIR/disk.qcow2 ($(cat "$IMAGE_DIR/checksum")) in $((SECONDS - started)) s" >&2
