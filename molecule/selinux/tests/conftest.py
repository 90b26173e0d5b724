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


# Denials Debian 12's policy makes while libvirt starts guests, all of them harmless: the
# program carries on without what it was denied, and the tests show the result works. The
# role grants none of them (the guests least of all). Keyed by source type, target type,
# class and permission; anything else fails the test.
LIBNUMA = "libnuma's start-up probe (/sys/devices/system/node, cpu/possible); NUMA placement is not used"
HARMLESS = {
    ("svirt_t", "sysfs_t", "file", "read"): LIBNUMA + " (node*/meminfo, cpu/possible)",
    ("svirt_t", "svirt_t", "anon_inode", "create"):
        "QEMU tries io_uring (anonclass [io_uring]) for its event loops and falls back to epoll",
    ("svirt_t", "virtd_t", "dir", "search"):
        "QEMU, stopped by libvirtd, looks up /proc/PID of the signal's sender to log its name",
    # Only when a guest's disk is on NFS (the nfs-guest test of test_guests.py): libvirt cannot label a file
    # there, and reads the boolean only to choose its log message (security_selinux.c).
    ("virtd_t", "boolean_t", "file", "read"):
        "libvirtd, unable to label a disk on NFS, reads virt_use_nfs only to word its log message; the start goes on",
    ("virtd_t", "initrc_runtime_t", "file", "read"):
        "libvirtd, when socket activation starts it, reads the boot time from /run/utmp and falls back "
        "to /proc/uptime",
    # virtlogd: only when the first guest starts it (socket activation).
    ("virtlogd_t", "sysfs_t", "dir", "read"): LIBNUMA,
    ("virtlogd_t", "sysfs_t", "file", "read"): LIBNUMA,
    ("virtlogd_t", "virtlogd_t", "process", "getsched"): LIBNUMA + " (sched_getaffinity)",
    ("virtlogd_t", "sysctl_kernel_t", "dir", "search"): "a read under /proc/sys/kernel at start-up",
    ("virtlogd_t", "bin_t", "dir", "search"): "a readlink under /usr/sbin at start-up (its own program path)",
    ("virtlogd_t", "virtlogd_t", "process", "execmem"):
        "one anonymous 64 KiB RWX mmap at start-up (python3 and virsh make the same probe)",
    ("virtlogd_t", "syslogd_runtime_t", "dir", "search"):
        "libvirt checks /run/systemd/journal/socket for its own log output and uses stderr instead, "
        "which systemd also sends to the journal",
}


def unexpected_denials(host, since):
    """The records of the virt denials since then that HARMLESS does not explain."""
    unexpected = []
    for denial in virt_denials(host, since):
        keys = [(denial["source"], denial["target"], denial["tclass"], perm) for perm in denial["perms"]]
        reasons = [HARMLESS.get(key) for key in keys]
        verdict = "; ".join(reason or "UNEXPECTED" for reason in reasons)
        print("\n%s %s -> %s %s: %s" % (denial["source"], denial["perms"], denial["target"], denial["tclass"], verdict))
        if not all(reasons):
            unexpected.append(denial["record"])
    return unexpected


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
