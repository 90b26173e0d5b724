"""kvm_hardening on the container tier: the controls a container can show.

Each test asks the live host (files, sockets, units, /proc, a TLS handshake), never the
scenario's variables. The MAC controls need a kernel of their own: molecule/apparmor and
molecule/selinux prove those in VMs.
"""

import hashlib
import os
import re

from hostnet import management_address
from playbook import recap, run_playbook

MIGRATION_KEYS = ("migrate_tls_force", "migration_address", "migration_host", "migration_port_min",
                  "migration_port_max", "default_tls_x509_cert_dir", "default_tls_x509_verify")


def conf_lines(host, path):
    """The active (uncommented) key = value lines of a libvirt config file."""
    text = host.file(path).content_string
    return dict((key.strip(), value.strip()) for key, value in
                re.findall(r"^([a-z0-9_]+)\s*=\s*(.+)$", text, re.MULTILINE))


def listening(host, port):
    return [line for line in host.run_expect([0], "ss -Hltn").stdout.splitlines()
            if re.search(r":%d\s" % port, line)]


def test_qemu_is_confined_by_qemu_conf(host):
    conf = conf_lines(host, "/etc/libvirt/qemu.conf")
    print("\nqemu.conf: %s" % {k: conf.get(k) for k in ("seccomp_sandbox", "namespaces", "security_driver")})
    assert conf.get("seccomp_sandbox") == "1"
    assert conf.get("namespaces") == '[ "mount" ]'
    assert "cgroup_device_acl" not in conf
    # No LSM in a container: requiring confinement would stop every guest, and "none" is
    # never written. molecule/apparmor and molecule/selinux check the real values.
    assert "security_driver" not in conf
    assert "security_require_confined" not in conf


def test_daemon_refuses_plain_tcp_and_audits(host):
    conf = conf_lines(host, "/etc/libvirt/libvirtd.conf")
    assert conf.get("listen_tcp") == "0"
    assert conf.get("audit_logging") == "1"
    assert host.run("systemctl is-enabled libvirtd-tcp.socket").stdout.strip() == "masked"
    assert listening(host, 16509) == []


def test_tls_only_where_it_is_turned_on(host, hostname):
    state = host.run("systemctl is-enabled libvirtd-tls.socket").stdout.strip()
    if hostname != "kvmhost-trixie":
        assert state == "masked"
        assert listening(host, 16514) == []
        return
    assert state == "enabled"
    assert listening(host, 16514), "nothing listens on 16514"
    key = host.file("/etc/pki/libvirt/private/serverkey.pem")
    assert (key.user, key.group, key.mode) == ("root", "root", 0o600)
    assert "CN=admin,O=kvmcloud" in conf_lines(host, "/etc/libvirt/libvirtd.conf")["tls_allowed_dn_list"]


def test_tls_lets_in_only_the_allowed_client(host, hostname):
    if hostname != "kvmhost-trixie":
        assert listening(host, 16514) == []
        return
    uri = "qemu+tls://localhost/system?pkipath=/root/pki-%s"
    allowed = host.run("timeout 60 virsh -c '%s' list --all" % (uri % "admin"))
    refused = host.run("timeout 60 virsh -c '%s' list --all" % (uri % "intruder"))
    print("\nallowed client rc=%d; other client rc=%d: %s" % (allowed.rc, refused.rc, refused.stderr.strip()))
    assert allowed.rc == 0, allowed.stderr
    assert refused.rc != 0


def test_migration_only_over_tls_where_it_is_turned_on(host, hostname):
    conf = conf_lines(host, "/etc/libvirt/qemu.conf")
    if hostname != "kvmhost-trixie":
        assert [key for key in MIGRATION_KEYS if key in conf] == []
        assert not host.file("/etc/pki/qemu").exists
        return
    address = management_address(host)
    print("\nqemu.conf: %s" % {key: conf.get(key) for key in MIGRATION_KEYS})
    assert conf["migrate_tls_force"] == "1"
    assert conf["migration_address"] == conf["migration_host"] == '"%s"' % address
    assert (conf["migration_port_min"], conf["migration_port_max"]) == ("49152", "49215")
    assert conf["default_tls_x509_cert_dir"] == '"/etc/pki/qemu"'
    assert conf["default_tls_x509_verify"] == "1"


def test_migration_certificates_are_in_place_and_qemu_alone_reads_their_keys(host, hostname):
    if hostname != "kvmhost-trixie":
        return
    pki = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "pki")
    expected = {
        "/etc/pki/qemu/ca-cert.pem": ("ca.pem", "root", 0o644),
        "/etc/pki/qemu/server-cert.pem": ("server.pem", "root", 0o644),
        "/etc/pki/qemu/server-key.pem": ("server.key", "kvm", 0o640),
        "/etc/pki/qemu/client-cert.pem": ("migration.pem", "root", 0o644),
        "/etc/pki/qemu/client-key.pem": ("migration.key", "kvm", 0o640),
        "/etc/pki/libvirt/clientcert.pem": ("migration.pem", "root", 0o644),
        "/etc/pki/libvirt/private/clientkey.pem": ("migration.key", "root", 0o600),
    }
    for path, (source, group, mode) in expected.items():
        found = host.file(path)
        with open(os.path.join(pki, source), "rb") as handle:
            want = hashlib.sha256(handle.read()).hexdigest()
        assert (found.user, found.group, found.mode) == ("root", group, mode), path
        assert found.sha256sum == want, path
    # QEMU itself, as the user and group libvirt runs it as, loads both ends of the migration
    # stream's TLS from that directory and checks them against the CA; a key it cannot read, a
    # certificate of the wrong purpose or another CA fails here.
    loaded = host.run(
        "echo quit | timeout 60 runuser -u libvirt-qemu -g kvm -- qemu-system-x86_64 -machine none -nodefaults"
        " -display none -monitor stdio"
        " -object tls-creds-x509,id=in,dir=/etc/pki/qemu,endpoint=server,verify-peer=on"
        " -object tls-creds-x509,id=out,dir=/etc/pki/qemu,endpoint=client")
    print("\nQEMU loading the migration TLS credentials: rc=%d %s" % (loaded.rc, loaded.stderr.strip()))
    assert loaded.rc == 0, loaded.stderr
    refused = host.run(
        "echo quit | timeout 60 runuser -u nobody -g nogroup -- qemu-system-x86_64 -machine none -nodefaults"
        " -display none -monitor stdio -object tls-creds-x509,id=in,dir=/etc/pki/qemu,endpoint=server")
    assert refused.rc != 0, "another user could read the migration key"


def test_dev_kvm_is_restricted(host):
    node = host.file("/dev/kvm")
    print("\n/dev/kvm %s:%s %o" % (node.user, node.group, node.mode))
    assert (node.user, node.group, node.mode) == ("root", "kvm", 0o660)
    rule = host.file("/etc/udev/rules.d/65-kvmcloud-kvm.rules").content_string
    assert 'KERNEL=="kvm", GROUP="kvm", MODE="0660"' in rule


def test_forwarding_matches_the_decision(host, hostname):
    # bookworm keeps libvirt's NAT network and so forwards; trixie does plain bridging only.
    want = "1" if hostname == "kvmhost-bookworm" else "0"
    assert host.file("/proc/sys/net/ipv4/ip_forward").content_string.strip() == want
    assert host.file("/proc/sys/net/ipv6/conf/all/forwarding").content_string.strip() == want
    assert "net.ipv4.ip_forward=%s" % want in host.file("/etc/sysctl.d/60-kvmcloud-forwarding.conf").content_string


def test_ksmtuned_is_masked(host):
    unit = host.file("/etc/systemd/system/ksmtuned.service")
    assert unit.is_symlink and unit.linked_to == "/dev/null"


def test_rerun_restores_weakened_controls(host, hostname):
    if hostname != "kvmhost-trixie":
        # One host is enough for the drift check; it takes a whole playbook run.
        assert host.file("/etc/systemd/system/libvirtd-tcp.socket").linked_to == "/dev/null"
        return
    host.run_expect([0], "systemctl unmask libvirtd-tcp.socket")
    # systemd starts a socket only while its service is stopped. The monitoring exporter reads
    # libvirt all the time and would start the daemon again at once: its socket, and the
    # others, stop with the daemon, and start again with the TCP socket.
    sockets = "libvirtd.socket libvirtd-ro.socket libvirtd-admin.socket libvirtd-tls.socket"
    host.run_expect([0], "systemctl stop libvirtd.service %s && systemctl start libvirtd-tcp.socket %s" % (sockets, sockets))
    assert listening(host, 16509), "the weakened host should listen on 16509"
    host.run_expect([0], "chmod 0666 /dev/kvm")
    host.run_expect([0], "sysctl -qw net.ipv4.ip_forward=1")
    host.run_expect([0], "sed -i 's/^seccomp_sandbox = 1/seccomp_sandbox = 0/' /etc/libvirt/qemu.conf")
    result = run_playbook(limit=hostname)
    assert result.returncode == 0, result.stdout[-3000:]
    assert recap(result.stdout, hostname)["changed"] >= 4
    assert host.run("systemctl is-enabled libvirtd-tcp.socket").stdout.strip() == "masked"
    assert listening(host, 16509) == []
    assert host.file("/dev/kvm").mode == 0o660
    assert host.file("/proc/sys/net/ipv4/ip_forward").content_string.strip() == "0"
    assert conf_lines(host, "/etc/libvirt/qemu.conf")["seccomp_sandbox"] == "1"
