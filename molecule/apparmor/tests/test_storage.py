"""Verifies kvm_host's logical, netfs and iscsi storage pools on the live VM (issue 19, part 1).

prepare.yml serves an NFS export and an iSCSI target to the VM itself on loopback and leaves
the VM's second virtual disk blank; the converge declares one pool on each (molecule.yml).
These tests ask libvirt, LVM, the mount table and the iSCSI session list, not the role's
variables. rbd pools are tested offline only (tests/unit: their XML and secret): a Ceph
cluster is too heavy for this VM.

Each command costs seconds over SSH under TCG, so the host is read in one call
(`storage`), and each volume test makes, checks and removes its volume in one call.
"""

import json
from xml.etree import ElementTree

import pytest

# The second virtual disk, blank until the role built the volume group (tests/vm/vm.sh).
DATA_DISK = "/dev/vdb"
DATA_DISK_LINK = "/dev/disk/by-id/virtio-kvmcloud-data"
IQN = "iqn.2026-12.test.kvmcloud:pools"
POOLS = ("lvm-guests", "nfs-images", "san")

# Runs on the VM: everything the tests below read, as JSON.
READ_STORAGE = r"""
import json, subprocess
def out(*argv):
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout
virsh = ['virsh', '--connect', 'qemu:///system']
pools = %r
print(json.dumps({
    'info': {name: out(*virsh, 'pool-info', name) for name in pools},
    'xml': {name: out(*virsh, 'pool-dumpxml', name) for name in pools},
    'san_volumes': out(*virsh, 'vol-list', 'san', '--details'),
    'data_disk': out('readlink', '-f', %r).strip(),
    'pvs': out('pvs', '--noheadings', '--options', 'pv_name,vg_name'),
    'mount': out('findmnt', '--noheadings', '--output', 'SOURCE,FSTYPE', '/var/lib/libvirt/nfs-images'),
    'sessions': out('iscsiadm', '--mode', 'session'),
}))
""" % (POOLS, DATA_DISK_LINK)


@pytest.fixture(scope="module")
def storage(host):
    result = host.run_expect([0], "python3 - <<'EOF'\n%s\nEOF" % READ_STORAGE)
    return json.loads(result.stdout)


def info_of(storage, name):
    """{field: value} of `virsh pool-info`."""
    fields = {}
    for line in storage["info"][name].splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


def xml_of(storage, name):
    return ElementTree.fromstring(storage["xml"][name])


@pytest.mark.parametrize("name", POOLS)
def test_pool_is_active_persistent_and_autostarted(storage, name):
    info = info_of(storage, name)
    print("\n%s: %s" % (name, info))
    assert info["State"] == "running"
    assert info["Persistent"] == "yes"
    assert info["Autostart"] == "yes"


def test_logical_pool_is_a_volume_group_on_the_second_disk(storage):
    root = xml_of(storage, "lvm-guests")
    devices = [device.get("path") for device in root.findall("source/device")]
    print("\nlvm-guests: type %s, VG %s on %s; pvs:\n%s"
          % (root.get("type"), root.findtext("source/name"), devices, storage["pvs"]))
    assert root.get("type") == "logical"
    assert root.findtext("source/name") == "kvmtest"
    assert devices == [DATA_DISK]
    # LVM's own view: the VG lies on the second disk (the one with that serial), and on
    # nothing else.
    assert storage["data_disk"] == DATA_DISK
    assert [line.split() for line in storage["pvs"].splitlines() if "kvmtest" in line] == [[DATA_DISK, "kvmtest"]]


def test_netfs_pool_mounts_the_export_from_loopback(storage):
    root = xml_of(storage, "nfs-images")
    assert root.get("type") == "netfs"
    assert root.find("source/host").get("name") == "127.0.0.1"
    assert root.find("source/dir").get("path") == "/srv/nfs/images"
    assert root.find("source/format").get("type") == "nfs"
    print("\n/var/lib/libvirt/nfs-images: %s" % storage["mount"].strip())
    source, fstype = storage["mount"].split()
    assert source == "127.0.0.1:/srv/nfs/images"
    assert fstype.startswith("nfs")


def test_iscsi_pool_is_logged_in_to_the_target_and_lists_its_lun(storage):
    root = xml_of(storage, "san")
    assert root.get("type") == "iscsi"
    assert root.find("source/host").attrib == {"name": "127.0.0.1", "port": "3260"}
    assert root.find("source/device").get("path") == IQN
    print("\niSCSI sessions:\n%s\n%s" % (storage["sessions"], storage["san_volumes"]))
    assert "127.0.0.1:3260,1 %s" % IQN in storage["sessions"]
    # The LUN is the pool's volume (an iSCSI pool cannot make new ones): 256 MiB, by path.
    assert "256.00 MiB" in storage["san_volumes"]
    assert "ip-127.0.0.1:3260-iscsi-%s-lun-0" % IQN in storage["san_volumes"]


# Runs on the VM: make a volume, show where it lies, remove it, show the pool's list again.
VOLUME_ROUND_TRIP = """
set -e
virsh() {{ command virsh --connect qemu:///system "$@"; }}
virsh vol-delete {volume} --pool {pool} >/dev/null 2>&1 || true
virsh vol-create-as {pool} {volume} 64M --format {format} >/dev/null
path=$(virsh vol-path {volume} --pool {pool})
echo "path=$path"
test -e "$path" && echo exists=yes
{extra}
virsh vol-delete {volume} --pool {pool} >/dev/null
virsh vol-list {pool} | grep -q {volume} && echo listed-after-delete=yes || echo listed-after-delete=no
"""


@pytest.mark.parametrize("pool, volume, fmt, extra, expected", [
    ("lvm-guests", "kvmtest-probe", "raw",
     "echo lv=$(lvs --noheadings --options lv_name,vg_name --separator / kvmtest/kvmtest-probe | xargs)",
     ["path=/dev/kvmtest/kvmtest-probe", "exists=yes", "lv=kvmtest-probe/kvmtest", "listed-after-delete=no"]),
    # Made through the mount, it lies in the export on the server's side.
    ("nfs-images", "kvmtest-probe.qcow2", "qcow2",
     "test -e /srv/nfs/images/kvmtest-probe.qcow2 && echo on-server=yes",
     ["path=/var/lib/libvirt/nfs-images/kvmtest-probe.qcow2", "exists=yes", "on-server=yes",
      "listed-after-delete=no"]),
], ids=["lvm-guests", "nfs-images"])
def test_a_volume_can_be_made_and_removed_in_the_pool(host, pool, volume, fmt, extra, expected):
    script = VOLUME_ROUND_TRIP.format(pool=pool, volume=volume, format=fmt, extra=extra)
    lines = host.run_expect([0], "bash -s <<'KVMTEST'\n%s\nKVMTEST" % script).stdout.split()
    print("\n%s: %s" % (pool, lines))
    assert lines == expected


def test_building_a_volume_group_never_overwrites_a_device_holding_data(host):
    """What the role's build: true relies on: libvirt's no_overwrite build refuses a device
    with a filesystem on it, and leaves the filesystem as it was."""
    script = """
set -e
virsh() { command virsh --connect qemu:///system "$@"; }
truncate -s 64M /root/kvmtest-full.img
mkfs.ext4 -q -F -L kvmtest-data /root/kvmtest-full.img
loop=$(losetup --find --show /root/kvmtest-full.img)
cat >/root/kvmtest-full.xml <<XML
<pool type='logical'><name>kvmtest-full</name><source><device path='$loop'/><name>kvmtestfull</name>
<format type='lvm2'/></source><target><path>/dev/kvmtestfull</path></target></pool>
XML
virsh pool-define /root/kvmtest-full.xml >/dev/null
if virsh pool-build kvmtest-full --no-overwrite 2>/root/kvmtest-full.err; then echo built=yes; else echo built=no; fi
echo "label=$(blkid -o value -s LABEL "$loop")"
vgs --noheadings --options vg_name | grep -q kvmtestfull && echo vg=yes || echo vg=no
virsh pool-undefine kvmtest-full >/dev/null
losetup --detach "$loop"
rm -f /root/kvmtest-full.img /root/kvmtest-full.xml
cat /root/kvmtest-full.err >&2
"""
    result = host.run_expect([0], "bash -s <<'KVMTEST'\n%s\nKVMTEST" % script)
    print("\npool-build --no-overwrite: %s; libvirt said: %s" % (result.stdout.split(), result.stderr.strip()))
    assert result.stdout.split() == ["built=no", "label=kvmtest-data", "vg=no"]
    assert "forced overwrite is necessary" in result.stderr or "already formatted" in result.stderr


def test_a_cephx_key_goes_into_a_private_secret_by_stdin(host):
    """The libvirt side of an rbd pool's secret, without Ceph: the two virsh commands of
    kvm_host's tasks "The rbd pools' libvirt secrets ..." (storage_pools.yml), fed by stdin as
    the role feeds them, with the secret XML its filter makes for a pool named kvmtest-rbd.
    libvirt keeps the value, refuses to hand it back, and its files are root's alone."""
    uuid = "8b340da6-f327-5dc5-ad6e-31d81d32b897"  # secret_uuid() of the pool kvmtest-rbd
    key = "AQBvaBFZAAAAABAAsLKfgyZ9Y6ZXoQ6E4Q5BVA=="  # made up
    script = """
set -e
virsh() {{ command virsh --connect qemu:///system "$@"; }}
virsh secret-define --file /dev/stdin >/dev/null <<XML
<secret ephemeral="no" private="yes">
  <uuid>{uuid}</uuid>
  <usage type="ceph"><name>client.libvirt kvmcloud pool kvmtest-rbd</name></usage>
</secret>
XML
printf '%s' '{key}' | virsh secret-set-value --secret {uuid} --file /dev/stdin >/dev/null
virsh secret-get-value {uuid} >/dev/null 2>&1 && echo readable=yes || echo readable=no
stat -c 'mode=%a:%U' /etc/libvirt/secrets/{uuid}.base64
echo stored=$(base64 -d /etc/libvirt/secrets/{uuid}.base64 | base64 -w0)
virsh secret-undefine {uuid} >/dev/null
test -e /etc/libvirt/secrets/{uuid}.base64 && echo left=yes || echo left=no
""".format(uuid=uuid, key=key)
    lines = host.run_expect([0], "bash -s <<'KVMTEST'\n%s\nKVMTEST" % script).stdout.split()
    print("\n%s" % lines)
    assert lines == ["readable=no", "mode=600:root", "stored=" + key, "left=no"]
