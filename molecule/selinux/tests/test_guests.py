"""Two guests running at once on the converged VM, one with its disk in the custom pool and
its RAM in hugepages: each is confined by SELinux with its own MCS pair (sVirt), its files
carry the same pair, libvirt starts them without an SELinux denial, and kvm_audit agrees.

The guests get the domain type the collection gives guests on this host (conftest.py):
'kvm' here, as the VM's emulated CPU has SVM and its kvm_amd runs nested guests.
"""

import json
import re

import pytest
from guests import guest_images, running_guests, virsh

from conftest import now, unexpected_denials

# Guest name: the storage pool directory its disk is in.
POOLS = {"tenant-a": "/var/lib/libvirt/images", "tenant-b": "/srv/libvirt/tenants"}
# Its RAM comes from the hugepages kvm_host reserves (kvm_host_hugepages_2m_count).
HUGEPAGES_GUEST = "tenant-b"
PROCESS_LABEL = re.compile(r"^system_u:system_r:(svirt_t|svirt_tcg_t):s0:(c\d+,c\d+)$")
IMAGE_LABEL = re.compile(r"^system_u:object_r:svirt_image_t:s0:(c\d+,c\d+)$")


@pytest.fixture(scope="module")
def guests(host, domain_type):
    """{name: qemu pid} of the two running guests, and the time they started."""
    since = now(host)
    with running_guests(host, POOLS, domain_type, hugepages=[HUGEPAGES_GUEST]) as pids:
        yield {"pids": pids, "since": since}


def test_each_guest_runs_confined_with_its_own_mcs_pair(host, guests, domain_type):
    pairs = {}
    for name, pid in guests["pids"].items():
        label = host.file("/proc/%s/attr/current" % pid).content_string.strip("\0\n")
        info = virsh(host, "dominfo", name)
        cmdline = host.file("/proc/%s/cmdline" % pid).content_string.replace("\0", " ")
        accel = re.search(r"-accel (\w+)|accel=(\w+)", cmdline)
        print("\n%s pid %s: %s (accel %s)" % (name, pid, label, accel.group(1) or accel.group(2)))
        match = PROCESS_LABEL.match(label)
        assert match, label
        pairs[name] = match.group(2)
        assert "Security model: selinux" in info
        assert re.search(r"^Security label: %s \(enforcing\)$" % re.escape(label), info, re.MULTILINE), info
        # The guest runs the way the collection would run it on this host.
        assert (accel.group(1) or accel.group(2)) == ("kvm" if domain_type == "kvm" else "tcg")
        # QEMU does not run as root (Q4).
        assert host.file("/proc/%s" % pid).user == "libvirt-qemu"
    assert len(set(pairs.values())) == len(pairs), pairs


def test_each_disk_carries_its_guest_pair(host, guests):
    for name, pid in guests["pids"].items():
        process_pair = host.file("/proc/%s/attr/current" % pid).content_string.strip("\0\n").split(":", 4)[4]
        image = guest_images(name, POOLS[name])[0]
        # stat reads the security.selinux attribute of the file (getfattr is not installed).
        disk = host.run_expect([0], "stat -c %%C %s" % image).stdout.strip()
        print("\n%s: %s" % (image, disk))
        match = IMAGE_LABEL.match(disk)
        assert match, disk
        assert match.group(1) == process_pair


def test_hugepage_memory_carries_its_guest_pair(host, guests):
    # libvirt gives each guest a directory on hugetlbfs with the guest's label; QEMU maps its
    # RAM from a file there (the local module allows both steps).
    pid = guests["pids"][HUGEPAGES_GUEST]
    pair = host.file("/proc/%s/attr/current" % pid).content_string.strip("\0\n").split(":", 4)[4]
    directory = host.run_expect([0], "ls -d /dev/hugepages/libvirt/qemu/*-%s" % HUGEPAGES_GUEST).stdout.strip()
    label = host.run_expect([0], "stat -c %%C %s" % directory).stdout.strip()
    maps = host.run_expect([0], "grep -c ' %s/' /proc/%s/maps" % (directory, pid)).stdout.strip()
    print("\n%s: %s, %s mapping(s) in QEMU" % (directory, label, maps))
    assert label == "system_u:object_r:svirt_image_t:s0:%s" % pair
    assert int(maps) > 0


def test_guests_started_without_selinux_denials(host, guests):
    assert unexpected_denials(host, guests["since"]) == []
    # What was denied did not stop anything: virtlogd runs and holds each guest's log.
    assert host.service("virtlogd").is_running
    for name in guests["pids"]:
        assert "starting up" in host.file("/var/log/libvirt/qemu/%s.log" % name).content_string


def test_kvm_audit_agrees_while_guests_run(host, guests):
    result = host.ansible("kvmcloud.hypervisor.kvm_audit", json.dumps({"virt_host_validate": False}),
                          check=False, become=True)
    assert "controls" in result, result
    controls = {control["id"]: control for control in result["controls"]}
    for cid, control in sorted(controls.items()):
        print("\n%s %s: %s" % (cid, control["status"], control["evidence"]))
    must_pass = ["H1", "Q1", "Q2", "Q3", "S1", "S3"]
    assert {cid: controls[cid]["status"] for cid in must_pass} == dict.fromkeys(must_pass, "pass")
    # virt_use_nfs is on for the NFS pool, whose files no guest's MCS pair protects.
    assert "open to every guest: pool(s) nfs-images" in controls["S3"]["evidence"]
    # Q3 judged the two running guests.
    for name in guests["pids"]:
        assert name in controls["Q3"]["evidence"]


# The guest kvm_guests defined with its boot disk an overlay on the NFS pool (molecule.yml),
# and the file on the export. It is defined shut off; this test starts it as it is (UEFI, the
# virtio RNG from /dev/urandom, the guest agent's channel), reads it, and stops it again.
NFS_GUEST = "nfs-guest"
NFS_MOUNT = "/var/lib/libvirt/nfs-images"
NFS_DISK = NFS_MOUNT + "/nfs-guest-disk0.qcow2"
NFS_EXPORTED = "/srv/nfs/images/nfs-guest-disk0.qcow2"
AGENT_SOCKET = "/var/lib/libvirt/qemu/channel/target/domain-*-%s/org.qemu.guest_agent.0" % NFS_GUEST


@pytest.fixture(scope="module")
def nfs_guest(host):
    since = now(host)
    seen = {
        "since": since,
        "state": virsh(host, "domstate", NFS_GUEST).strip(),
        "declared": virsh(host, "dumpxml", "--inactive", NFS_GUEST),
        "overlay": json.loads(host.run_expect([0], "qemu-img info -U --output=json %s" % NFS_DISK).stdout),
        "fstype": host.run_expect([0], "stat -f -c %%T %s" % NFS_DISK).stdout.strip(),
        "exported": host.file(NFS_EXPORTED).exists,
    }
    # Debian 12's policy denied libvirt both the RNG's node in the guest's /dev and the agent
    # socket's label until the role's local module allowed them: the start itself is the test.
    start = host.run("virsh -c qemu:///system start %s" % NFS_GUEST)
    try:
        seen["start"] = start
        if start.rc == 0:
            pid = host.file("/run/libvirt/qemu/%s.pid" % NFS_GUEST).content_string.strip()
            seen["live"] = virsh(host, "dumpxml", NFS_GUEST)
            seen["cmdline"] = host.file("/proc/%s/cmdline" % pid).content_string.replace("\0", " ")
            seen["label"] = host.file("/proc/%s/attr/current" % pid).content_string.strip("\0\n")
            seen["disk_label"] = host.run_expect([0], "stat -c %%C %s" % NFS_DISK).stdout.strip()
            seen["socket_label"] = host.run_expect([0], "stat -c %%C %s" % AGENT_SOCKET).stdout.strip()
            # The RNG's node in the private /dev libvirt built for this QEMU (namespaces).
            seen["rng_node"] = host.run_expect([0], "stat -c '%%F %%U %%a' /proc/%s/root/dev/urandom" % pid).stdout.strip()
    finally:
        host.run("virsh -c qemu:///system destroy %s" % NFS_GUEST)
    seen["state_after"] = virsh(host, "domstate", NFS_GUEST).strip()
    return seen


def test_the_role_defines_the_guest_with_its_disk_on_nfs(nfs_guest):
    overlay = nfs_guest["overlay"]
    print("\n%s (%s): %s on %s, over %s"
          % (NFS_GUEST, nfs_guest["state"], NFS_DISK, nfs_guest["fstype"], overlay.get("full-backing-filename")))
    assert nfs_guest["state"] == "shut off"
    assert re.findall(r"<source file='([^']+)'", nfs_guest["declared"])[0] == NFS_DISK
    assert overlay["format"] == "qcow2" and overlay["backing-filename-format"] == "raw"
    # On NFS: the file is on the export.
    assert nfs_guest["fstype"] == "nfs"
    assert nfs_guest["exported"]


def test_the_roles_guest_on_the_nfs_pool_runs_confined(nfs_guest, domain_type):
    """Only virt_use_nfs lets svirt_t open an nfs_t disk (test_selinux.py checks it is on)."""
    start = nfs_guest["start"]
    assert start.rc == 0, start.stderr
    # The role's own choice of domain type and CPU: 'kvm' and host-passthrough where the VM's
    # nested KVM works (conftest.py), which QEMU then runs with.
    accel = re.search(r"-accel (\w+)|accel=(\w+)", nfs_guest["cmdline"])
    print("\n%s: <domain type='%s'>, accel %s, %s" % (
        NFS_GUEST, re.search(r"<domain type='(\w+)'", nfs_guest["live"]).group(1), accel.group(1) or accel.group(2),
        re.search(r"<cpu mode='([\w-]+)'", nfs_guest["live"]).group(1)))
    assert "<domain type='%s'" % domain_type in nfs_guest["live"]
    assert (accel.group(1) or accel.group(2)) == ("kvm" if domain_type == "kvm" else "tcg")
    if domain_type == "kvm":
        assert "<cpu mode='host-passthrough'" in nfs_guest["live"]
        assert re.search(r"-cpu host\b", nfs_guest["cmdline"]), nfs_guest["cmdline"]
    print("\n%s: %s; its disk %s; agent socket %s; /dev/urandom %s"
          % (NFS_GUEST, nfs_guest["label"], nfs_guest["disk_label"], nfs_guest["socket_label"], nfs_guest["rng_node"]))
    # Started as the role defined it, RNG and agent channel included.
    assert "<rng model='virtio'>" in nfs_guest["live"]
    assert "org.qemu.guest_agent.0" in nfs_guest["live"]
    match = PROCESS_LABEL.match(nfs_guest["label"])
    assert match, nfs_guest["label"]
    # Files on NFS carry the mount's one label, not the guest's pair (kvm_audit S3 says so).
    assert nfs_guest["disk_label"].split(":")[2] == "nfs_t"
    # The agent's socket is the guest's alone: its type and MCS pair.
    assert nfs_guest["socket_label"] == "system_u:object_r:svirt_image_t:s0:%s" % match.group(2)
    # The node libvirt made in the guest's /dev, with the host node's owner and mode: the
    # setattr that only the local module allows it.
    assert nfs_guest["rng_node"] == "character special file root 666"
    assert nfs_guest["state_after"] == "shut off"


def test_the_nfs_guest_started_without_selinux_denials(host, nfs_guest):
    assert unexpected_denials(host, nfs_guest["since"]) == []
