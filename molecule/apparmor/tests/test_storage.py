"""Verifies kvm_host's logical, netfs and iscsi storage pools on the live VM (issue 19, part 1).

prepare.yml serves an NFS export and an iSCSI target to the VM itself on loopback and leaves
the VM's second virtual disk blank; the converge declares one pool on each (molecule.yml).
These tests ask libvirt, LVM, the mount table and the iSCSI session list, not the role's
variables. rbd pools are tested offline only (tests/unit: their XML and secret): a Ceph
cluster is too heavy for this VM.
"""

import xml.etree.ElementTree as ElementTree

import pytest

# The second virtual disk, blank until the role built the volume group (tests/vm/vm.sh).
DATA_DISK = "/dev/vdb"
DATA_DISK_LINK = "/dev/disk/by-id/virtio-kvmcloud-data"
IQN = "iqn.2026-12.test.kvmcloud:pools"


def virsh(host, *args):
    return host.run_expect([0], "virsh --connect qemu:///system " + " ".join(args)).stdout


def pool_xml(host, name):
    return ElementTree.fromstring(virsh(host, "pool-dumpxml", name))


def pool_info(host, name):
    """{field: value} of `virsh pool-info`."""
    info = {}
    for line in virsh(host, "pool-info", name).splitlines():
        key, sep, value = line.partition(":")
        if sep:
            info[key.strip()] = value.strip()
    return info


@pytest.mark.parametrize("name", ["lvm-guests", "nfs-images", "san"])
def test_pool_is_active_persistent_and_autostarted(host, name):
    info = pool_info(host, name)
    print("\n%s: %s" % (name, info))
    assert info["State"] == "running"
    assert info["Persistent"] == "yes"
    assert info["Autostart"] == "yes"


def test_logical_pool_is_a_volume_group_on_the_second_disk(host):
    root = pool_xml(host, "lvm-guests")
    devices = [device.get("path") for device in root.findall("source/device")]
    print("\nlvm-guests: type %s, VG %s on %s" % (root.get("type"), root.findtext("source/name"), devices))
    assert root.get("type") == "logical"
    assert root.findtext("source/name") == "kvmtest"
    assert devices == [DATA_DISK]
    # LVM's own view: the VG lies on the second disk (the one with that serial), and on
    # nothing else.
    disk = host.run_expect([0], "readlink -f %s" % DATA_DISK_LINK).stdout.strip()
    pvs = host.run_expect([0], "pvs --noheadings --options pv_name,vg_name").stdout
    print("pvs:\n%s" % pvs)
    assert [line.split() for line in pvs.splitlines() if "kvmtest" in line] == [[disk, "kvmtest"]]


def test_netfs_pool_mounts_the_export_from_loopback(host):
    root = pool_xml(host, "nfs-images")
    assert root.get("type") == "netfs"
    assert root.find("source/host").get("name") == "127.0.0.1"
    assert root.find("source/dir").get("path") == "/srv/nfs/images"
    assert root.find("source/format").get("type") == "nfs"
    mount = host.run_expect([0], "findmnt --noheadings --output SOURCE,FSTYPE /var/lib/libvirt/nfs-images").stdout
    print("\n/var/lib/libvirt/nfs-images: %s" % mount.strip())
    source, fstype = mount.split()
    assert source == "127.0.0.1:/srv/nfs/images"
    assert fstype.startswith("nfs")


def test_iscsi_pool_is_logged_in_to_the_target_and_lists_its_lun(host):
    root = pool_xml(host, "san")
    assert root.get("type") == "iscsi"
    assert root.find("source/host").attrib == {"name": "127.0.0.1", "port": "3260"}
    assert root.find("source/device").get("path") == IQN
    sessions = host.run_expect([0], "iscsiadm --mode session").stdout
    print("\niSCSI sessions:\n%s" % sessions)
    assert "127.0.0.1:3260,1 %s" % IQN in sessions
    volumes = virsh(host, "vol-list", "san", "--details")
    print(volumes)
    # The LUN is the pool's volume (an iSCSI pool cannot make new ones): 256 MiB.
    assert "256.00 MiB" in volumes


@pytest.mark.parametrize("name", ["lvm-guests", "nfs-images"])
def test_a_volume_can_be_made_and_removed_in_the_pool(host, name):
    volume = "kvmtest-probe.qcow2" if name == "nfs-images" else "kvmtest-probe"
    fmt = "qcow2" if name == "nfs-images" else "raw"
    host.run("virsh --connect qemu:///system vol-delete %s --pool %s" % (volume, name))
    try:
        virsh(host, "vol-create-as", name, volume, "64M", "--format", fmt)
        path = virsh(host, "vol-path", volume, "--pool", name).strip()
        print("\n%s: made %s" % (name, path))
        assert host.file(path).exists
        if name == "lvm-guests":
            assert path == "/dev/kvmtest/kvmtest-probe"
            lvs = host.run_expect([0], "lvs --noheadings --options lv_name,vg_name kvmtest").stdout
            assert lvs.split() == ["kvmtest-probe", "kvmtest"]
        else:
            # Written through the mount, it lies in the export on the server side.
            assert host.file("/srv/nfs/images/" + volume).exists
    finally:
        host.run("virsh --connect qemu:///system vol-delete %s --pool %s" % (volume, name))
    assert volume not in virsh(host, "vol-list", name)


def test_building_a_volume_group_never_overwrites_a_device_holding_data(host):
    """What the role's build: true relies on: libvirt's no_overwrite build refuses a device
    with a filesystem on it, and leaves the filesystem as it was."""
    setup = host.run_expect([0], "set -e; truncate -s 64M /root/kvmtest-full.img;"
                            " mkfs.ext4 -q -F -L kvmtest-data /root/kvmtest-full.img;"
                            " losetup --find --show /root/kvmtest-full.img")
    loop = setup.stdout.strip().splitlines()[-1]
    xml = ("<pool type='logical'><name>kvmtest-full</name><source><device path='%s'/><name>kvmtestfull</name>"
           "<format type='lvm2'/></source><target><path>/dev/kvmtestfull</path></target></pool>" % loop)
    try:
        host.run_expect([0], "printf '%%s' \"%s\" > /root/kvmtest-full.xml && virsh --connect qemu:///system "
                        "pool-define /root/kvmtest-full.xml" % xml.replace('"', '\\"'))
        built = host.run("virsh --connect qemu:///system pool-build kvmtest-full --no-overwrite")
        label = host.run_expect([0], "blkid -o value -s LABEL %s" % loop).stdout.strip()
        print("\npool-build --no-overwrite on %s: rc %d, %s; label now %r"
              % (loop, built.rc, (built.stderr or built.stdout).strip(), label))
        assert built.rc != 0
        assert "already formatted" in built.stderr or "does not match" in built.stderr
        assert label == "kvmtest-data"
        assert "kvmtestfull" not in host.run_expect([0], "vgs --noheadings --options vg_name").stdout
    finally:
        host.run("virsh --connect qemu:///system pool-undefine kvmtest-full")
        host.run("losetup --detach %s; rm -f /root/kvmtest-full.img /root/kvmtest-full.xml" % loop)
