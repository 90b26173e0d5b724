"""A throwaway guest for verify steps: q35 under TCG, no OS, one virtio disk.

It sits in its firmware, which is enough to show how libvirt starts and confines QEMU.
"""

import base64
import contextlib
import json
import os
import re
import time
import warnings

DEFAULT_IMAGE_DIR = "/var/lib/libvirt/images"

DOMAIN_XML = """<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  {seclabel}
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='{image}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    {devices}
    <memballoon model='virtio'/>
  </devices>
</domain>
"""


def virsh(host, *args):
    return host.run_expect([0], "virsh -c qemu:///system " + " ".join(args)).stdout


def guest_images(name, image_dir=DEFAULT_IMAGE_DIR, backing=False):
    """The image files of a test guest: its disk, then the disk's backing file if any.

    With backing, neither name ends in an image suffix (.qcow2, .img, ...), which the shipped
    virt-aa-helper profile would let it read anywhere.
    """
    if backing:
        return ["%s/%s-top" % (image_dir, name), "%s/%s-base" % (image_dir, name)]
    return ["%s/%s.qcow2" % (image_dir, name)]


# One virtio NIC on a libvirt network, with an optional <filterref>.
NIC_XML = "<interface type='network'><source network='%s'/><model type='virtio'/>%s</interface>"


def define_guest(host, name, image_dir=DEFAULT_IMAGE_DIR, backing=False, seclabel="", devices=""):
    """Creates the guest's images and its XML in /tmp; returns the XML's path (not defined yet).
    devices: extra device XML, such as NIC_XML filled in."""
    images = guest_images(name, image_dir, backing)
    if backing:
        # The top image is a qcow2 overlay: libvirt and virt-aa-helper must read it to find
        # the base, which QEMU then opens read-only.
        host.run_expect([0], "qemu-img create -q -f qcow2 %s 64M" % images[1])
        host.run_expect([0], "qemu-img create -q -f qcow2 -F qcow2 -b %s %s" % (images[1], images[0]))
    else:
        host.run_expect([0], "qemu-img create -q -f qcow2 %s 64M" % images[0])
    xml = DOMAIN_XML.format(name=name, image=images[0], seclabel=seclabel, devices=devices)
    host.run_expect([0], "cat > /tmp/%s.xml <<'EOF'\n%sEOF" % (name, xml))
    return "/tmp/%s.xml" % name


def remove_guest(host, name, image_dir=DEFAULT_IMAGE_DIR, backing=False):
    """Stops and undefines the guest and deletes its files; tolerates any of them missing."""
    host.run("virsh -c qemu:///system destroy %s" % name)
    host.run("virsh -c qemu:///system undefine %s" % name)
    host.run("rm -f %s /tmp/%s.xml" % (" ".join(guest_images(name, image_dir, backing)), name))


@contextlib.contextmanager
def guest_with_nic(host, name, network, filterref=""):
    """A guest defined (not started) with one NIC on the libvirt network; removed afterwards."""
    xml = define_guest(host, name, devices=NIC_XML % (network, filterref))
    try:
        virsh(host, "define", xml)
        yield xml
    finally:
        remove_guest(host, name)


def disk_io(host, name, command, answer):
    """Runs a qemu-io command (such as "write -P 0xab 0 4k") in the running guest's QEMU, on
    its virtio disk vda (HMP); returns what the guest's log gained once it holds the answer,
    else None. qemu-io answers on QEMU's stderr, which is the guest's log. A read with -P
    reports the read even when the pattern differs, and says so in a line of its own before."""
    log = host.file("/var/log/libvirt/qemu/%s.log" % name)
    start = len(log.content_string) if log.exists else 0
    virsh(host, "qemu-monitor-command", name, "--hmp",
          "'qemu-io -d /machine/peripheral/virtio-disk0/virtio-backend \"%s\"'" % command)
    for _attempt in range(10):
        text = log.content_string[start:]
        if answer in text:
            return text
        time.sleep(1)
    return None


def disk_writes(host, name, offset):
    """The guest's QEMU writes 4 KiB of 0xab at offset through its disk; whether it did."""
    return disk_io(host, name, "write -P 0xab %d 4k" % offset, "wrote 4096/4096 bytes at offset %d" % offset) is not None


def disk_reads_back(host, name, offset):
    """The guest's QEMU reads offset through its disk and finds what disk_writes put there."""
    log = disk_io(host, name, "read -P 0xab %d 4k" % offset, "read 4096/4096 bytes at offset %d" % offset)
    return log is not None and "Pattern verification failed at offset %d," % offset not in log


def disk_file(host, name, target="vda"):
    """The file the running guest's disk reads and writes now."""
    rows = [line.split() for line in virsh(host, "domblklist", name).splitlines()[2:] if line.strip()]
    return dict(rows)[target]


def start_unconfined_guest(host, name):
    """Defines and starts a guest with <seclabel type='none'/>, then removes it all; returns
    the result of the virsh call that failed or, if none did, of the start. With
    security_require_confined = 1 libvirt refuses it at define or, at the latest, at start."""
    xml = define_guest(host, name, seclabel="<seclabel type='none'/>")
    try:
        result = host.run("virsh -c qemu:///system define %s" % xml)
        if result.rc == 0:
            result = host.run("virsh -c qemu:///system start %s" % name)
        running = host.run_expect([0], "virsh -c qemu:///system list --name").stdout.split()
        assert name not in running
        assert host.run("pgrep -f 'guest=%s'" % name).rc == 1
        return result
    finally:
        remove_guest(host, name)


@contextlib.contextmanager
def running_guest(host, name, image_dir=DEFAULT_IMAGE_DIR, backing=False):
    """Defines and starts the guest, yields the PID of its QEMU process, then removes it all.

    image_dir: where its disk lives (a storage pool's directory); backing: the disk is an
    overlay on a base image in the same directory (see guest_images).
    """
    xml = define_guest(host, name, image_dir, backing)
    try:
        virsh(host, "define", xml)
        virsh(host, "start", name)
        assert virsh(host, "domstate", name).strip() == "running"
        pid = host.file("/run/libvirt/qemu/%s.pid" % name).content_string.strip()
        assert "qemu-system-x86_64" in host.file("/proc/%s/cmdline" % pid).content_string
        yield pid
    finally:
        remove_guest(host, name, image_dir, backing)
    assert host.run("virsh -c qemu:///system dominfo %s" % name).rc != 0


@contextlib.contextmanager
def running_guests(host, image_dirs, domain_type="qemu", hugepages=()):
    """Starts one guest per {name: image directory (e.g. a storage pool's)}, all running at
    once, and yields {name: PID of its QEMU process}; then removes them all. domain_type is
    'kvm' or 'qemu' (TCG); the guests named in hugepages have their RAM in 2 MiB hugepages
    (the host must have 64 free)."""
    pids = {}
    try:
        for name, image_dir in image_dirs.items():
            xml = define_guest(host, name, image_dir)
            host.run_expect([0], "sed -i \"s/<domain type='qemu'>/<domain type='%s'>/\" %s" % (domain_type, xml))
            if name in hugepages:
                host.run_expect([0], "sed -i 's|<vcpu>|<memoryBacking><hugepages/></memoryBacking><vcpu>|' %s" % xml)
            virsh(host, "define", xml)
            virsh(host, "start", name)
        for name in image_dirs:
            assert virsh(host, "domstate", name).strip() == "running"
            pids[name] = host.file("/run/libvirt/qemu/%s.pid" % name).content_string.strip()
            assert "qemu-system-x86_64" in host.file("/proc/%s/cmdline" % pids[name]).content_string
        yield pids
    finally:
        for name, image_dir in image_dirs.items():
            remove_guest(host, name, image_dir)
    for name in image_dirs:
        assert host.run("virsh -c qemu:///system dominfo %s" % name).rc != 0


def domain_identity(host, name):
    """UUID, MAC addresses and domain id ('-' when shut off) of a guest, as libvirt reports them."""
    xml = virsh(host, "dumpxml", name)
    return (re.search(r"<uuid>([^<]+)</uuid>", xml).group(1),
            re.findall(r"<mac address='([^']+)'/>", xml),
            virsh(host, "domid", name).strip())


def agent(host, guest, command, arguments=None):
    """One guest agent command through libvirt; its "return" value."""
    request = {"execute": command}
    if arguments is not None:
        request["arguments"] = arguments
    # One shell word for virsh, whatever quotes the request holds.
    out = virsh(host, "qemu-agent-command", guest, "'%s'" % json.dumps(request).replace("'", "'\\''"))
    return json.loads(out)["return"]


def guest_sh(host, guest, script):
    """Runs a shell script inside a booted guest through its agent; returns (rc, stdout)."""
    pid = agent(host, guest, "guest-exec", {"path": "/bin/sh", "arg": ["-c", script], "capture-output": True})["pid"]
    for _attempt in range(60):
        status = agent(host, guest, "guest-exec-status", {"pid": pid})
        if status["exited"]:
            return status["exitcode"], base64.b64decode(status.get("out-data", "")).decode()
        time.sleep(1)
    raise AssertionError("%s did not finish %r within 60 s" % (guest, script))


# The guest kernel's hung-task report: a boot whose init waited 120 s for one thing is stuck.
# Seen now and then under TCG on a loaded machine, in web1's vTPM self-test (tpm_crb, after RCU
# stalls "Possible timer handling issue"), with its QEMU and swtpm idle; a power cycle of the
# same guest, same disks, NVRAM and vTPM state, boots normally.
HUNG_BOOT = re.compile(r"INFO: task \S+ blocked for more than \d+ seconds")
# cloud-init's last words, on every boot: the guest's userspace is up, and its agent with it.
BOOT_FINISHED = re.compile(r"Cloud-init v\. \S+ finished at ")
# A booted guest whose agent stays silent this long has lost it; a boot whose console stays
# silent this long before cloud-init finished has stalled (the slowest step of a good TCG boot
# here, the firmware's, prints nothing for about 40 s).
AGENT_SILENT_AFTER_BOOT = 180
CONSOLE_SILENT = 300
PING = "virsh -c qemu:///system qemu-agent-command %s '{\"execute\":\"guest-ping\"}'"


def latest_boot(console):
    """The console log from the guest's latest kernel start on (virtlogd appends each boot)."""
    return console[max(console.rfind("Linux version "), 0):]


def boot_hung(console):
    """The hung-task report of the latest boot in a guest's console log, or None."""
    found = HUNG_BOOT.search(latest_boot(console))
    return found.group(0) if found else None


def console_log(guest):
    """Where virtlogd writes the guest's serial console (kvm_guests' template)."""
    return "/var/log/libvirt/qemu/%s-console.log" % guest


def read_console(host, guest):
    console = host.file(console_log(guest))
    return console.content_string if console.exists else ""


def last_lines(text, count=3):
    """The last COUNT non-blank lines of a console, on one line: for a failure's first line,
    which is all a CI summary keeps."""
    return " | ".join([line.strip() for line in text.splitlines() if line.strip()][-count:])


def guest_condition(host, guest):
    """What libvirt and the host say of a guest whose agent is silent, on one line: its state
    and reason, the CPU seconds its QEMU used, and why the last ping failed."""
    state = host.run("virsh -c qemu:///system domstate --reason %s" % guest).stdout.strip()
    cpu = host.run("virsh -c qemu:///system domstats --cpu-total %s | sed -n 's/.*cpu.time=//p'" % guest).stdout.strip()
    ping = host.run(PING % guest)
    return "domstate %s; QEMU CPU %s s; last ping: %s" % (
        state or "?", "%.0f" % (int(cpu) / 1e9) if cpu.isdigit() else "?",
        (ping.stderr.strip() or ping.stdout.strip() or "rc %d" % ping.rc)[:200])


def power_cycle(host, guest, reason, console):
    """Destroys the guest if it runs, starts it, appends why (with its console's tail) to
    .cache/logs/guest-boot-power-cycles.txt, which the suite's summary repeats, and warns."""
    from playbook import PROJECT  # pylint: disable=import-outside-toplevel
    condition = guest_condition(host, guest)
    # A guest that crashed is shut off already: then destroy has nothing to do.
    host.run("virsh -c qemu:///system destroy %s" % guest)
    virsh(host, "start", guest)
    record = os.path.join(PROJECT, ".cache", "logs", "guest-boot-power-cycles.txt")
    os.makedirs(os.path.dirname(record), exist_ok=True)
    with open(record, "a") as out:
        out.write("%s %s: boot hung (%s; %s); destroyed and started once. Console tail:\n%s\n\n"
                  % (time.strftime("%Y-%m-%dT%H:%M:%S"), guest, reason, condition, console[-4000:]))
    warnings.warn("%s's boot hung (%s) and was power-cycled once; see %s" % (guest, reason, record))


class BootWatch:
    """Tells, from a guest's console polled over time, whether its boot is stuck: a hung-task
    report (HUNG_BOOT), or a console silent too long, after the boot finished (the agent is
    lost) or before (the boot stalled)."""

    def __init__(self):
        self.console, self.changed_at = "", time.time()

    def stuck(self, console):
        if not console:
            return None  # no console log (yet): nothing to tell a stuck boot by
        if console != self.console:
            self.console, self.changed_at = console, time.time()
        hung = boot_hung(console)
        if hung:
            return hung
        silent = time.time() - self.changed_at
        if BOOT_FINISHED.search(latest_boot(console)):
            if silent >= AGENT_SILENT_AFTER_BOOT:
                return "booted, console and agent silent for %d s" % silent
        elif silent >= CONSOLE_SILENT:
            return "console silent for %d s before cloud-init finished" % silent
        return None


def wait_for_agent(host, guest, timeout):
    """Waits until the guest's agent answers guest-ping; returns the seconds it took. A stuck
    boot (BootWatch) is power-cycled once, on the record, and waited for anew."""
    started = deadline = time.time()
    deadline += timeout
    cycled, watch = False, BootWatch()
    while time.time() < deadline:
        if host.run(PING % guest).rc == 0:
            return time.time() - started
        console = read_console(host, guest)
        stuck = None if cycled else watch.stuck(console)
        if stuck:
            power_cycle(host, guest, stuck, console)
            cycled, deadline = True, time.time() + timeout
        time.sleep(5)
    console = read_console(host, guest)
    raise AssertionError("%s's agent did not answer within %d s%s (%s; console ends: %s); console tail:\n%s" % (
        guest, timeout, " of a power cycle" if cycled else "", guest_condition(host, guest),
        last_lines(latest_boot(console)) or "(empty)", console[-3000:] or "(no console log)"))
