"""kvm_guests on the container tier, both hosts: the definitions the role makes.

trixie has web1 (profile secure, running: test_kvm_guests_boot.py shows it booted), bookworm
db1 (profile general, defined shut off), so libvirt 11.3 and 9.0 both take the template.
Every profile the unit tests render is validated against each host's libvirt schema.
"""

import importlib.util
import json
import os
import re
import time

import pytest

from guests import domain_identity, virsh
from playbook import PROJECT, changed_tasks, recap, run_playbook

GUESTS = {"kvmhost-bookworm": "db1", "kvmhost-trixie": "web1"}
# molecule.yml turns live migration on there: its guests get the fleet's CPU (kvm_guests_cpu_mode).
MIGRATING = {"kvmhost-trixie"}
# What tests/vm/build-guest-image.sh leaves on the controller (molecule.yml imports it).
GUEST_IMAGE = os.path.join(PROJECT, ".cache", "guest", "debian-trixie")


def live_xml(host, name):
    return virsh(host, "dumpxml", name)


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
    if hostname in MIGRATING:
        # The fleet's CPU: this host is the only one of the play in fleet mode, so the baseline
        # is the CPU libvirt's host-model stands for here.
        caps = virsh(host, "domcapabilities --virttype qemu --arch x86_64 --machine q35")
        own = re.search(r"<mode name='host-model' supported='yes'>\s*<model fallback='forbid'>([^<]+)</model>", caps)
        assert own, caps[:2000]
        model = own.group(1)
    else:
        model = "qemu64"
    assert re.search(r"<cpu mode='custom' match='exact'[^>]*>\s*<model fallback='forbid'>%s</model>" % re.escape(model),
                     xml), re.findall(r"<cpu.*?</cpu>", xml, re.S)
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
    with open(os.path.join(GUEST_IMAGE, "checksum")) as checksum:
        assert "sha256:" + base.sha256sum == checksum.read().strip()


@pytest.mark.only_hosts("kvmhost-bookworm")
def test_shut_off_guest_stays_shut_off(host, hostname):
    assert virsh(host, "domstate", "db1").strip() == "shut off"
    assert re.search(r"^Autostart:\s+disable$", virsh(host, "dominfo", "db1"), re.M)


def test_rerun_changes_nothing_and_keeps_uuid_mac_and_the_running_guest(host, hostname):
    name = GUESTS[hostname]
    before = domain_identity(host, name)
    result = run_playbook("--tags", "kvm_guests", limit=hostname)
    assert result.returncode == 0, result.stdout[-3000:]
    assert recap(result.stdout, hostname)["changed"] == 0, result.stdout[-3000:]
    assert domain_identity(host, name) == before


@pytest.mark.only_hosts("kvmhost-bookworm")
def test_undefine_removes_the_uefi_variables_keeps_the_disks_unless_asked_and_only_its_own(host, hostname):
    nvram = "/var/lib/libvirt/qemu/nvram/db1_VARS.fd"
    uuid, macs = domain_identity(host, "db1")[:2]
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
    # remove_disks takes only a directory the role made (it holds the role's marker file): a
    # stray directory named like a guest stays, and the run stops before any guest changes.
    stray = "/var/lib/libvirt/images/guests/stray"
    host.run_expect([0], "mkdir -p %s && echo keep > %s/data" % (stray, stray))
    hostile = json.dumps({"kvm_guests_list": [{"name": "stray", "state": "undefined", "remove_disks": True}]})
    result = run_playbook("--tags", "kvm_guests", "-e", hostile, limit=hostname)
    assert result.returncode != 0
    # The callback wraps long messages: compare with the line breaks folded.
    output = result.stdout + result.stderr
    assert "%s has no .kvmcloud-guest file" % stray in " ".join(output.split()), output[-3000:]
    assert host.file(stray + "/data").content_string == "keep\n"
    host.run_expect([0], "rm -r " + stray)
    assert host.file("/var/lib/libvirt/images/guests/db1/.kvmcloud-guest").content_string == "db1\n"
    removed = json.dumps({"kvm_guests_list": [{"name": "db1", "state": "undefined", "remove_disks": True}]})
    result = run_playbook("--tags", "kvm_guests", "-e", removed, limit=hostname)
    assert result.returncode == 0, result.stdout[-3000:]
    assert not host.file("/var/lib/libvirt/images/guests/db1").exists
    # The declared inventory brings it back, shut off, with the same identity. Check mode
    # first: it makes nothing, and names the tasks the real run then changes.
    preview = run_playbook("--tags", "kvm_guests", "--check", limit=hostname)
    assert preview.returncode == 0, preview.stdout[-3000:]
    assert not host.file("/var/lib/libvirt/images/guests/db1").exists
    result = run_playbook("--tags", "kvm_guests", limit=hostname)
    assert result.returncode == 0, result.stdout[-3000:]
    assert changed_tasks(preview.stdout, hostname) == changed_tasks(result.stdout, hostname) != set()
    assert virsh(host, "domstate", "db1").strip() == "shut off"
    assert domain_identity(host, "db1")[:2] == (uuid, macs)


# The import is the same code on both hosts: one host is enough for three playbook runs.
@pytest.mark.only_hosts("kvmhost-trixie")
def test_base_images_from_a_host_path_and_a_url_are_checksummed(host, hostname):
    """The scenario's own image comes from the controller (src); these come from a path on the
    host and from a URL served on the host's loopback, each imported once with its checksum."""
    src = "/srv/kvm-guests-src"
    host.run_expect([0], "mkdir -p %s && qemu-img create -q -f qcow2 %s/tiny.qcow2 64M" % (src, src))
    digest = "sha256:" + host.check_output("sha256sum %s/tiny.qcow2" % src).split()[0]
    host.run_expect([0], "systemd-run --unit kvm-guests-http python3 -m http.server --bind 127.0.0.1"
                         " --directory %s 18080" % src)
    probe = "python3 -c 'import urllib.request as u; u.urlopen(\"http://127.0.0.1:18080/\")'"
    for _attempt in range(60):
        if host.run(probe).rc == 0:
            break
        time.sleep(0.5)
    with open(os.path.join(GUEST_IMAGE, "checksum")) as checksum:
        own = {"name": "debian-13", "format": "qcow2", "checksum": checksum.read().strip(),
               "src": os.path.join(GUEST_IMAGE, "disk.qcow2")}
    extra = [{"name": "tiny-path", "format": "qcow2", "path": src + "/tiny.qcow2", "checksum": digest},
             {"name": "tiny-url", "format": "qcow2", "url": "http://127.0.0.1:18080/tiny.qcow2", "checksum": digest}]
    base = "/var/lib/libvirt/images/base/"
    try:
        # One get_url task imports both: the first run changes it, the second nothing.
        for first in (True, False):
            for name in ("tiny-path", "tiny-url"):
                assert host.file(base + name + ".qcow2").exists is not first
            result = run_playbook("--tags", "kvm_guests", "-e", json.dumps({"kvm_guests_base_images": [own] + extra}),
                                  limit=hostname)
            assert result.returncode == 0, result.stdout[-3000:]
            changed = recap(result.stdout, hostname)["changed"]
            assert changed == (1 if first else 0), result.stdout[-3000:]
            for name in ("tiny-path", "tiny-url"):
                assert "sha256:" + host.file(base + name + ".qcow2").sha256sum == digest
        # A wrong checksum: the run stops and nothing is left behind.
        bad = {"name": "tiny-bad", "format": "qcow2", "url": "http://127.0.0.1:18080/tiny.qcow2",
               "checksum": "sha256:" + "0" * 64}
        result = run_playbook("--tags", "kvm_guests", "-e", json.dumps({"kvm_guests_base_images": [own, bad]}),
                              limit=hostname)
        output = result.stdout + result.stderr
        assert result.returncode != 0, output[-3000:]
        # get_url's own words; where they land (stdout or stderr) depends on the callback's settings.
        assert "did not match" in output, output[-3000:]
        assert not host.file(base + "tiny-bad.qcow2").exists
    finally:
        host.run("systemctl stop kvm-guests-http")
        host.run("rm -rf %s %stiny-*.qcow2" % (src, base))
