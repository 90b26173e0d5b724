"""playbooks/snapshot.yml on the Debian 13 container (libvirt 11.x): external disk-only snapshots of
the booted guest web1, for real, each step read back from the host and from inside the guest.

The tests run in order and share the guest: create (check mode first), list, a marker written in
the guest after the snapshot, revert (the guest is left shut off; kvm_guests starts it again, the
one extra boot of web1 in the scenario), delete, and last kvm_guests' shutoff over ACPI. Reruns
must change nothing. This file runs after test_kvm_guests_boot.py, which leaves web1 running, and
leaves it shut off: a second `molecule verify` needs a `molecule converge` (which starts it) first.
"""

import json
import os
import subprocess
import time

import pytest

from guests import agent, console_log, guest_sh, virsh, wait_for_agent
from playbook import PROJECT, recap, run_playbook

HOST = "kvmhost-trixie"
pytestmark = pytest.mark.only_hosts(HOST)

GUEST = "web1"
SNAPSHOT = "kvmtest-1"
SNAPSHOT_PLAYBOOK = os.path.join(PROJECT, "playbooks", "snapshot.yml")
MARKER = "/var/lib/kvmcloud/after-snapshot"
AGENT_TIMEOUT = 600
LOGS = os.path.join(PROJECT, ".cache", "logs")


def snapshot_run(host, action, *extra, name=SNAPSHOT, guests=GUEST):
    args = ["-e", "kvmcloud_guests=%s" % guests, "-e", "kvmcloud_snapshot_action=%s" % action]
    if name is not None:
        args += ["-e", "kvmcloud_snapshot=%s" % name]
    started = time.time()
    result = run_playbook(*args, *extra, limit=HOST, playbook=SNAPSHOT_PLAYBOOK, timeout=600)
    result.seconds = time.time() - started
    return result


def flat(result):
    """The run's output and errors with line wrapping undone and quoting left out: the callback
    may print a failure as YAML (wrapped, quotes doubled) or as JSON on stderr (quotes escaped),
    depending on the Ansible config in effect (the repository's or Molecule's)."""
    text = " ".join((result.stdout + result.stderr).split())
    return text.replace("\\'", "").replace("''", "").replace("'", "")


def changed(result):
    assert result.returncode == 0, result.stdout[-3000:]
    return recap(result.stdout, HOST)["changed"]


def disks(host):
    """{target: source file} of the guest's writable disks, from the live domain XML."""
    blk = virsh(host, "domblklist", GUEST, "--details")
    rows = [line.split() for line in blk.splitlines()[2:] if line.strip()]
    return {row[2]: row[3] for row in rows if row[1] == "disk" and not row[3].endswith("seed.iso")}


def snapshots(host):
    return virsh(host, "snapshot-list", GUEST, "--name").split()


def files(host, directory):
    return sorted(host.check_output("ls -A %s" % directory).split())


@pytest.fixture(scope="module")
def base_disks(host):
    """The guest's disks before any snapshot, with its agent answering."""
    assert virsh(host, "domstate", GUEST).strip() == "running"
    wait_for_agent(host, GUEST, AGENT_TIMEOUT)
    assert snapshots(host) == []
    return disks(host)


@pytest.fixture(scope="module")
def guest_dir_files(host, base_disks):
    """What the guest's directory holds before any snapshot."""
    return files(host, os.path.dirname(base_disks["vda"]))


def test_bad_input_and_an_unknown_guest_stop_in_the_preflight(host, base_disks, guest_dir_files):
    result = snapshot_run(host, "create", name="bad/name")
    assert result.returncode != 0
    assert "kvmcloud_snapshot=bad/name is not a snapshot name" in flat(result)
    result = snapshot_run(host, "create", guests="web1,nosuchguest")
    assert result.returncode != 0
    assert "kvmcloud_guests: no host of the play (kvmhost-trixie) defines nosuchguest;" in flat(result)
    assert "PLAY [Snapshots" not in result.stdout
    assert snapshots(host) == [] and disks(host) == base_disks


def test_check_mode_predicts_the_snapshot_and_makes_none(host, base_disks):
    result = snapshot_run(host, "create", "--check", "--diff")
    assert changed(result) == 1
    assert "+web1: running; snapshots: %s (current)" % SNAPSHOT in result.stdout
    assert "web1: create %s: would be created, quiesced by the guest agent" % SNAPSHOT in flat(result)
    assert snapshots(host) == [] and disks(host) == base_disks


def test_create_makes_a_quiesced_external_snapshot_next_to_each_disk(host, base_disks):
    result = snapshot_run(host, "create")
    assert changed(result) == 1
    assert "web1: create %s: created, quiesced by the guest agent" % SNAPSHOT in flat(result)
    assert snapshots(host) == [SNAPSHOT]
    info = virsh(host, "snapshot-info", GUEST, SNAPSHOT)
    assert "disk-snapshot" in info and "Current:        yes" in info
    now = disks(host)
    assert set(now) == set(base_disks) == {"vda", "vdb"}
    for target, base in base_disks.items():
        overlay = "%s/web1-%s.%s.qcow2" % (os.path.dirname(base), target, SNAPSHOT)
        # The live guest writes to the overlay, which lies on the disk it covers.
        assert now[target] == overlay
        image = json.loads(host.check_output("qemu-img info -U --output=json %s" % overlay))
        assert image["format"] == "qcow2" and image["backing-filename"] == base
        # libvirt gave the overlay to the guest's QEMU user, as it did the disk, and to no one else.
        # (No LSM in a container: the AppArmor/SELinux labels are not shown here.)
        owner = host.check_output("stat -c '%%U:%%G %%a' %s" % overlay)
        assert owner == host.check_output("stat -c '%%U:%%G %%a' %s" % base) and owner.startswith("libvirt-qemu:")
        assert owner.endswith(" 600")


def test_create_again_changes_nothing_in_check_mode_or_for_real(host, base_disks):
    assert changed(snapshot_run(host, "create", "--check")) == 0
    assert changed(snapshot_run(host, "create")) == 0
    assert snapshots(host) == [SNAPSHOT]


def test_list_shows_the_snapshot_with_its_overlays(host, base_disks):
    result = snapshot_run(host, "list", name=None)
    assert changed(result) == 0
    assert "web1: running; snapshots: %s (current)" % SNAPSHOT in flat(result)
    assert "overlays vda=%s/web1-vda.%s.qcow2" % (os.path.dirname(base_disks["vda"]), SNAPSHOT) in flat(result)


def test_revert_takes_the_guest_back_to_the_snapshot(host, base_disks):
    rc, out = guest_sh(host, GUEST, "echo written-after-the-snapshot > %s && sync && cat %s" % (MARKER, MARKER))
    assert (rc, out) == (0, "written-after-the-snapshot\n")
    result = snapshot_run(host, "revert", "--check", "--diff")
    assert changed(result) == 1 and "+web1: shut off; snapshots: %s (current)" % SNAPSHOT in result.stdout
    assert virsh(host, "domstate", GUEST).strip() == "running"

    result = snapshot_run(host, "revert")
    assert changed(result) == 1, result.stdout[-3000:]
    assert virsh(host, "domstate", GUEST).strip() == "shut off"
    # At the snapshot, shut off, nothing written since: a rerun changes nothing.
    assert changed(snapshot_run(host, "revert", "--check")) == 0
    assert changed(snapshot_run(host, "revert")) == 0

    # libvirt put new, empty overlays on the disks as they were at the snapshot, and removed ours.
    for target, base in base_disks.items():
        top = disks(host)[target]
        image = json.loads(host.check_output("qemu-img info -U --output=json %s" % top))
        assert top != base and image["backing-filename"] == base, image
        assert not host.file("%s/web1-%s.%s.qcow2" % (os.path.dirname(base), target, SNAPSHOT)).exists

    # kvm_guests starts the guest it declared running (and the definition the template test of
    # test_kvm_guests_boot.py left pending takes effect with this start).
    started = time.time()
    result = run_playbook("--tags", "kvm_guests", limit=HOST)
    assert result.returncode == 0, result.stdout[-3000:]
    assert virsh(host, "domstate", GUEST).strip() == "running"
    wait_for_agent(host, GUEST, AGENT_TIMEOUT)
    waited = time.time() - started
    os.makedirs(LOGS, exist_ok=True)
    with open(os.path.join(LOGS, "snapshot-revert-boot.txt"), "w") as record:
        record.write("web1 after revert: agent answered %.0f s after kvm_guests started it\n" % waited)
    rc, _out = guest_sh(host, GUEST, "test -e %s" % MARKER)
    assert rc == 1, "the marker written after the snapshot survived the revert"
    assert agent(host, GUEST, "guest-get-host-name")["host-name"] == "web1-guest"


def test_delete_merges_the_overlays_back(host, base_disks, guest_dir_files):
    result = snapshot_run(host, "delete", "--check", "--diff")
    assert changed(result) == 1 and snapshots(host) == [SNAPSHOT]
    result = snapshot_run(host, "delete")
    assert changed(result) == 1, result.stdout[-3000:]
    assert snapshots(host) == []
    assert disks(host) == base_disks
    assert files(host, os.path.dirname(base_disks["vda"])) == guest_dir_files
    assert changed(snapshot_run(host, "delete")) == 0
    assert virsh(host, "domstate", GUEST).strip() == "running"


def declared_guest():
    """web1's entry of kvm_guests_list, as the scenario's inventory declares it."""
    inventory = subprocess.run(["ansible-inventory", "-i", os.environ["MOLECULE_INVENTORY_FILE"], "--host", HOST],
                               capture_output=True, text=True, check=True).stdout
    return [guest for guest in json.loads(inventory)["kvm_guests_list"] if guest["name"] == GUEST][0]


def test_shutoff_powers_the_guest_down_over_acpi(host, base_disks):
    stopped = dict(declared_guest(), state="shutoff")
    powered_down = host.file(console_log(GUEST)).content_string.count("reboot: Power down")
    result = run_playbook("--tags", "kvm_guests", "-e", json.dumps({"kvm_guests_list": [stopped]}), limit=HOST)
    assert result.returncode == 0, result.stdout[-3000:]
    assert virsh(host, "domstate", GUEST).strip() == "shut off"
    # The guest's kernel powered itself off: an ACPI shutdown, not the plug pulled.
    assert host.file(console_log(GUEST)).content_string.count("reboot: Power down") == powered_down + 1
