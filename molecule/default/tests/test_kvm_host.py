"""Verifies the live state of hosts converged by the kvm_host role.

Every test asks the running host (systemd, sockets, files, libvirt, processes), never the
variables the scenario passed in; each would fail on a host without the role.
"""

import json
import os

import pytest
from guests import running_guest, virsh

from playbook import recap, run_playbook

SOCKETS = {
    "/run/libvirt/libvirt-sock": 0o770,
    "/run/libvirt/libvirt-sock-ro": 0o770,
    "/run/libvirt/libvirt-admin-sock": 0o700,
}


@pytest.mark.parametrize("unit", ["libvirtd.socket", "libvirtd-ro.socket", "libvirtd-admin.socket",
                                  "virtlogd.socket"])
def test_libvirt_sockets_are_enabled_and_listening(host, unit):
    assert host.service(unit).is_enabled
    assert host.service(unit).is_running


def test_libvirtd_is_enabled_and_starts_when_asked(host):
    # Debian's libvirtd exits after 2 idle minutes and its socket starts it again, so the
    # test asks for it (virsh) and then expects it to run.
    assert host.service("libvirtd.service").is_enabled
    virsh(host, "list", "--all")
    assert host.service("libvirtd.service").is_running


def test_virsh_answers_as_root(host):
    out = virsh(host, "uri")
    assert out.strip() == "qemu:///system"


@pytest.mark.parametrize("path,mode", sorted(SOCKETS.items()))
def test_unix_sockets_are_group_restricted(host, path, mode):
    sock = host.file(path)
    assert sock.is_socket
    assert sock.user == "root"
    assert sock.group == "libvirt"
    assert sock.mode == mode


def test_qemu_conf_is_root_only_and_rendered(host):
    conf = host.file("/etc/libvirt/qemu.conf")
    assert (conf.user, conf.group, conf.mode) == ("root", "root", 0o600)
    for line in ['user = "libvirt-qemu"', 'group = "kvm"', "dynamic_ownership = 1",
                 "remember_owner = 1", 'stdio_handler = "logd"', 'vnc_listen = "127.0.0.1"']:
        assert line in conf.content_string.splitlines()


def test_daemon_conf_requires_polkit_and_restricts_sockets(host):
    lines = host.file("/etc/libvirt/libvirtd.conf").content_string.splitlines()
    for line in ['unix_sock_group = "libvirt"', 'unix_sock_rw_perms = "0770"',
                 'auth_unix_rw = "polkit"', "audit_level = 1"]:
        assert line in lines


def test_default_pool_is_active_autostarted_and_strict(host):
    info = virsh(host, "pool-info", "default")
    assert "State:          running" in info
    assert "Autostart:      yes" in info
    assert "<path>/var/lib/libvirt/images</path>" in virsh(host, "pool-dumpxml", "default")
    directory = host.file("/var/lib/libvirt/images")
    assert (directory.user, directory.group, directory.mode) == ("root", "root", 0o711)


def test_extra_pool_exactly_where_configured(host, hostname):
    pool = host.run("virsh -c qemu:///system pool-info tenants")
    if hostname == "kvmhost-bookworm":
        assert "State:          running" in pool.stdout
        directory = host.file("/srv/libvirt/tenants")
        assert (directory.user, directory.group, directory.mode) == ("root", "root", 0o700)
    else:
        # Only kvmhost-bookworm lists the 'tenants' pool.
        assert pool.rc != 0
        assert not host.file("/srv/libvirt/tenants").exists


def test_default_network_follows_the_choice(host, hostname):
    networks = host.run("virsh -c qemu:///system net-info default")
    if hostname == "kvmhost-bookworm":
        # This host asked to keep it.
        assert networks.rc == 0
        assert "Active:         yes" in networks.stdout
        assert "Autostart:      yes" in networks.stdout
    else:
        assert networks.rc != 0, "the default NAT network should have been removed"
        assert not host.file("/etc/libvirt/qemu/networks/default.xml").exists


def test_admins_are_in_the_libvirt_group_and_can_manage(host, hostname):
    members = host.group("libvirt").members
    if hostname == "kvmhost-bookworm":
        assert members == ["vmadmin"]
        # polkit lets the libvirt group use the read-write socket.
        host.run_expect([0], "su vmadmin -s /bin/sh -c 'virsh -c qemu:///system list --all'")
    else:
        assert members == []


def test_throwaway_tcg_domain_defines_starts_and_goes(host):
    with running_guest(host, "verify-throwaway") as pid:
        live = virsh(host, "dumpxml", "verify-throwaway")
        assert "machine='pc-q35" in live
        assert "bus='virtio'" in live
        # qemu.conf's user takes effect: the guest process does not run as root.
        assert host.file("/proc/%s" % pid).user == "libvirt-qemu"
        # stdio_handler = "logd": the guest's console log goes through virtlogd.
        assert host.service("virtlogd.service").is_running


def test_check_mode_on_the_fresh_host_named_only_changes_the_converge_made(hostname):
    """Molecule's check step ran on the fresh host, then converge: before libvirt is installed
    check mode previews what it can decide without libvirt (the packages, the roles' keys in
    libvirt's config files, the sockets' mask, the bridges' apply) and says which steps it
    cannot (the guests, which need libvirt's answers, and what the packages themselves do),
    never more than the converge then makes."""
    log = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "changed.jsonl")
    with open(log) as handle:
        runs = [json.loads(line) for line in handle]
    first_check = next(index for index, run in enumerate(runs) if run["check"])
    converge = next(run for run in runs[first_check + 1:] if not run["check"])
    predicted = set(runs[first_check]["changed"].get(hostname, []))
    made = set(converge["changed"].get(hostname, []))
    for task in ("kvm_host : Hypervisor packages are installed (apt)",
                 "kvm_host : The qemu.conf file (readable by root only) and the daemon's config hold the configured settings",
                 "kvm_hardening : QEMU is confined (sVirt, seccomp, mount namespace, device ACL) and the daemon refuses"
                 " plain TCP and audits",
                 "kvm_hardening : The plain TCP socket is masked, and the TLS socket unless TLS is on",
                 "kvm_network : Guest bridges are applied"):
        assert "kvmcloud.hypervisor." + task in predicted & made, (task, sorted(predicted), sorted(made))
    assert predicted <= made, "check mode named changes the converge did not make: %s" % sorted(predicted - made)


def test_check_mode_on_a_converged_host_reports_no_change(hostname):
    result = run_playbook("--check", "--diff", limit=hostname)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    counters = recap(result.stdout, hostname)
    assert counters["changed"] == 0 and counters["failed"] == 0, result.stdout[-3000:]


def test_preflight_stops_a_host_that_cannot_run_kvm_guests(hostname):
    # Our machines' /dev/kvm cannot run ordinary guests; without the emulation opt-in the
    # playbook must stop in its preflight play, saying why, before it changes anything.
    result = run_playbook("-e", "kvm_host_allow_emulation=false", limit=hostname)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "cannot run KVM guests" in output
    assert "no vmx/svm" in output
    assert "PLAY [KVM hosts are hypervisors]" not in output
    counters = recap(result.stdout, hostname)
    assert counters["failed"] == 1 and counters["changed"] == 0
