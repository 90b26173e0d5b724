"""kvm_guests on the container tier: guests defined from the role's templates, one booted.

trixie boots web1 (profile secure) under TCG from the Debian 13 image tests/vm/build-guest-image.sh
builds, with a NoCloud seed. The proof comes from the guest itself: its console log (written
by virtlogd) and the guest agent. bookworm defines db1 (profile general) shut off, so libvirt
9.0 takes the same template. Every profile is rendered and validated against both libvirt
versions' schemas by tests/unit/roles/kvm_guests.
"""

import base64
import importlib.util
import json
import os
import re
import time

import pytest

from guests import virsh
from playbook import PROJECT, recap, run_playbook

GUESTS = {"kvmhost-bookworm": "db1", "kvmhost-trixie": "web1"}
BOOTED = "web1"
CONSOLE_LOG = "/var/log/libvirt/qemu/%s-console.log" % BOOTED
# Set by the seed's runcmd (molecule.yml): cloud-init ran the user-data, with its hostname.
SEED_LINE = "KVMCLOUD-SEED-APPLIED web1-guest"
CLOUD_INIT_DONE = re.compile(r"Cloud-init v\. \S+ finished at .* Datasource DataSourceNoCloud .*Up ([0-9.]+) seconds")
# A UEFI TCG boot with Secure Boot takes about a minute here; CI machines are slower.
BOOT_TIMEOUT = 600
# EFI global variable GUID: the firmware's own record of whether Secure Boot is on.
SECURE_BOOT_EFIVAR = "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"


def live_xml(host, name):
    return virsh(host, "dumpxml", name)


def identity(host, name):
    """UUID, MACs and domain id (or '-') of a guest, as libvirt reports them."""
    xml = live_xml(host, name)
    return (re.search(r"<uuid>([^<]+)</uuid>", xml).group(1),
            re.findall(r"<mac address='([^']+)'/>", xml),
            virsh(host, "domid", name).strip())


def agent(host, command, arguments=None):
    request = {"execute": command}
    if arguments is not None:
        request["arguments"] = arguments
    out = virsh(host, "qemu-agent-command", BOOTED, "'%s'" % json.dumps(request))
    return json.loads(out)["return"]


def guest_sh(host, script):
    """Runs a shell script inside the booted guest through the agent; returns (rc, stdout)."""
    pid = agent(host, "guest-exec", {"path": "/bin/sh", "arg": ["-c", script], "capture-output": True})["pid"]
    for _ in range(60):
        status = agent(host, "guest-exec-status", {"pid": pid})
        if status["exited"]:
            return status["exitcode"], base64.b64decode(status.get("out-data", "")).decode()
        time.sleep(1)
    raise AssertionError("the guest did not finish %r within 60 s" % script)


@pytest.fixture(scope="module")
def booted(host):
    """Waits until web1's console shows cloud-init finished; returns the console log."""
    if host.backend.get_hostname() != "kvmhost-trixie":
        pytest.skip("the booted guest web1 lives on the Debian 13 host; db1 on Debian 12 stays shut off")
    deadline = time.time() + BOOT_TIMEOUT
    log = ""
    while time.time() < deadline:
        log = host.file(CONSOLE_LOG).content_string if host.file(CONSOLE_LOG).exists else ""
        if CLOUD_INIT_DONE.search(log):
            break
        time.sleep(5)
    assert CLOUD_INIT_DONE.search(log), "cloud-init did not finish within %d s; console tail:\n%s" % (
        BOOT_TIMEOUT, log[-3000:])
    # Boot time for the record (pytest -v shows it with -s; the note quotes it).
    print("web1 booted: cloud-init finished %s s after the kernel started" % CLOUD_INIT_DONE.search(log).group(1))
    # The agent starts with the guest's udev, a little after the console says finished.
    for _ in range(60):
        if host.run("virsh -c qemu:///system qemu-agent-command %s '{\"execute\":\"guest-ping\"}'" % BOOTED).rc == 0:
            break
        time.sleep(2)
    return log


def test_rendered_definition_passes_virt_xml_validate(host, hostname):
    path = "/etc/kvmcloud/guests/%s.xml" % GUESTS[hostname]
    assert host.file(path).mode == 0o600
    host.run_expect([0], "virt-xml-validate %s domain" % path)


def template_cases():
    """Every profile the unit tests render (built-in and variants), kvm and qemu, as XML text."""
    path = os.path.join(PROJECT, "tests", "unit", "roles", "kvm_guests", "test_domain_template.py")
    spec = importlib.util.spec_from_file_location("kvm_guests_template", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {"%s-%s" % (name, domain_type): module.render(module.PROFILES[name], domain_type=domain_type)
            for name, domain_type in module.CASES}


def test_every_profile_passes_this_hosts_libvirt_schema(host):
    # Debian 12 ships libvirt 9.0, Debian 13 libvirt 11.3: the template must suit both.
    cases = template_cases()
    assert len(cases) >= 8
    for case, xml in cases.items():
        path = "/tmp/kvm-guests-%s.xml" % case
        host.run_expect([0], "cat > %s <<'EOF'\n%s\nEOF" % (path, xml))
        result = host.run("virt-xml-validate %s domain" % path)
        assert result.rc == 0, "%s: %s" % (case, result.stdout + result.stderr)
    # The check can fail: a misspelt element is refused.
    host.run_expect([0], "sed 's/<vcpu /<vcpus /' /tmp/kvm-guests-%s.xml > /tmp/kvm-guests-bad.xml" % next(iter(cases)))
    assert host.run("virt-xml-validate /tmp/kvm-guests-bad.xml domain").rc != 0
    host.run("rm -f /tmp/kvm-guests-*.xml")


def test_live_xml_has_virtio_devices_and_none_of_the_excluded(host, hostname):
    xml = live_xml(host, GUESTS[hostname])
    assert re.search(r"<type arch='x86_64' machine='pc-q35-[0-9.]+'>hvm</type>", xml)
    # Every disk on virtio-blk with an iothread, O_DIRECT, native AIO and discard.
    disks = re.findall(r"<disk type='file' device='disk'>.*?</disk>", xml, re.S)
    assert len(disks) >= 2
    for disk in disks:
        assert "bus='virtio'" in disk
        assert re.search(r"<driver name='qemu' type='(qcow2|raw)'", disk)
    data_disks = [d for d in disks if "<readonly/>" not in d]
    for disk in data_disks:
        assert "cache='none' io='native' discard='unmap' iothread='1'" in disk
    interface = re.search(r"<interface type='network'>.*?</interface>", xml, re.S).group(0)
    assert "<model type='virtio'/>" in interface
    # One queue pair per vCPU; libvirt leaves out queues='1'.
    vcpus = int(re.search(r"<vcpu placement='static'>(\d+)</vcpu>", xml).group(1))
    assert ("<driver name='vhost' queues='%d'/>" % vcpus if vcpus > 1 else "<driver name='vhost'/>") in interface
    assert "<rom enabled='no'/>" in interface
    assert "<filterref filter='clean-traffic'" in interface
    assert re.search(r"<rng model='virtio'>\s*<backend model='random'>/dev/urandom</backend>", xml)
    assert re.search(r"<target type='virtio' name='org\.qemu\.guest_agent\.0'", xml)
    assert "<serial type='pty'>" in xml
    assert "<controller type='usb' index='0' model='none'" in xml
    assert "<vmport state='off'/>" in xml
    # libvirt adds an audio backend of type none by itself; no sound device may exist.
    for excluded in ("<sound", "<redirdev", "type='floppy'", "device='floppy'", "<input type='tablet'",
                     "<graphics", "<hostdev", "qemu:commandline", "<smartcard", "<shmem"):
        assert excluded not in xml, excluded
    assert "<seclabel type='none'" not in xml


def test_firmware_is_uefi_with_secure_boot_and_enrolled_keys(host, hostname):
    xml = live_xml(host, GUESTS[hostname])
    assert "<os firmware='efi'>" in xml
    assert "<feature enabled='yes' name='secure-boot'/>" in xml
    assert "<feature enabled='yes' name='enrolled-keys'/>" in xml
    assert "<smm state='on'/>" in xml
    if hostname == "kvmhost-trixie":
        # libvirt 11 picks the firmware at define time: OVMF with Microsoft's keys.
        assert re.search(r"<loader readonly='yes' secure='yes' type='pflash'[^>]*>/usr/share/OVMF/OVMF_CODE_4M\.ms\.fd<", xml)
        assert re.search(r"<nvram template='/usr/share/OVMF/OVMF_VARS_4M\.ms\.fd'", xml)


def test_profiles_differ_as_declared(host, hostname):
    xml = live_xml(host, GUESTS[hostname])
    if hostname == "kvmhost-trixie":
        # secure: vTPM 2.0 by swtpm, no balloon.
        assert re.search(r"<tpm model='tpm-crb'>\s*<backend type='emulator' version='2.0'", xml)
        assert "<memballoon model='none'/>" in xml
    else:
        # general: balloon with statistics, no vTPM.
        assert re.search(r"<memballoon model='virtio'>\s*<stats period='10'/>", xml)
        assert "<tpm" not in xml


def test_emulated_guest_gets_a_safe_cpu_model_and_a_small_translation_cache(host, hostname):
    xml = live_xml(host, GUESTS[hostname])
    assert xml.startswith("<domain type='qemu'")
    assert re.search(r"<cpu mode='custom' match='exact'[^>]*>\s*<model fallback='forbid'>qemu64</model>", xml)
    assert "host-passthrough" not in xml
    assert re.search(r"<tb-cache unit='KiB'>262144</tb-cache>", xml)
    # KSM is off on these hosts: the guest's pages are kept out of it anyway.
    assert "<nosharepages/>" in xml


def test_guest_disks_are_overlays_of_the_imported_base(host, hostname):
    name = GUESTS[hostname]
    info = json.loads(host.check_output("qemu-img info -U --output=json /var/lib/libvirt/images/guests/%s/disk0.qcow2" % name))
    assert info["format"] == "qcow2"
    assert info["full-backing-filename"] == "/var/lib/libvirt/images/base/debian-13.qcow2"
    assert info["backing-filename-format"] == "qcow2"
    base = host.file("/var/lib/libvirt/images/base/debian-13.qcow2")
    assert base.mode == 0o644
    # The imported base is byte for byte the image the controller built.
    with open("%s/.cache/guest/debian-trixie/checksum" % PROJECT) as checksum:
        assert "sha256:" + base.sha256sum == checksum.read().strip()


def test_shut_off_guest_stays_shut_off(host, hostname):
    if hostname != "kvmhost-bookworm":
        return
    assert virsh(host, "domstate", "db1").strip() == "shut off"
    assert re.search(r"^Autostart:\s+disable$", virsh(host, "dominfo", "db1"), re.M)


def test_guest_boots_with_secure_boot_on(host, booted):
    # The guest kernel's own words: the firmware booted it with Secure Boot on, through
    # Microsoft-signed shim and Debian-signed GRUB and kernel.
    assert "EFI stub: UEFI Secure Boot is enabled." in booted
    assert "secureboot: Secure boot enabled" in booted
    # efivarfs: four bytes of attributes, then the value.
    rc, out = guest_sh(host, "od -An -tu1 %s" % SECURE_BOOT_EFIVAR)
    assert rc == 0 and out.split()[-1] == "1", out


def test_cloud_init_applied_the_seed(host, booted):
    assert SEED_LINE in booted
    assert "Datasource DataSourceNoCloud [seed=/dev/vdc]" in booted
    assert agent(host, "guest-get-host-name")["host-name"] == "web1-guest"
    rc, out = guest_sh(host, "cat /var/lib/kvmcloud/seed-marker")
    assert (rc, out) == (0, "seeded by kvm_guests\n")


def test_guest_kernel_bound_the_virtio_drivers(host, booted):
    # One line per device bound: the driver's directory holds a link named after the device.
    rc, out = guest_sh(host, "cd /sys/bus/virtio/drivers && ls -d */virtio*")
    assert rc == 0, out
    bound = [line.split("/")[0] for line in out.split()]
    # Two data disks and the seed on virtio_blk; the NIC, the RNG and the agent's port.
    assert bound.count("virtio_blk") == 3, out
    for driver in ("virtio_net", "virtio_rng", "virtio_console"):
        assert driver in bound, out
    rc, out = guest_sh(host, "cat /sys/devices/virtual/misc/hw_random/rng_current")
    assert out.strip().startswith("virtio_rng"), out


def test_guest_has_its_vtpm_and_its_address(host, booted):
    rc, out = guest_sh(host, "cat /sys/class/tpm/tpm0/tpm_version_major")
    assert (rc, out.strip()) == (0, "2")
    # DHCP from the isolated network, on the MAC libvirt holds for the guest.
    mac = identity(host, BOOTED)[1][0]
    addresses = agent(host, "guest-network-get-interfaces")
    nic = [i for i in addresses if i.get("hardware-address") == mac]
    assert nic, addresses
    assert any(a["ip-address"].startswith("192.168.151.") for a in nic[0].get("ip-addresses", []))


def test_qemu_runs_the_guest_without_kvm_and_without_a_graphics_server(host, booted):
    pid = host.check_output("pgrep -f 'guest=%s,'" % BOOTED).split()[0]
    cmdline = host.file("/proc/%s/cmdline" % pid).content_string.replace("\0", " ")
    assert "-accel tcg" in cmdline
    assert "-display none" in cmdline
    assert "-vnc" not in cmdline and "-spice" not in cmdline
    assert host.check_output("stat -c %%U /proc/%s" % pid) == "libvirt-qemu"


def test_rerun_changes_nothing_and_keeps_uuid_mac_and_the_running_guest(host, hostname):
    name = GUESTS[hostname]
    before = identity(host, name)
    result = run_playbook("--tags", "kvm_guests", limit=hostname)
    assert result.returncode == 0, result.stdout[-3000:]
    assert recap(result.stdout, hostname)["changed"] == 0, result.stdout[-3000:]
    assert identity(host, name) == before


def test_changed_template_updates_the_definition_and_asks_for_a_restart(host, hostname, booted):
    uuid, macs, domid = identity(host, BOOTED)
    marker = "/run/kvmcloud/guests/%s@%s.restart" % (BOOTED, domid)
    # A smaller translation cache: a new definition the running guest cannot take live.
    result = run_playbook("--tags", "kvm_guests", "-e", "kvm_guests_emulated_tb_cache_mib=128", limit=hostname)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Running an older definition than the one libvirt now holds: web1." in result.stdout
    assert "<tb-cache unit='KiB'>131072</tb-cache>" in virsh(host, "dumpxml", "--inactive", BOOTED)
    assert "<tb-cache unit='KiB'>262144</tb-cache>" in live_xml(host, BOOTED)
    assert host.file(marker).exists
    # Back to the declared template: still pending until the guest restarts, identity unchanged.
    result = run_playbook("--tags", "kvm_guests", limit=hostname)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "<tb-cache unit='KiB'>262144</tb-cache>" in virsh(host, "dumpxml", "--inactive", BOOTED)
    assert identity(host, BOOTED) == (uuid, macs, domid)


def test_undefine_removes_the_uefi_variables_and_keeps_the_disks(host, hostname):
    if hostname != "kvmhost-bookworm":
        return
    nvram = "/var/lib/libvirt/qemu/nvram/db1_VARS.fd"
    uuid, macs, _ = identity(host, "db1")
    # libvirt 9.0 copies the variable store at the first start; libvirt refuses to undefine
    # a guest that has one unless told what to do with it.
    virsh(host, "start", "db1")
    assert host.file(nvram).exists
    undefined = json.dumps({"kvm_guests_list": [{"name": "db1", "state": "undefined"}]})
    result = run_playbook("--tags", "kvm_guests", "-e", undefined, limit=hostname)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "db1" not in virsh(host, "list", "--all", "--name").split()
    assert not host.file(nvram).exists
    assert not host.file("/etc/kvmcloud/guests/db1.xml").exists
    assert host.file("/var/lib/libvirt/images/guests/db1/disk0.qcow2").exists
    # The declared inventory brings it back, shut off, with the same identity.
    result = run_playbook("--tags", "kvm_guests", limit=hostname)
    assert result.returncode == 0, result.stdout[-3000:]
    assert virsh(host, "domstate", "db1").strip() == "shut off"
    assert identity(host, "db1")[:2] == (uuid, macs)
