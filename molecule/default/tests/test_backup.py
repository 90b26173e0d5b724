"""playbooks/backup.yml on the Debian 13 container (libvirt 11.x): backups of the booted guest web1
through libvirt's backup API, for real, each step read back from the host (files, qemu-img's view
of the chain, libvirt's checkpoints, the live XML) and, last, from inside a new guest restored
from the backups.

The tests run in order and share the guest: bad input; a full backup (check mode first) after a
marker is written in the guest; an incremental one after a second marker; a restore into the new
guest web1-restored, started at once so it boots while list and the reruns are checked; last,
both markers read through the restored guest's own agent, and a third one, written after the last
backup, absent there. The fixture starts from a clean slate (leftovers of an interrupted run
removed) and its teardown removes the restored guest, the backups and the checkpoints, leaving
web1 as it found it. This file runs first, while web1 may still be in the boot the converge
started: the fixture waits for its agent.
"""

import json
import os
import time

import pytest

from guests import agent, guest_sh, virsh, wait_for_agent
from playbook import PROJECT, changed_on, flat, run_playbook

HOST = "kvmhost-trixie"
pytestmark = pytest.mark.only_hosts(HOST)

GUEST = "web1"
RESTORED = "web1-restored"
FULL, INCREMENTAL = "kvmtest-full", "kvmtest-incr"
BACKUP_DIR = "/var/lib/libvirt/backups"
RESTORE_DIR = "/var/lib/libvirt/images/%s" % RESTORED
BACKUP_PLAYBOOK = os.path.join(PROJECT, "playbooks", "backup.yml")
# Unique to each run: a marker of an earlier run, left in web1 or in a snapshot test_snapshot.py
# reverts to, cannot pass for this run's.
RUN = "%d" % time.time()
MARKER_DIR = "/var/lib/kvmcloud"
MARKERS = {"%s/backup-marker-1" % MARKER_DIR: "%s-before-the-full-backup" % RUN,
           "%s/backup-marker-2" % MARKER_DIR: "%s-before-the-incremental-backup" % RUN}
LATE_MARKER = "%s/backup-marker-3" % MARKER_DIR
AGENT_TIMEOUT = 600


def backup_run(action, *extra, name=FULL, guests=GUEST, restore_as=None):
    args = ["-e", "kvmcloud_guests=%s" % guests, "-e", "kvmcloud_backup_action=%s" % action]
    if name is not None:
        args += ["-e", "kvmcloud_backup=%s" % name]
    if restore_as is not None:
        args += ["-e", "kvmcloud_backup_restore_as=%s" % restore_as]
    return run_playbook(*args, *extra, limit=HOST, playbook=BACKUP_PLAYBOOK, timeout=900)


def changed(result):
    return changed_on(result, HOST)


def checkpoints(host):
    return virsh(host, "checkpoint-list", GUEST, "--name", "--topological").split()


def defined(host):
    return virsh(host, "list", "--all", "--name").split()


def image(host, path):
    return json.loads(host.check_output("qemu-img info -U --output=json %s" % path))


def clean(host):
    """Removes the restored guest, the test's backups and checkpoints; tolerates any missing."""
    host.run("virsh -c qemu:///system destroy %s" % RESTORED)
    host.run("virsh -c qemu:///system undefine %s --nvram --tpm" % RESTORED)
    host.run("rm -rf %s /var/log/libvirt/qemu/%s-console.log /var/log/libvirt/qemu/%s.log"
             % (RESTORE_DIR, RESTORED, RESTORED))
    for name in reversed(host.run("virsh -c qemu:///system checkpoint-list %s --name --topological" % GUEST)
                         .stdout.split()):
        if name.startswith("kvmtest-"):
            virsh(host, "checkpoint-delete", GUEST, name)
    host.run("rm -rf %s/%s && rmdir --ignore-fail-on-non-empty %s" % (BACKUP_DIR, GUEST, BACKUP_DIR))


@pytest.fixture(scope="module")
def live(host):
    """web1 running with its agent answering, no backups or checkpoints of the test's; its live
    disks. Teardown removes everything the tests made."""
    assert virsh(host, "domstate", GUEST).strip() == "running"
    wait_for_agent(host, GUEST, AGENT_TIMEOUT)
    clean(host)
    assert guest_sh(host, GUEST, "rm -f %s/backup-marker-* && sync" % MARKER_DIR)[0] == 0
    assert checkpoints(host) == [] and RESTORED not in defined(host)
    started = time.time()
    yield {"disks": virsh(host, "domblklist", GUEST)}
    clean(host)
    guest_sh(host, GUEST, "rm -f %s/backup-marker-* && sync" % MARKER_DIR)
    os.makedirs(os.path.join(PROJECT, ".cache", "logs"), exist_ok=True)
    with open(os.path.join(PROJECT, ".cache", "logs", "test-backup-seconds.txt"), "w") as record:
        record.write("test_backup.py: %.0f s from the fixture's start to its teardown\n" % (time.time() - started))


def write_marker(host, path, text):
    rc, out = guest_sh(host, GUEST, "echo %s > %s && sync && cat %s" % (text, path, path))
    assert (rc, out) == (0, text + "\n")


def files(host, name):
    return sorted(host.check_output("ls -A %s/%s/%s" % (BACKUP_DIR, GUEST, name)).split())


def test_bad_input_and_a_missing_backup_stop_in_the_preflight(host, live):
    result = backup_run("backup", name="bad/name")
    assert result.returncode != 0 and "kvmcloud_backup=bad/name is not a backup name" in flat(result)
    result = backup_run("restore", restore_as=RESTORED)
    assert result.returncode != 0
    assert ("kvmcloud_guests: no host of the play (kvmhost-trixie) has the complete backup %s (in "
            "kvmcloud_backup_dir) of web1;" % FULL) in flat(result)
    assert "PLAY [Backups" not in result.stdout
    assert not host.file("%s/%s" % (BACKUP_DIR, GUEST)).exists and checkpoints(host) == []


def test_check_mode_predicts_a_full_backup_and_makes_none(host, live):
    write_marker(host, *list(MARKERS.items())[0])
    result = backup_run("backup", "--check", "--diff")
    assert changed(result) == 1
    assert "+web1: backups: %s (full); checkpoints: %s" % (FULL, FULL) in result.stdout
    assert "web1: backup %s: would be full (the first backup)" % FULL in flat(result)
    assert not host.file("%s/%s" % (BACKUP_DIR, GUEST)).exists and checkpoints(host) == []


def test_the_first_backup_is_full_with_a_checkpoint(host, live):
    result = backup_run("backup")
    assert changed(result) == 1
    assert "web1: backup %s: full (the first backup), quiesced by the guest agent" % FULL in flat(result)
    assert files(host, FULL) == ["backup.json", "domain.xml", "vda.qcow2", "vdb.qcow2"]
    for target in ("vda", "vdb"):
        path = "%s/%s/%s/%s.qcow2" % (BACKUP_DIR, GUEST, FULL, target)
        info = image(host, path)
        # A whole, self-contained copy: no backing file (web1's own disk has the base image under it).
        assert info["format"] == "qcow2" and "backing-filename" not in info
        assert host.check_output("stat -c '%%U:%%G %%a' %s" % path) == "root:root 600"
    assert checkpoints(host) == [FULL]
    manifest = json.loads(host.file("%s/%s/%s/backup.json" % (BACKUP_DIR, GUEST, FULL)).content_string)
    assert manifest["kind"] == "full" and manifest["skipped"] == {"vdc": "read-only"}
    # The guest goes on running on its own disks, untouched.
    assert virsh(host, "domblklist", GUEST) == live["disks"]
    assert changed(backup_run("backup")) == 0


def test_a_later_backup_is_incremental_onto_the_full_one(host, live):
    write_marker(host, *list(MARKERS.items())[1])
    result = backup_run("backup", name=INCREMENTAL)
    assert changed(result) == 1
    assert "web1: backup %s: incremental from %s, quiesced" % (INCREMENTAL, FULL) in flat(result)
    full = "%s/%s/%s/vda.qcow2" % (BACKUP_DIR, GUEST, FULL)
    incremental = "%s/%s/%s/vda.qcow2" % (BACKUP_DIR, GUEST, INCREMENTAL)
    chain = json.loads(host.check_output("qemu-img info -U --backing-chain --output=json %s" % incremental))
    assert [layer["filename"] for layer in chain] == [incremental, "%s/%s/%s/../%s/vda.qcow2"
                                                      % (BACKUP_DIR, GUEST, INCREMENTAL, FULL)]
    assert chain[0]["backing-filename"] == "../%s/vda.qcow2" % FULL and "backing-filename" not in chain[1]
    # Only what changed since the full backup: a small fraction of it.
    assert chain[0]["actual-size"] * 10 < image(host, full)["actual-size"]
    assert checkpoints(host) == [FULL, INCREMENTAL]
    assert "Parent:         %s" % FULL in virsh(host, "checkpoint-info", GUEST, INCREMENTAL)
    write_marker(host, LATE_MARKER, "%s-after-the-last-backup" % RUN)


def test_restore_makes_a_new_guest_from_the_chain(host, live):
    result = backup_run("restore", "--check", "--diff", name=INCREMENTAL, restore_as=RESTORED)
    assert changed(result) == 1 and RESTORED not in defined(host)
    assert "+%s: defined, shut off, from web1s backup %s" % (RESTORED, INCREMENTAL) in flat(result)
    assert not host.file(RESTORE_DIR).exists

    result = backup_run("restore", name=INCREMENTAL, restore_as=RESTORED)
    assert changed(result) == 1
    assert "into the new guest %s (left shut off), from the chain %s <- %s" % (RESTORED, FULL, INCREMENTAL) \
        in flat(result)
    assert virsh(host, "domstate", RESTORED).strip() == "shut off"
    # Start it now: it boots while the next test checks list and the reruns.
    virsh(host, "start", RESTORED)
    live["started"] = time.time()

    xml = virsh(host, "dumpxml", RESTORED, "--inactive")
    for target in ("vda", "vdb"):
        path = "%s/%s-%s.qcow2" % (RESTORE_DIR, RESTORED, target)
        assert "<source file='%s'/>" % path in xml
        assert "backing-filename" not in image(host, path)
    assert "seed.iso" not in xml and "web1_VARS" not in xml and "%s-console.log" % RESTORED in xml
    uuid = virsh(host, "domuuid", RESTORED).strip()
    assert uuid and uuid != virsh(host, "domuuid", GUEST).strip()
    macs = [line.split()[-1] for line in virsh(host, "domiflist", RESTORED).splitlines()[2:] if line.strip()]
    web1_macs = [line.split()[-1] for line in virsh(host, "domiflist", GUEST).splitlines()[2:] if line.strip()]
    assert macs and not set(macs) & set(web1_macs)


def test_list_and_reruns_change_nothing(host, live):
    result = backup_run("list", name=None)
    assert changed(result) == 0
    assert ("web1: running; backups: %s (full), %s (incremental from %s); checkpoints: %s, %s"
            % (FULL, INCREMENTAL, FULL, FULL, INCREMENTAL)) in flat(result)
    assert changed(backup_run("restore", name=INCREMENTAL, restore_as=RESTORED)) == 0
    assert changed(backup_run("backup", name=INCREMENTAL)) == 0
    # A restore never overwrites a guest: web1-restored comes from another backup than asked.
    result = backup_run("restore", name=FULL, restore_as=RESTORED)
    assert result.returncode != 0
    assert "kvmcloud_backup_restore_as=web1-restored: a guest of that name is defined on this host already" \
        in flat(result)


def test_the_restored_guest_boots_with_the_markers_of_its_backups(host, live):
    wait_for_agent(host, RESTORED, AGENT_TIMEOUT)
    os.makedirs(os.path.join(PROJECT, ".cache", "logs"), exist_ok=True)
    with open(os.path.join(PROJECT, ".cache", "logs", "backup-restore-boot.txt"), "w") as record:
        record.write("%s: agent answered %.0f s after virsh start\n" % (RESTORED, time.time() - live["started"]))
    for path, text in MARKERS.items():
        assert guest_sh(host, RESTORED, "cat %s" % path) == (0, text + "\n")
    rc, _out = guest_sh(host, RESTORED, "test -e %s" % LATE_MARKER)
    assert rc == 1, "a marker written after the last backup is in the restored guest"
    assert agent(host, RESTORED, "guest-get-host-name")["host-name"] == "web1-guest"
