"""Verify for the larger-playbook scenario: the team's own tasks and the collection's roles
both left their mark on the live host."""

import json


def virsh(host, *args):
    return host.check_output("virsh -c qemu:///system " + " ".join(args))


def test_team_tasks_ran(host):
    assert host.file("/etc/motd").content_string == "larger-cloud: managed by Ansible\n"
    assert host.user("cloudops-admin").group == "cloudops"


def test_kvm_host_configured_libvirt(host):
    assert host.socket("unix:///run/libvirt/libvirt-sock").is_listening
    qemu_conf = host.file("/etc/libvirt/qemu.conf")
    assert (qemu_conf.user, qemu_conf.mode) == ("root", 0o600)
    assert "libvirt" in host.user("cloudops-admin").groups


def test_kvm_hardening_applied(host):
    settings = host.file("/etc/libvirt/qemu.conf").content_string
    assert "security_require_confined = 1" in settings
    assert "seccomp_sandbox = 1" in settings
    assert host.check_output("systemctl is-enabled libvirtd-tcp.socket || true") == "masked"


def test_kvm_network_built_restricted_bridge(host):
    links = json.loads(host.check_output("ip -j -d link show br-tenant"))
    assert links[0]["linkinfo"]["info_kind"] == "bridge"
    # ip leaves out a link with no address of the family asked for.
    ipv4 = json.loads(host.check_output("ip -j -4 addr show dev br-tenant"))
    assert [entry["addr_info"] for entry in ipv4 if entry["addr_info"]] == []
    assert "br-tenant" in virsh(host, "net-list", "--name")


def test_kvm_guests_defined_the_guest(host):
    assert virsh(host, "domstate", "tenant-a") == "shut off"
    xml = virsh(host, "dumpxml", "--inactive", "tenant-a")
    assert "<filterref filter='clean-traffic'" in xml
    disk = host.check_output(
        "qemu-img info --output=json /var/lib/libvirt/images/guests/tenant-a/disk0.qcow2")
    assert json.loads(disk)["backing-filename"].endswith("/blank.qcow2")
