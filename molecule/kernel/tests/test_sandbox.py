"""Verifies on a live VM what only a real kernel can show: AppArmor confines libvirt and
each guest's QEMU process (sVirt).

Every test asks the running VM (kernel, AppArmor, libvirt, /proc), never the scenario's
variables; each would fail on a host without AppArmor, with libvirt unconfined, or with
`security_driver = "none"`.
"""

import json

DOMAIN = "kernel-guest"
IMAGE = "/var/lib/libvirt/images/%s.qcow2" % DOMAIN
# Q35 under TCG, no OS: it sits in the firmware, which is enough to be confined.
DOMAIN_XML = """<domain type='qemu'>
  <name>%s</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='%s'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <memballoon model='none'/>
  </devices>
</domain>
""" % (DOMAIN, IMAGE)


def virsh(host, *args):
    return host.run_expect([0], "virsh -c qemu:///system " + " ".join(args)).stdout


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
    host.run_expect([0], "qemu-img create -q -f qcow2 %s 64M" % IMAGE)
    host.run_expect([0], "cat > /tmp/%s.xml <<'EOF'\n%sEOF" % (DOMAIN, DOMAIN_XML))
    try:
        virsh(host, "define", "/tmp/%s.xml" % DOMAIN)
        virsh(host, "start", DOMAIN)
        assert virsh(host, "domstate", DOMAIN).strip() == "running"
        uuid = virsh(host, "domuuid", DOMAIN).strip()
        pid = host.file("/run/libvirt/qemu/%s.pid" % DOMAIN).content_string.strip()
        assert "qemu-system-x86_64" in host.file("/proc/%s/cmdline" % pid).content_string
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
    finally:
        host.run("virsh -c qemu:///system destroy %s" % DOMAIN)
        host.run("virsh -c qemu:///system undefine %s" % DOMAIN)
        host.run("rm -f %s /tmp/%s.xml" % (IMAGE, DOMAIN))
    assert host.run("virsh -c qemu:///system dominfo %s" % DOMAIN).rc != 0
