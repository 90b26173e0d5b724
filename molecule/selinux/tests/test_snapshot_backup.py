"""A backup and a snapshot of a running guest on the SELinux host (Debian 12, libvirt 9.0), made
by playbooks/backup.yml and playbooks/snapshot.yml: QEMU, confined to the guest's MCS pair,
writes the backup and the snapshot's overlay, the overlay carries that pair, the guest reads and
writes its disk through every step, and nothing is denied that the role should have allowed.

Storage is where confinement most often breaks. The container tier (default scenario) shows
what these playbooks do to a booted guest; only a host with an LSM shows that the guest stays
confined and working while they do it. The guest is the throwaway one of the other tests (no
OS): QEMU's own qemu-io, through the guest's virtio disk, stands in for the guest's writes.
The tests run in order and share the guest.
"""

import json
import os

import pytest
from guests import disk_file, disk_reads_back, disk_writes, guest_images, running_guests, virsh

from conftest import now, unexpected_denials
from playbook import PROJECT, recap, run_playbook

GUEST = "keeper"
IMAGES = "/var/lib/libvirt/images"
IMAGE = guest_images(GUEST, IMAGES)[0]
BACKUP = "/var/lib/libvirt/backups/%s/full-1" % GUEST
SNAPSHOT = "before-change"


def playbook(name, hostname, **settings):
    """Runs playbooks/NAME with the kvmcloud_ variables given; returns its recap counters."""
    args = [arg for key, value in settings.items() for arg in ("-e", "kvmcloud_%s=%s" % (key, value))]
    result = run_playbook(*args, limit=hostname, playbook=os.path.join(PROJECT, "playbooks", name), timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    return recap(result.stdout, hostname)


def label(host, path):
    # stat reads the security.selinux attribute of the file (getfattr is not installed).
    return host.run_expect([0], "stat -c %%C %s" % path).stdout.strip()


@pytest.fixture(scope="module")
def guest(host, domain_type):
    host.run_expect([0], "rm -rf /var/log/libvirt/qemu/%s.log %s" % (GUEST, os.path.dirname(BACKUP)))
    since = now(host)
    with running_guests(host, {GUEST: IMAGES}, domain_type) as pids:
        pid = pids[GUEST]
        pair = host.file("/proc/%s/attr/current" % pid).content_string.strip("\0\n").split(":", 4)[4]
        try:
            yield {"pid": pid, "pair": pair, "since": since}
        finally:
            # libvirt refuses to undefine a guest that has checkpoints (the backup's) or
            # snapshots (one a failed test left).
            host.run("virsh -c qemu:///system destroy %s" % GUEST)
            host.run("virsh -c qemu:///system undefine %s --checkpoints-metadata --snapshots-metadata" % GUEST)
            host.run("rm -rf %s %s/%s-*.qcow2" % (os.path.dirname(BACKUP), IMAGES, GUEST))


def test_a_full_backup_of_the_running_guest_holds_what_it_wrote(host, hostname, guest):
    assert disk_writes(host, GUEST, 0)
    counters = playbook("backup.yml", hostname, guests=GUEST, backup=os.path.basename(BACKUP), backup_action="backup")
    assert counters["changed"] > 0 and counters["failed"] == 0, counters
    copy = BACKUP + "/vda.qcow2"
    info = json.loads(host.run_expect([0], "qemu-img info -U --output=json %s" % copy).stdout)
    print("\n%s: %s, %s" % (copy, info["format"], label(host, copy)))
    assert info["format"] == "qcow2" and "backing-filename" not in info
    # QEMU wrote the copy while confined: the guest's write is in it.
    check = host.run_expect([0], "qemu-io -f qcow2 -r -c 'read -P 0xab 0 4k' %s" % copy).stdout
    assert "read 4096/4096 bytes at offset 0" in check and "Pattern verification failed" not in check, check
    assert host.file(BACKUP + "/backup.json").exists
    # The directories the backup made took the type kvm_hardening's rule gives
    # kvm_hardening_backup_dirs, which libvirt may relabel for QEMU: virt_var_lib_t, the type of
    # /var/lib/libvirt, it may not.
    for directory in ("/var/lib/libvirt/backups", BACKUP):
        assert label(host, directory).split(":")[2] == "virt_image_t", (directory, label(host, directory))
    assert os.path.basename(BACKUP) in virsh(host, "checkpoint-list", GUEST, "--name").split()
    # The guest keeps its disk, and its label, through the job.
    assert label(host, IMAGE) == "system_u:object_r:svirt_image_t:s0:%s" % guest["pair"]
    assert disk_writes(host, GUEST, 4096)


def test_the_snapshot_overlay_carries_the_guests_pair_and_takes_its_writes(host, hostname, guest):
    counters = playbook("snapshot.yml", hostname, guests=GUEST, snapshot=SNAPSHOT, snapshot_action="create")
    assert counters["changed"] > 0 and counters["failed"] == 0, counters
    overlay = disk_file(host, GUEST)
    print("\nvda: %s (%s), over %s (%s)" % (overlay, label(host, overlay), IMAGE, label(host, IMAGE)))
    assert overlay != IMAGE and os.path.dirname(overlay) == IMAGES and SNAPSHOT in os.path.basename(overlay)
    assert label(host, overlay) == "system_u:object_r:svirt_image_t:s0:%s" % guest["pair"]
    info = json.loads(host.run_expect([0], "qemu-img info -U --output=json %s" % overlay).stdout)
    assert info["full-backing-filename"] == IMAGE
    # Writes go to the overlay; what was written before comes from the disk under it, which
    # QEMU must still be allowed to read.
    assert disk_writes(host, GUEST, 8192)
    assert disk_reads_back(host, GUEST, 0)


def test_deleting_the_snapshot_merges_it_back_under_the_guests_pair(host, hostname, guest):
    overlay = disk_file(host, GUEST)
    counters = playbook("snapshot.yml", hostname, guests=GUEST, snapshot=SNAPSHOT, snapshot_action="delete")
    assert counters["changed"] > 0 and counters["failed"] == 0, counters
    assert disk_file(host, GUEST) == IMAGE
    assert not host.file(overlay).exists
    assert label(host, IMAGE) == "system_u:object_r:svirt_image_t:s0:%s" % guest["pair"]
    # The write made on the overlay is in the disk now, and the disk takes new ones.
    assert disk_reads_back(host, GUEST, 8192)
    assert disk_writes(host, GUEST, 12288)
    assert virsh(host, "domstate", GUEST).strip() == "running"


def test_the_backup_and_the_snapshot_met_no_unexpected_denial(host, guest):
    assert unexpected_denials(host, guest["since"]) == []
