"""Helpers for the verify step of the SELinux VM: the shared test helpers, and what the host
says it can do for guests."""

import os
import re
import sys

import pytest

# Test helpers shared by the scenarios (molecule/shared/testlib).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "testlib"))


# The types whose denials concern libvirt and its guests.
VIRT_TYPES = ("svirt_t", "svirt_tcg_t", "svirt_image_t", "virtd_t", "virtlogd_t", "virt_image_t")
AVC_FIELDS = re.compile(r"msg=audit\((\d+)\.\d+:\d+\).*?denied\s+\{ ([^}]*) \}.*?"
                        r"scontext=(\S+) tcontext=(\S+) tclass=(\S+)")


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
