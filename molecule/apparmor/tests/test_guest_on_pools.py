"""Verifies the guest kvm_guests put on kvm_host's pools (issue 19, part 3) on the live VM.

molecule.yml declares the guest `pooled` with one disk on each pool type but rbd: its boot
disk on the logical pool (a new volume holding a copy of the base image), an overlay of the
base image in the `tenants` directory pool, an empty disk on the NFS pool and LUN 0 of the
iSCSI pool. The converge defined it shut off, with its disks made.

`pooled` itself is never started here: its UEFI firmware under TCG inside this TCG VM took
the VM's CPUs until SSH stopped answering (twice, 2026-12-06). So a throwaway guest with
SeaBIOS, which halts quietly with nothing to boot, is started with the disks exactly as the
role's definition declares them (copied from `virsh dumpxml --inactive pooled`): what
AppArmor and virt-aa-helper see is the same. These tests ask libvirt, LVM, the NFS server's
directory, qemu-img, AppArmor and the kernel log, not the scenario's variables.
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

# Denials QEMU meets with these disks, and why each is harmless; anything else fails.
HARMLESS = {
    "queue/zoned": "QEMU asks sysfs whether a block device is zoned, and takes it as not zoned when it cannot read",
}

# Runs on the VM, in one SSH round trip: the role's disks and what libvirt and LVM say of
# them, then the throwaway guest with those disks started, read and removed.
READ = r"""
import json, os, subprocess, time
from xml.etree import ElementTree
def out(*argv):
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout
virsh = ['virsh', '--connect', 'qemu:///system']
declared = ElementTree.fromstring(out(*virsh, 'dumpxml', '--inactive', %(guest)r))
disks = declared.findall('devices/disk')
for disk in disks:
    # The throwaway guest has no iothreads, boots nothing, and places its own devices.
    disk.find('driver').attrib.pop('iothread', None)
    for child in disk.findall('boot') + disk.findall('address'):
        disk.remove(child)
probe = ElementTree.fromstring(
    "<domain type='qemu'><name>pooled-probe</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>"
    "<os><type arch='x86_64' machine='q35'>hvm</type></os><devices/></domain>")
probe.find('devices').extend(disks)
with open('/tmp/pooled-probe.xml', 'w') as handle:
    handle.write(ElementTree.tostring(probe, encoding='unicode'))
with open(%(lv)r, 'rb') as lv:
    head = lv.read(64).split(b'\0')[0].decode('ascii', 'replace')
seen = {
    'declared_disks': [ElementTree.tostring(disk, encoding='unicode') for disk in disks],
    'state': out(*virsh, 'domstate', %(guest)r).strip(),
    'realpaths': {path: os.path.realpath(path) for path in (%(lv)r, %(lun)r)},
    'lv_head': head,
    'lvs': out('lvs', '--noheadings', '--units', 'b', '--options', 'lv_name,lv_size', 'kvmtest'),
    'volumes': {pool: out(*virsh, 'vol-list', pool) for pool in ('lvm-guests', 'tenants', 'nfs-images')},
    'on_server': os.path.exists('/srv/nfs/images/pooled-disk2.qcow2'),
    'overlay': json.loads(out('qemu-img', 'info', '-U', '--output=json', %(tenants)r)),
}
since = time.time()
out(*virsh, 'define', '/tmp/pooled-probe.xml')
try:
    out(*virsh, 'start', 'pooled-probe')
    pid = open('/run/libvirt/qemu/pooled-probe.pid').read().strip()
    uuid = out(*virsh, 'domuuid', 'pooled-probe').strip()
    seen.update({
        'uuid': uuid,
        'probe_state': out(*virsh, 'domstate', 'pooled-probe').strip(),
        'probe_xml': out(*virsh, 'dumpxml', 'pooled-probe'),
        'label': open('/proc/%%s/attr/current' %% pid).read().strip('\0\n'),
        # virt-aa-helper removes the guest's profile when the guest stops: read while it runs.
        'rules': open('/etc/apparmor.d/libvirt/libvirt-%%s.files' %% uuid).read(),
    })
finally:
    subprocess.run([*virsh, 'destroy', 'pooled-probe'], capture_output=True)
    subprocess.run([*virsh, 'undefine', 'pooled-probe'], capture_output=True)
# journalctl exits 1 when nothing matches.
seen['kernel_log'] = subprocess.run(
    ['journalctl', '--dmesg', '--no-pager', '--output=cat', '--since', '@%%d' %% since, '--grep', 'apparmor="DENIED"'],
    capture_output=True, text=True).stdout
print(json.dumps(seen))
""" % {"guest": GUEST, "lv": LV, "lun": LUN, "tenants": TENANTS_DISK}


@pytest.fixture(scope="module")
def guest(host):
    seen = json.loads(host.run_expect([0], "python3 - <<'EOF'\n%s\nEOF" % READ).stdout)
    seen["probe_root"] = ElementTree.fromstring(seen["probe_xml"])
    return seen


def disk_sources(disks):
    return [(disk.get("type"), disk.find("driver").get("type"),
             disk.find("source").get("dev") or disk.find("source").get("file")) for disk in disks]


def test_the_role_declares_each_disk_on_its_pool(guest):
    declared = disk_sources([ElementTree.fromstring(disk) for disk in guest["declared_disks"]])
    print("\n%s (%s):\n%s" % (GUEST, guest["state"], "\n".join(map(str, declared))))
    assert guest["state"] == "shut off"
    assert declared == [("block", "raw", LV), ("file", "qcow2", TENANTS_DISK), ("file", "qcow2", NFS_DISK),
                        ("block", "raw", LUN)]


def test_a_guest_with_those_disks_runs_confined_by_its_own_profile(guest):
    print("\npooled-probe: %s, %s" % (guest["probe_state"], guest["label"]))
    assert guest["probe_state"] == "running"
    assert guest["label"] == "libvirt-%s (enforce)" % guest["uuid"]
    live = disk_sources(guest["probe_root"].findall("devices/disk"))
    assert live == [("block", "raw", LV), ("file", "qcow2", TENANTS_DISK), ("file", "qcow2", NFS_DISK),
                    ("block", "raw", LUN)]


def test_the_logical_volume_was_made_for_the_guest_and_holds_a_copy_of_the_base(guest):
    print("\nlvs: %s\nhead of %s: %r" % (guest["lvs"].strip(), LV, guest["lv_head"]))
    sizes = dict(line.split() for line in guest["lvs"].splitlines() if line.strip())
    assert sizes["pooled-disk0"] == "%dB" % (1 << 30)
    assert guest["lv_head"] == MARKER
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
    devices = sorted(set(guest["realpaths"].values()))
    print("\nbehind the volumes: %s\nprofile:\n%s" % (guest["realpaths"], guest["rules"]))
    for path in devices + [TENANTS_DISK, NFS_DISK]:
        assert re.search(r'^\s*"%s" rwk?,' % re.escape(path), guest["rules"], re.M), path
    assert all(re.match(r"/dev/(dm-|sd)", path) for path in devices)


def test_no_apparmor_denial_but_known_harmless_ones(guest):
    denials = [line for line in guest["kernel_log"].splitlines() if guest["uuid"] in line]
    unexpected = []
    for line in denials:
        reasons = [reason for needle, reason in HARMLESS.items() if needle in line]
        print("\n%s\n  -> %s" % (line, reasons[0] if reasons else "UNEXPECTED"))
        if not reasons:
            unexpected.append(line)
    assert unexpected == []
