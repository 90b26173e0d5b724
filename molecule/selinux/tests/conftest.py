"""Helpers for the verify step of the SELinux VM: the shared test helpers, the playbook run
again from a test, and what the host says it can do for guests."""

import os
import re
import subprocess
import sys

import pytest

# Test helpers shared by the scenarios (molecule/shared/testlib).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "testlib"))

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY", os.path.join(os.path.dirname(__file__), "..", "..", ".."))
PLAYBOOK = os.path.join(PROJECT, "playbooks", "kvm_host.yml")
# testinfra's host.ansible() runs our modules too: it must find the collection.
os.environ.setdefault("ANSIBLE_COLLECTIONS_PATH", os.path.join(PROJECT, ".collections"))

# The types whose denials concern libvirt and its guests.
VIRT_TYPES = ("svirt_t", "svirt_tcg_t", "svirt_image_t", "virtd_t", "virtlogd_t", "virt_image_t")
AVC_FIELDS = re.compile(r"msg=audit\((\d+)\.\d+:\d+\).*?denied\s+\{ ([^}]*) \}.*?"
                        r"scontext=(\S+) tcontext=(\S+) tclass=(\S+)")


def run_playbook(*args, limit):
    """Runs playbooks/kvm_host.yml against one test host with Molecule's inventory."""
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    env = dict(os.environ, ANSIBLE_PIPELINING="True", ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    # A run of the whole playbook takes minutes under TCG.
    return subprocess.run(
        ["ansible-playbook", "-i", inventory, "--limit", limit, PLAYBOOK, *args],
        capture_output=True, text=True, env=env, check=False, timeout=1500)


def recap(output, host):
    """The PLAY RECAP counters of one host, as a dict of ints."""
    line = re.search(r"^%s\s+:(.*)$" % re.escape(host), output, re.MULTILINE)
    assert line, "no PLAY RECAP line for %s in:\n%s" % (host, output[-3000:])
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", line.group(1))}


def now(host):
    """The VM's clock, in seconds since the epoch (audit records carry that time)."""
    return int(host.run_expect([0], "date +%s").stdout)


def virt_denials(host, since):
    """SELinux denials (AVC, and USER_AVC from D-Bus) since that time that involve libvirt or
    a guest, as dicts: time, perms, source and target type, class and the raw record."""
    # -ts has a one-second grain; the exact time is filtered below.
    start = host.run_expect([0], "LC_ALL=C date -d @%d '+%%x %%T'" % since).stdout.strip()
    result = host.run("LC_ALL=C ausearch --input-logs -m AVC,USER_AVC -ts %s --raw" % start)
    assert result.rc in (0, 1), result.stderr  # 1: no matches
    denials = []
    for line in result.stdout.splitlines():
        match = AVC_FIELDS.search(line)
        if not match or int(match.group(1)) < since:
            continue
        source, target = match.group(3).split(":")[2], match.group(4).split(":")[2]
        if source in VIRT_TYPES or target in VIRT_TYPES:
            denials.append({"time": int(match.group(1)), "perms": match.group(2).split(),
                            "source": source, "target": target, "tclass": match.group(5), "record": line})
    return denials


@pytest.fixture(scope="module")
def hostname(host):
    return host.backend.get_hostname()


@pytest.fixture(scope="module")
def kvm_facts(host):
    """What the collection's own probe says about KVM on this host."""
    result = host.ansible("kvmcloud.hypervisor.kvm_host_facts", "gather_virsh_capabilities=false",
                          check=False, become=True)
    assert "ansible_facts" in result, result
    return result["ansible_facts"]["kvm_host"]


@pytest.fixture(scope="module")
def domain_type(kvm_facts):
    """The domain type the collection gives guests here (kvm_host's preflight): KVM when the
    host can run KVM guests, TCG ('qemu') otherwise."""
    return "kvm" if kvm_facts["can_run_kvm_guests"] else "qemu"
