"""A throwaway guest for verify steps: q35 under TCG, no OS, one virtio disk.

It sits in its firmware, which is enough to show how libvirt starts and confines QEMU.
"""

import contextlib

DOMAIN_XML = """<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='{image}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <memballoon model='virtio'/>
  </devices>
</domain>
"""


def virsh(host, *args):
    return host.run_expect([0], "virsh -c qemu:///system " + " ".join(args)).stdout


@contextlib.contextmanager
def running_guest(host, name):
    """Defines and starts the guest, yields the PID of its QEMU process, then removes it all."""
    image = "/var/lib/libvirt/images/%s.qcow2" % name
    host.run_expect([0], "qemu-img create -q -f qcow2 %s 64M" % image)
    host.run_expect([0], "cat > /tmp/%s.xml <<'EOF'\n%sEOF" % (name, DOMAIN_XML.format(name=name, image=image)))
    try:
        virsh(host, "define", "/tmp/%s.xml" % name)
        virsh(host, "start", name)
        assert virsh(host, "domstate", name).strip() == "running"
        pid = host.file("/run/libvirt/qemu/%s.pid" % name).content_string.strip()
        assert "qemu-system-x86_64" in host.file("/proc/%s/cmdline" % pid).content_string
        yield pid
    finally:
        host.run("virsh -c qemu:///system destroy %s" % name)
        host.run("virsh -c qemu:///system undefine %s" % name)
        host.run("rm -f %s /tmp/%s.xml" % (image, name))
    assert host.run("virsh -c qemu:///system dominfo %s" % name).rc != 0
