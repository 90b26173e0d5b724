"""Verifies on a live VM what only a real kernel can show: AppArmor confines libvirt and
each guest's QEMU process (sVirt).

Every test asks the running VM (kernel, AppArmor, libvirt, /proc), never the scenario's
variables; each would fail on a host without AppArmor, with libvirt unconfined, or with
`security_driver = "none"`.
"""

import json

from guests import running_guest, virsh

DOMAIN = "kernel-guest"


def aa_status(host):
    return json.loads(host.run_expect([0], "aa-status --json").stdout)


def label_of(host, pid):
    """The AppArmor label of a process, as "NAME (MODE)"."""
    return host.file("/proc/%s/attr/current" % pid).content_string.strip("\0\n")


def test_kernel_runs_apparmor(host):
    lsms = host.file("/sys/kernel/security/lsm").content_string.strip().split(",")
    print("\nLSMs: %s" % ",".join(lsms))
    assert "apparmor" in lsms
    assert host.file("/sys/module/apparmor/parameters/enabled").content_string.strip() == "Y"


def test_libvirt_profiles_are_enforced(host):
    profiles = aa_status(host)["profiles"]
    print("\nprofiles: libvirtd=%s virt-aa-helper=%s"
          % (profiles.get("libvirtd"), profiles.get("virt-aa-helper")))
    assert profiles.get("libvirtd") == "enforce"
    assert profiles.get("virt-aa-helper") == "enforce"


def test_running_libvirtd_is_confined(host):
    # libvirtd is socket-activated and exits when idle: ask it something first.
    virsh(host, "list", "--all")
    pid = host.run_expect([0], "systemctl show --property=MainPID --value libvirtd.service").stdout.strip()
    assert pid not in ("", "0")
    label = label_of(host, pid)
    print("\nlibvirtd pid %s: %s" % (pid, label))
    assert label == "libvirtd (enforce)"


def test_guest_qemu_is_confined_unprivileged_and_sandboxed(host):
    with running_guest(host, DOMAIN) as pid:
        uuid = virsh(host, "domuuid", DOMAIN).strip()
        info = virsh(host, "dominfo", DOMAIN)
        label = label_of(host, pid)
        status = dict(line.split(":", 1) for line in
                      host.file("/proc/%s/status" % pid).content_string.splitlines())
        owner = host.file("/proc/%s" % pid).user
        print("\nguest %s pid %s: label %r, user %s, Seccomp %s"
              % (uuid, pid, label, owner, status["Seccomp"].strip()))

        # sVirt: libvirt generated a profile for this guest alone and QEMU runs under it.
        assert label == "libvirt-%s (enforce)" % uuid
        assert aa_status(host)["profiles"].get("libvirt-%s" % uuid) == "enforce"
        assert "Security model: apparmor" in info
        # QEMU does not run as root (Q4) and runs under its seccomp filter (Q6).
        assert owner == "libvirt-qemu"
        assert status["Uid"].split() == [str(host.user("libvirt-qemu").uid)] * 4
        assert status["Seccomp"].strip() == "2"
