"""Verifies the guest kvm_guests put on kvm_host's pools (issue 19, part 3) on the live VM.

molecule.yml declares the guest `pooled` with one disk on each pool type but rbd: its boot
disk on the logical pool (a new volume holding a copy of the base image), an overlay of the
base image in the `tenants` directory pool, an empty disk on the NFS pool and LUN 0 of the
iSCSI pool. The converge defined it shut off, with its disks made. These tests start it as
the role would (virsh start), then ask libvirt (the live domain XML), LVM, the NFS server's
directory, qemu-img, AppArmor and the kernel log, not the scenario's variables.

The guest has no OS and sits in its UEFI firmware, which under TCG inside this TCG VM takes
the VM's CPUs: it runs only for the one read below and is stopped again.
"""

import json
import re
from xml.etree import ElementTree

import pytest

GUEST = "pooled"
IQN = "iqn.2026-12.test.kvmcloud:pools"
LV = "/dev/kvmtest/pooled-disk0"
LUN = "/dev/disk/by-path/ip-127.0.0.1:3260-iscsi-%s-lun-0" % IQN
TENANTS_DISK = "/data/libvirt/tenants/pooled-disk1.qcow2"
NFS_DISK = "/var/lib/libvirt/nfs-images/pooled-disk2.qcow2"
BASE = "/var/lib/libvirt/images/base/marker.raw"
MARKER = "KVMCLOUD-BASE-MARKER\n"

# Runs on the VM: everything the tests read, in one SSH round trip.
READ = r"""
import json, os, subprocess
def out(*argv):
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout
virsh = ['virsh', '--connect', 'qemu:///system']
out(*virsh, 'start', %(guest)r)
xml = out(*virsh, 'dumpxml', %(guest)r)
pid = open('/run/libvirt/qemu/%(guest)s.pid').read().strip()
uuid = out(*virsh, 'domuuid', %(guest)r).strip()
# virt-aa-helper removes the guest's profile when the guest stops: read while it runs.
rules = open('/etc/apparmor.d/libvirt/libvirt-%%s.files' %% uuid).read()
with open(%(lv)r, 'rb') as lv:
    head = lv.read(64).split(b'\0')[0].decode('ascii', 'replace')
print(json.dumps({
    'state': out(*virsh, 'domstate', %(guest)r).strip(),
    'xml': xml,
    'label': open('/proc/%%s/attr/current' %% pid).read().strip('\0\n'),
    'rules': rules,
    'realpaths': {path: os.path.realpath(path) for path in (%(lv)r, %(lun)r)},
    'lv_head': head,
    'lvs': out('lvs', '--noheadings', '--units', 'b', '--options', 'lv_name,lv_size', 'kvmtest'),
    'volumes': {pool: out(*virsh, 'vol-list', pool) for pool in ('lvm-guests', 'tenants', 'nfs-images')},
    'on_server': os.path.exists('/srv/nfs/images/pooled-disk2.qcow2'),
    'overlay': json.loads(out('qemu-img', 'info', '-U', '--output=json', %(tenants)r)),
    # journalctl exits 1 when nothing matches.
    'kernel_log': subprocess.run(['journalctl', '--dmesg', '--no-pager', '--output=cat', '--grep', 'apparmor="DENIED"'],
                                 capture_output=True, text=True).stdout,
}))
""" % {"guest": GUEST, "lv": LV, "lun": LUN, "tenants": TENANTS_DISK}


@pytest.fixture(scope="module")
def guest(host):
    try:
        result = host.run_expect([0], "python3 - <<'EOF'\n%s\nEOF" % READ)
    finally:
        # Shut off again, as declared, whatever the read found.
        host.run("virsh --connect qemu:///system destroy %s" % GUEST)
    seen = json.loads(result.stdout)
    seen["root"] = ElementTree.fromstring(seen["xml"])
    return seen


def test_the_guest_runs_confined_by_its_own_profile(guest):
    uuid = guest["root"].findtext("uuid")
    print("\n%s: %s, %s" % (GUEST, guest["state"], guest["label"]))
    assert guest["state"] == "running"
    assert guest["label"] == "libvirt-%s (enforce)" % uuid


def test_each_disk_lives_on_its_pool_in_the_live_xml(guest):
    disks = [(disk.get("type"), disk.find("driver").get("type"),
              disk.find("source").get("dev") or disk.find("source").get("file"))
             for disk in guest["root"].findall("devices/disk")]
    print("\n" + "\n".join(map(str, disks)))
    assert disks == [("block", "raw", LV), ("file", "qcow2", TENANTS_DISK), ("file", "qcow2", NFS_DISK),
                     ("block", "raw", LUN)]


def test_the_logical_volume_was_made_for_the_guest_and_holds_a_copy_of_the_base(guest):
    print("\nlvs: %s\nhead of %s: %r" % (guest["lvs"].strip(), LV, guest["lv_head"]))
    sizes = dict(line.split() for line in guest["lvs"].splitlines() if line.strip())
    assert sizes["pooled-disk0"] == "%dB" % (1 << 30)
    assert guest["lv_head"] + "\n" == MARKER
    assert "pooled-disk0" in guest["volumes"]["lvm-guests"]


def test_the_directory_pool_disk_overlays_the_base_and_libvirt_lists_it(guest):
    overlay = guest["overlay"]
    print("\n%s: %s over %s (%s)" % (TENANTS_DISK, overlay["format"], overlay.get("full-backing-filename"),
                                     overlay.get("backing-filename-format")))
    assert overlay["format"] == "qcow2"
    assert overlay["full-backing-filename"] == BASE
    assert overlay["backing-filename-format"] == "raw"
    assert "pooled-disk1.qcow2" in guest["volumes"]["tenants"]


def test_the_nfs_pool_disk_lies_in_the_export(guest):
    assert guest["on_server"]
    assert "pooled-disk2.qcow2" in guest["volumes"]["nfs-images"]


def test_the_guest_profile_grants_the_devices_behind_the_volumes(guest):
    """QEMU opens what the links point at (/dev/dm-N, /dev/sdX): virt-aa-helper must have
    written those into the guest's profile, with the files of the file pools."""
    rules = guest["rules"]
    devices = sorted(set(guest["realpaths"].values()))
    print("\nbehind the volumes: %s\nprofile:\n%s" % (guest["realpaths"], rules))
    for path in devices + [TENANTS_DISK, NFS_DISK]:
        assert re.search(r'^\s*"%s" rwk?,' % re.escape(path), rules, re.M), path
    assert all(re.match(r"/dev/(dm-|sd)", path) for path in devices)


def test_no_apparmor_denial_names_the_guest(guest):
    uuid = guest["root"].findtext("uuid")
    denials = [line for line in guest["kernel_log"].splitlines() if uuid in line]
    print("\ndenials for libvirt-%s: %s" % (uuid, denials))
    assert denials == []
