"""A running guest moves live between two hosts this collection configured, over TLS, and back.

mig1 boots on kvmmig-a from the suite's Debian 13 image (molecule.yml). playbooks/migrate.yml
moves it to kvmmig-b, where it runs the fleet's CPU (the baseline of both hosts' CPUs);
playbooks/evacuate.yml drains kvmmig-b, which brings it back;
playbooks/upgrade.yml upgrades both hosts in turn, moving it away from each. The proof comes from the hosts and from the guest itself: libvirt
on each side, a file the guest keeps in RAM (/run) and its uptime, read through its agent before
and after each move, and the packets that reached the target in the migration port range.
The tests run in file order, each from where the one before left the guest.
"""

import json
import os
import re
import time
import uuid
import xml.etree.ElementTree as ET

import pytest
import testinfra
import yaml

from guests import NIC_XML, agent, define_guest, guest_images, guest_sh, remove_guest, virsh, wait_for_agent
from playbook import PROJECT, changed_tasks, recap, run_playbook

# The scenario's two hosts, in inventory order (kvmmig-a, kvmmig-b): the guest starts on A.
A, B = sorted(yaml.safe_load(open(os.environ["MOLECULE_INVENTORY_FILE"]))["kvm_hosts"]["hosts"])
GUEST = "mig1"
PORT_MIN, PORT_MAX = 49152, 49215
MIGRATE = os.path.join(PROJECT, "playbooks", "migrate.yml")
EVACUATE = os.path.join(PROJECT, "playbooks", "evacuate.yml")
MAINTENANCE = "/etc/ansible/facts.d/kvmcloud_maintenance.fact"
UPGRADE = os.path.join(PROJECT, "playbooks", "upgrade.yml")
# prepare.yml installs version 1.0 and offers 2.0 in a local archive on each host.
PROBE = "kvmcloud-upgrade-probe"
RECORD = "/var/lib/kvmcloud/moved-guests/" + GUEST
SNIFF = os.path.join(PROJECT, "molecule", "shared", "testlib", "sniff.py")
# A UEFI TCG boot takes about a minute here; CI machines are slower.
BOOT_TIMEOUT = 600
pytestmark = pytest.mark.only_hosts(A)


def host_named(name):
    return testinfra.get_host("ansible://%s?ansible_inventory=%s" % (name, os.environ["MOLECULE_INVENTORY_FILE"]))


def address(host):
    """The host's address on the container network (eth0 carries the default route)."""
    return host.check_output("ip -4 -o addr show dev eth0").split()[3].split("/")[0]


def defined(host):
    return GUEST in host.check_output("virsh -c qemu:///system list --all --name").split()


def state(host):
    return host.check_output("virsh -c qemu:///system domstate %s" % GUEST).strip()


def migrate(target, *args):
    started = time.monotonic()
    result = run_playbook("-e", "kvmcloud_guests=%s" % GUEST, "-e", "kvmcloud_target=%s" % target, *args,
                          limit="%s,%s" % (A, B), playbook=MIGRATE)
    return result, time.monotonic() - started


def evacuate(*extra_vars):
    started = time.monotonic()
    result = run_playbook(*(arg for var in extra_vars for arg in ("-e", var)), limit="%s,%s" % (A, B),
                          playbook=EVACUATE)
    return result, time.monotonic() - started


def delegated_changes(output):
    """(task, host) of each change the move tasks report: they run once, on the host they name
    ("changed: [PLAY HOST -> HOST]", or "changed: [HOST]" when that is the play's host)."""
    changes, task = set(), None
    for line in output.splitlines():
        header = re.match(r"^TASK \[(.*)\]", line)
        if header:
            task = header.group(1)
        delegated = re.match(r"^changed: \[(?:[^\]]* -> )?([^\]]+)\]", line)
        if delegated:
            changes.add((task, delegated.group(1)))
    return changes


def changes_in_all(output):
    """The changes of every host in the recap: the move tasks run once, so their changes count
    on whichever host of the play ran them."""
    return sum(int(count) for count in re.findall(r"^\S+\s+: ok=\d+\s+changed=(\d+)", output, re.MULTILINE))


def record(line):
    os.makedirs(os.path.join(PROJECT, ".cache", "logs"), exist_ok=True)
    with open(os.path.join(PROJECT, ".cache", "logs", "migration.txt"), "a") as log:
        log.write(line + "\n")


@pytest.fixture(scope="module")
def hosts():
    return host_named(A), host_named(B)


@pytest.fixture(scope="module")
def booted(hosts):
    """Waits until mig1's agent answers on kvmmig-a, then leaves a token in its RAM (/run is a
    tmpfs): only the same running guest can show it after a move."""
    source = hosts[0]
    wait_for_agent(source, GUEST, BOOT_TIMEOUT)
    token = uuid.uuid4().hex
    rc, out = guest_sh(source, GUEST, "echo %s > /run/kvmcloud-token && cut -d' ' -f1 /proc/uptime" % token)
    assert rc == 0, out
    return {"token": token, "uptime": float(out)}


def start_sniffer(host, seconds=240):
    host.run("rm -f /root/sniff.json")
    with open(SNIFF) as script:
        host.run_expect([0], "cat > /root/sniff.py <<'EOF'\n%sEOF" % script.read())
    host.run_expect([0], "setsid -f python3 /root/sniff.py eth0 %d %d %d /root/sniff.json >/dev/null 2>&1"
                    % (PORT_MIN, PORT_MAX, seconds))


def sniffed(host):
    host.run("pkill -INT -f /root/sniff.py")
    for _attempt in range(30):
        if host.file("/root/sniff.json").exists:
            return json.loads(host.file("/root/sniff.json").content_string)
        time.sleep(1)
    raise AssertionError("the packet watcher on the target wrote nothing")


def test_check_mode_previews_the_move_and_moves_nothing(hosts, booted):
    source, target = hosts
    preview, _seconds = migrate(B, "--check")
    assert preview.returncode == 0, preview.stdout[-4000:] + preview.stderr[-2000:]
    changes = delegated_changes(preview.stdout)
    assert ("The guests' disks exist on their targets, empty, for the copy", B) in changes, changes
    assert ("Each guest runs on its target and is gone from its source", A) in changes, changes
    assert state(source) == "running" and not defined(target)
    assert not target.file("/var/lib/libvirt/images/guests/%s/disk0.qcow2" % GUEST).exists


def test_the_guest_moves_live_over_tls_and_is_the_same_running_guest(hosts, booted):
    source, target = hosts
    start_sniffer(target)
    result, seconds = migrate(B)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    record("mig1 (TCG, 512 MiB, its own disk layer copied) %s -> %s: migrate.yml took %.1f s" % (A, B, seconds))

    # libvirt: running on the target, gone from the source, which keeps only its record.
    assert state(target) == "running"
    assert not defined(source)
    assert source.file(RECORD).content_string.strip() == B
    assert not source.file("/var/lib/libvirt/images/guests/%s/disk0.qcow2" % GUEST).exists

    # The guest: the token in its RAM is there, and its clock went on (no reboot).
    rc, out = guest_sh(target, GUEST, "cat /run/kvmcloud-token; cut -d' ' -f1 /proc/uptime")
    token, uptime = out.split()
    assert rc == 0 and token == booted["token"]
    assert float(uptime) > booted["uptime"]

    # The wire: the memory and the disks reached the target from the source's address on
    # ports of the migration range, all of it under TLS: the memory stream opens with a TLS
    # handshake; the disk copy (NBD) sends its client flags, asks for STARTTLS, then
    # handshakes. QEMU's stream magic is not at the start of any flow (where a clear stream has it).
    flows = sniffed(target)
    from_source = dict((key, flow) for key, flow in flows.items()
                       if key.startswith(address(source) + ":") and flow["bytes"] > 0)
    assert from_source, "no traffic from %s to %s's ports %d-%d: %s" % (A, B, PORT_MIN, PORT_MAX, flows)
    assert sum(flow["bytes"] for flow in from_source.values()) > 64 * 1024 * 1024, from_source
    kinds = []
    for key, flow in from_source.items():
        assert flow["clear"] == [], "%s carried %s in clear text" % (key, flow["clear"])
        head = flow["head"]
        if head.startswith("1603"):
            kinds.append("tls")
        else:
            # NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES, "IHAVEOPT", NBD_OPT_STARTTLS (5).
            assert head.startswith("00000003" + b"IHAVEOPT".hex() + "00000005"), "%s: neither TLS nor NBD STARTTLS: %s" % (key, head)
            assert "1603" in head[8 + 16 + 8:], "%s: no TLS handshake after STARTTLS: %s" % (key, head)
            kinds.append("nbd+starttls")
    assert sorted(set(kinds)) == ["nbd+starttls", "tls"], from_source


def cpu_of(xml):
    """(model, vendor, {(policy, feature)}) of a <cpu> or of a domain's."""
    root = ET.fromstring(xml)
    cpu = root if root.tag == "cpu" else root.find("cpu")
    return (cpu.get("mode"), cpu.findtext("model"), cpu.findtext("vendor"),
            set((feature.get("policy"), feature.get("name")) for feature in cpu.findall("feature")))


def test_the_moved_guest_runs_the_cpu_both_hosts_run(hosts):
    """kvm_guests gave mig1 the fleet's CPU: the baseline of both hosts' CPUs, worked out here
    again from what each host's libvirt reports, and which each host's hypervisor runs."""
    source, target = hosts
    live = target.check_output("virsh -c qemu:///system dumpxml %s" % GUEST)
    mode, model, vendor, features = cpu_of(live)
    caps = "virsh -c qemu:///system domcapabilities --virttype qemu --arch x86_64 --machine q35"
    target.run_expect([0], caps + " > /root/fleet-caps.xml")
    # The source's, without its list of named models (too long for one command line).
    theirs = source.check_output(caps + " | sed \"/<mode name='custom'/,/<\\/mode>/d\"")
    assert "host-model" in theirs, theirs
    target.run_expect([0], "cat >> /root/fleet-caps.xml <<'EOF'\n%s\nEOF" % theirs)
    baseline = target.check_output("virsh -c qemu:///system hypervisor-cpu-baseline --virttype qemu --arch x86_64"
                                   " --machine q35 --migratable /root/fleet-caps.xml")
    assert (mode, model, vendor) == ("custom",) + cpu_of(baseline)[1:3], live
    assert cpu_of(baseline)[3] <= features, cpu_of(baseline)[3] - features
    target.run_expect([0], "cat > /root/mig1-live.xml <<'EOF'\n%s\nEOF" % live)
    source.run_expect([0], "cat > /root/mig1-live.xml <<'EOF'\n%s\nEOF" % live)
    for host in (source, target):
        compare = host.run("virsh -c qemu:///system hypervisor-cpu-compare --virttype qemu --arch x86_64"
                           " --machine q35 /root/mig1-live.xml")
        # "identical", or the host's CPU "is a superset" of it; "incompatible" exits 1.
        assert compare.rc == 0 and "incompatible" not in compare.stdout, (host.backend.host, compare.stdout)


def test_a_rerun_of_the_playbook_defines_no_second_copy(hosts):
    source, target = hosts
    result = run_playbook(limit="%s,%s" % (A, B))
    assert result.returncode == 0, result.stdout[-4000:]
    for name in (A, B):
        assert recap(result.stdout, name)["changed"] == 0, changed_tasks(result.stdout, name)
    assert "mig1 moved to %s (playbooks/migrate.yml)" % B in result.stdout
    assert not defined(source) and state(target) == "running"


def test_a_migration_without_tls_is_refused(hosts):
    source, target = hosts
    run = target.run("virsh -c qemu:///system migrate --live --p2p --copy-storage-all %s qemu+tls://%s/system"
                     % (GUEST, address(source)))
    assert run.rc != 0
    assert "VIR_MIGRATE_TLS" in run.stderr, run.stderr
    assert state(target) == "running" and not defined(source)


def test_a_client_outside_the_allowed_dns_is_refused(hosts):
    """The same CA signed the rogue certificate: only kvmmig-a's allowed DN list keeps it out."""
    source, target = hosts
    since = source.check_output("date '+%Y-%m-%d %H:%M:%S'")
    run = target.run("virsh -c qemu:///system migrate --live --p2p --tls --copy-storage-all %s "
                     "'qemu+tls://%s/system?pkipath=/root/pki-rogue'" % (GUEST, address(source)))
    assert run.rc != 0
    assert state(target) == "running" and not defined(source)
    journal = source.check_output("journalctl -u libvirtd --since '%s' --no-pager" % since)
    assert re.search(r"Distinguished Name is not on the list of allowed clients", journal), journal[-2000:]


def test_evacuating_the_target_brings_the_guest_back_and_leaves_it_in_maintenance(hosts, booted):
    source, target = hosts
    result, seconds = evacuate("kvmcloud_drain=%s" % B)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    record("evacuate.yml drained %s (mig1 back to %s) in %.1f s" % (B, A, seconds))
    assert "mig1 to %s" % A in result.stdout
    assert state(source) == "running" and not defined(target)
    assert not source.file(RECORD).exists
    assert target.file(RECORD).content_string.strip() == A
    assert json.loads(target.file(MAINTENANCE).content_string) == {"drained": True, "by": "playbooks/evacuate.yml"}
    rc, out = guest_sh(source, GUEST, "cat /run/kvmcloud-token")
    assert rc == 0 and out.strip() == booted["token"]


def test_no_guest_moves_onto_a_host_in_maintenance_until_it_is_undrained(hosts):
    source, target = hosts
    refused, _seconds = migrate(B)
    assert refused.returncode != 0
    assert "kvmcloud_target: %s is in maintenance" % B in refused.stdout + refused.stderr, refused.stderr[-3000:]
    assert state(source) == "running" and not defined(target)

    # Draining it again finds nothing to move and changes nothing.
    again, _seconds = evacuate("kvmcloud_drain=%s" % B)
    assert again.returncode == 0 and "No guest runs on %s" % B in again.stdout, again.stdout[-3000:]
    assert changes_in_all(again.stdout) == 0, again.stdout[-3000:]

    # Nor does kvm_guests place a new guest there.
    declared = {"kvm_guests_list": [{"name": "held1", "memory_mib": 256, "disks": [{"size_gib": 2, "base_image": "debian-13"}],
                                     "nics": [{"network": "tenant-iso"}], "state": "running"}]}
    held = run_playbook("--tags", "kvm_guests", "-e", json.dumps(declared), limit=B)
    assert held.returncode == 0, held.stdout[-3000:]
    assert "neither defines nor starts held1" in held.stdout and recap(held.stdout, B)["changed"] == 0
    assert "held1" not in target.check_output("virsh -c qemu:///system list --all --name").split()

    undrained, _seconds = evacuate("kvmcloud_undrain=%s" % B)
    assert undrained.returncode == 0 and recap(undrained.stdout, B)["changed"] == 1, undrained.stdout[-3000:]
    assert not target.file(MAINTENANCE).exists


def test_a_second_move_to_where_the_guest_runs_and_a_rerun_change_nothing(hosts):
    source, _target = hosts
    again, _seconds = migrate(A)
    assert again.returncode == 0 and changes_in_all(again.stdout) == 0, again.stdout[-3000:]

    rerun = run_playbook(limit="%s,%s" % (A, B))
    assert rerun.returncode == 0, rerun.stdout[-4000:]
    for name in (A, B):
        assert recap(rerun.stdout, name)["changed"] == 0, changed_tasks(rerun.stdout, name)
    assert agent(source, GUEST, "guest-ping") == {}


def test_a_move_that_fails_leaves_the_guest_running_and_nothing_on_the_target(hosts):
    """fail1 uses a network only A has, which passes the preflight; libvirt on B refuses it
    during the move. migrate.yml must then remove the empty disk it made on B and stop, naming it."""
    source, target = hosts
    name, network = "fail1", "kvmcloud-only-a"
    source.run_expect([0], "printf \"<network><name>%s</name><bridge name='virbr-oa0'/></network>\" | "
                           "virsh -q -c qemu:///system net-create /dev/stdin" % network)
    try:
        xml = define_guest(source, name, devices=NIC_XML % (network, ""))
        virsh(source, "define", xml)
        virsh(source, "start", name)
        result = run_playbook("-e", "kvmcloud_guests=%s" % name, "-e", "kvmcloud_target=%s" % B,
                              limit="%s,%s" % (A, B), playbook=MIGRATE)
        assert result.returncode != 0, result.stdout[-3000:]
        out = result.stdout + result.stderr
        assert "fail1 did not move: " in out, out[-3000:]
        assert "The targets keep nothing of a failed move" in result.stdout
        assert virsh(source, "domstate", name).strip() == "running"
        assert target.run("virsh -c qemu:///system dominfo %s" % name).rc != 0
        assert not target.file(guest_images(name)[0]).exists
        assert not source.file("/var/lib/kvmcloud/moved-guests/%s" % name).exists
    finally:
        remove_guest(source, name)
        source.run("virsh -c qemu:///system net-destroy %s" % network)


def test_a_rolling_upgrade_drains_upgrades_and_undrains_one_host_at_a_time(hosts, booted):
    source, target = hosts
    packages = json.dumps({"kvmcloud_upgrade_packages": [PROBE]})
    started = time.monotonic()
    result = run_playbook("-e", packages, limit="%s,%s" % (A, B), playbook=UPGRADE)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    record("upgrade.yml upgraded both hosts in turn in %.1f s" % (time.monotonic() - started))
    for host in hosts:
        assert host.check_output("dpkg-query -W -f '${Version}' %s" % PROBE) == "2.0"
        assert not host.file(MAINTENANCE).exists
    # A went first: its guest moved to B, then back when B's turn came.
    out = result.stdout
    assert "mig1 to %s" % B in out and "mig1 to %s" % A in out
    assert out.index("mig1 to %s" % B) < out.index("mig1 to %s" % A)
    assert state(source) == "running" and not defined(target)
    rc, token = guest_sh(source, GUEST, "cat /run/kvmcloud-token")
    assert rc == 0 and token.strip() == booted["token"]

    # Nothing left to upgrade: no host is drained, nothing changes.
    again = run_playbook("-e", packages, limit="%s,%s" % (A, B), playbook=UPGRADE)
    assert again.returncode == 0, again.stdout[-3000:]
    for name in (A, B):
        assert recap(again.stdout, name)["changed"] == 0, changed_tasks(again.stdout, name)
    assert state(source) == "running"
