"""Bad input to kvm_host, kvm_hardening, kvm_network and kvm_guests fails before anything on the host changes, naming what to fix.

All cases share one run of the collection's playbook against the converged Debian 13 host:
each case is a host alias of its own in the group kvm_hosts, pointing at the same container,
with that host's variables and the case's wrong ones on top. The preflight play checks every
host to the end before it stops them all, so each alias reports its own reason in the one run.
Each case is then a test of its own: its alias failed, with its message, in the preflight
play; no alias reached the play that changes hosts; and a snapshot of libvirt's files and
state taken after the run equals the one taken before.
"""

import json
import os
import re
import subprocess
import time

import pytest

from playbook import failures, play_section, playbook_command, recap

CASES = {
    "unknown daemon layout": (
        {"kvm_host_daemon_layout": "hybrid"}, ["kvm_host_daemon_layout", "hybrid"]),
    "layout Debian does not ship": (
        {"kvm_host_daemon_layout": "modular"}, ["kvm_host_daemon_layout=modular is not available"]),
    "emulation opt-in that is not a boolean": (
        {"kvm_host_allow_emulation": "maybe"}, ["kvm_host_allow_emulation", "not a valid boolean"]),
    "flag that is not a boolean": (
        {"kvm_host_vhost_net": "perhaps"}, ["kvm_host_vhost_net"]),
    "socket mode that is not octal": (
        {"kvm_host_socket_rw_mode": "rw-rw----"}, ["kvm_host_socket_rw_mode=rw-rw----", "octal"]),
    "negative hugepage count": (
        {"kvm_host_hugepages_2m_count": -4}, ["kvm_host_hugepages_2m_count=-4", "0 or more"]),
    "relative pool path": (
        {"kvm_host_storage_pools": [{"name": "rel", "path": "srv/images"}]}, ["kvm_host_storage_pools[0] entry 'rel'", "absolute"]),
    "duplicate pool names": (
        {"kvm_host_storage_pools": [{"name": "a", "path": "/srv/a"}, {"name": "a", "path": "/srv/b"}]},
        ["kvm_host_storage_pools has duplicate names or paths: a"]),
    "pool without a path": (
        {"kvm_host_storage_pools": [{"name": "nopath"}]}, ["kvm_host_storage_pools", "path"]),
    "unknown MAC": (
        {"kvm_hardening_mac": "smack"}, ["kvm_hardening_mac", "smack"]),
    "hardening switch that is not a boolean": (
        {"kvm_hardening_mac_enabled": "sometimes"}, ["kvm_hardening_mac_enabled", "not a valid boolean"]),
    "TLS without certificates": (
        {"kvm_hardening_tls_enabled": True, "kvm_hardening_tls_ca_cert": "", "kvm_hardening_tls_server_cert": "",
         "kvm_hardening_tls_server_key": "", "kvm_hardening_tls_allowed_dn_list": []},
        ["kvm_hardening_tls_enabled is true", "kvm_hardening_tls_ca_cert"]),
    "TLS certificate missing on the controller": (
        {"kvm_hardening_tls_enabled": True, "kvm_hardening_tls_ca_cert": "/nonexistent/ca.pem",
         "kvm_hardening_tls_server_cert": "/nonexistent/cert.pem", "kvm_hardening_tls_server_key": "/nonexistent/key.pem",
         "kvm_hardening_tls_allowed_dn_list": ["CN=admin"]},
        ["kvm_hardening_tls_ca_cert=/nonexistent/ca.pem: no such file on the controller"]),
    "relative image directory": (
        {"kvm_hardening_image_dirs": ["images"]}, ["kvm_hardening_image_dirs[0] entry 'images'", "absolute"]),
    "KSM both on and off": (
        {"kvm_host_ksm_enabled": True}, ["kvm_host_ksm_enabled is true but kvm_hardening_ksm_disabled"]),
    "NAT network without forwarding": (
        {"kvm_host_default_network_enabled": True, "kvm_hardening_ip_forward": False},
        ["kvm_host_default_network_enabled", "kvm_hardening_ip_forward is false (H4)"]),
    "qemu.conf override that removes confinement": (
        {"kvm_host_qemu_conf": {"security_driver": "none"}}, ["kvm_host_qemu_conf weakens the hardening baseline", "security_driver"]),
    "qemu.conf override that runs QEMU as root": (
        {"kvm_host_qemu_conf": {"user": "root"}}, ["kvm_host_qemu_conf weakens", "must not run as root"]),
    "bridge name longer than Linux allows": (
        {"kvm_network_bridges": [{"name": "br-tenant-public"}]}, ["kvm_network_bridges entry br-tenant-public", "1-15 characters"]),
    "duplicate bridge names": (
        {"kvm_network_bridges": [{"name": "br-a"}, {"name": "br-a"}]},
        ["kvm_network_bridges and kvm_network_libvirt_networks: bridge names (br-a, br-a", "must each be unique"]),
    "VLAN id out of range": (
        {"kvm_network_bridges": [{"name": "br-v", "uplink": "kvmup0", "vlan": 4095}]}, ["kvm_network_bridges entry br-v", "vlan (4095) must be 1-4094"]),
    "VLAN id 0": (
        {"kvm_network_bridges": [{"name": "br-v", "uplink": "kvmup0", "vlan": 0}]},
        ["kvm_network_bridges entry br-v", "vlan (0) must be 1-4094"]),
    "bridge MTU below what IPv4 needs": (
        {"kvm_network_bridges": [{"name": "br-m", "mtu": 40}]}, ["kvm_network_bridges entry br-m", "mtu (40) must be 68-65535"]),
    "host address that is not an address": (
        {"kvm_network_bridges": [{"name": "br-a", "address": "10.0.0.300/24"}]}, ["kvm_network_bridges entry br-a", "address (10.0.0.300/24) must be empty"]),
    "NAT network given its subnet instead of the host address": (
        {"kvm_network_libvirt_networks": [{"name": "n1", "bridge": "virbr-n1", "mode": "isolated", "address": "192.168.150.0/24"}]},
        ["kvm_network_libvirt_networks entry n1", "the host's IPv4 address"]),
    "uplink that does not exist": (
        {"kvm_network_bridges": [{"name": "br-a", "uplink": "nosuch0"}]}, ["kvm_network_bridges entry br-a", "uplink nosuch0 does not exist"]),
    "management interface as a bridge uplink": (
        {"kvm_network_bridges": [{"name": "br-a", "uplink": "eth0"}]}, ["kvm_network_bridges entry br-a", "eth0", "kvm_network_management_change_allowed"]),
    "NAT network with forwarding off": (
        {"kvm_hardening_ip_forward": False, "kvm_host_default_network_enabled": False,
         "kvm_network_libvirt_networks": [{"name": "n1", "bridge": "virbr-n1", "address": "192.168.150.1/24"}]},
        ["kvm_network_libvirt_networks", "set kvm_hardening_ip_forward to true"]),
    "duplicate guest names": (
        {"kvm_guests_list": [{"name": "g1", "disks": [{"size_gib": 2, "base_image": "debian-13"}]}] * 2},
        ["kvm_guests_list: guest names must be unique", "check g1."]),
    "unknown guest profile": (
        {"kvm_guests_list": [{"name": "g1", "profile": "fast", "disks": [{"size_gib": 2, "base_image": "debian-13"}]}]},
        ["kvm_guests_list entry g1: profile (fast) must be one of general, secure"]),
    "negative guest memory": (
        {"kvm_guests_list": [{"name": "g1", "memory_mib": -512, "disks": [{"size_gib": 2, "base_image": "debian-13"}]}]},
        ["kvm_guests_list entry g1:", "memory_mib 256-4194304 (got -512)"]),
    "guest NIC without the filter on a restricted network": (
        {"kvm_guests_list": [{"name": "g1", "disks": [{"size_gib": 2, "base_image": "debian-13"}],
                              "nics": [{"network": "br-guest", "nwfilter": ""}]}]},
        ["kvm_guests_list entry g1 NIC on 'br-guest'", "but not \"\" on a restricted network"]),
    # Python's $ matches before a trailing newline: values that would have carried a newline
    # into a path, an AppArmor rule, a config key, a networkd file or a hostname.
    "pool path with a newline": (
        {"kvm_host_storage_pools": [{"name": "nl", "path": "/srv/images\n"}]},
        ["kvm_host_storage_pools[0] entry 'nl'", "holding only letters"]),
    "image directory that injects an AppArmor rule": (
        {"kvm_hardening_image_dirs": ["/srv/images", "/srv/x\" rwk,\n  /etc/** rwk,\n"]},
        ["kvm_hardening_image_dirs[1] entry", "AppArmor rules"]),
    "qemu.conf key with a newline": (
        {"kvm_host_qemu_conf": {"max_files\nuser": 1024}}, ["kvm_host_qemu_conf keys", "are not libvirt config keys"]),
    "bridge name with a trailing newline": (
        {"kvm_network_bridges": [{"name": "br-nl\n"}]}, ["kvm_network_bridges entry br-nl"]),
    "guest name with a trailing newline": (
        {"kvm_guests_list": [{"name": "g1\n", "disks": [{"size_gib": 2, "base_image": "debian-13"}]}]},
        ["kvm_guests_list: guest names must be unique and 1-63 letters"]),
    "bridge named like a link the role did not make": (
        {"kvm_network_bridges": [{"name": "lo"}]},
        ["kvm_network_bridges[0] entry lo:", "already has a link of that name (kind loopback)"]),
    "libvirt networks with overlapping subnets": (
        {"kvm_network_libvirt_networks": [
            {"name": "wide", "bridge": "virbr-wide", "mode": "isolated", "address": "10.20.0.1/16"},
            {"name": "narrow", "bridge": "virbr-narrow", "mode": "isolated", "address": "10.20.5.1/24"}]},
        ["kvm_network_libvirt_networks entries wide (10.20.0.0/16) and narrow (10.20.5.0/24) overlap"]),
    "profile value that injects XML": (
        {"kvm_guests_profiles": {"general": {"memballoon_stats_period_seconds": "10'/><alias name='x"}}},
        ["kvm_guests_profiles entry general:", "memballoon_stats_period_seconds 0-86400"]),
    # Places where removing a guest's directory would take what the role did not make.
    "guest storage in /etc": (
        {"kvm_guests_storage_dir": "/etc"}, ["kvm_guests_storage_dir (/etc) is a top-level directory or inside"]),
    "guest storage holding the base images": (
        {"kvm_guests_storage_dir": "/var/lib/libvirt/images"},
        ["kvm_guests_base_image_dir (/var/lib/libvirt/images/base) lies inside kvm_guests_storage_dir"]),
    # Values that would have weakened the baseline without a word.
    "pool at /etc": (
        {"kvm_host_storage_pools": [{"name": "etc", "path": "/etc"}]},
        ["kvm_host_storage_pools[0] entry 'etc': path (/etc) must not be a top-level directory"]),
    "pool open to every user": (
        {"kvm_host_storage_pools": [{"name": "open", "path": "/srv/kvmcloud-open", "mode": "0777"}]},
        ["kvm_host_storage_pools[0] entry 'open'", "mode (0777) must not let others write"]),
    "filter that stops only MAC spoofing": (
        {"kvm_network_nwfilter": "no-mac-spoofing"},
        ["kvm_network_nwfilter (no-mac-spoofing) must be one of clean-traffic, clean-traffic-gateway"]),
    "socket group that does not exist": (
        {"kvm_host_socket_group": "nosuchgroup"}, ["kvm_host_socket_group=nosuchgroup: no such group"]),
    "libvirt administrator without an account": (
        {"kvm_host_libvirt_admin_users": ["vmadmin", "nosuchadmin"]},
        ["kvm_host_libvirt_admin_users names accounts that do not exist", "nosuchadmin"]),
    "management socket open to every user": (
        {"kvm_host_socket_rw_mode": "0777"}, ["kvm_host_socket_rw_mode=0777 lets every local user manage libvirt"]),
    "socket authentication switched off": (
        {"kvm_host_daemon_conf": {"auth_unix_rw": "none"}}, ["kvm_host_daemon_conf sets auth_unix_rw or auth_unix_ro to none"]),
    "daemon key another variable owns": (
        {"kvm_host_daemon_conf": {"listen_tcp": 1}}, ["kvm_host_daemon_conf sets listen_tcp, which have variables"]),
    "QEMU user that is root by number": (
        {"kvm_host_qemu_conf": {"user": "00"}}, ["kvm_host_qemu_conf weakens", "must not run as root"]),
    "QEMU without cgroup controllers": (
        {"kvm_host_qemu_conf": {"cgroup_controllers": []}}, ["kvm_host_qemu_conf weakens", "cgroup controllers"]),
    "guest memory 0": (
        {"kvm_guests_list": [{"name": "g1", "memory_mib": 0, "disks": [{"size_gib": 2, "base_image": "debian-13"}]}]},
        ["kvm_guests_list entry g1:", "memory_mib 256-4194304 (got 0)"]),
    "guests under emulation without the opt-in": (
        {"kvm_guests_allow_emulation": False}, ["kvm_guests_allow_emulation", "cannot run KVM guests"]),
}

SNAPSHOT = ("cd / && find etc/libvirt etc/systemd/system etc/systemd/network etc/sysctl.d etc/udev etc/pki etc/modules-load.d"
            " etc/kvmcloud \\( -type f -o -type l \\) -print0"
            " 2>/dev/null | sort -z | xargs -0 ls -l --time-style=+ ; cat /proc/sys/net/ipv4/ip_forward;"
            " cd / && find etc/libvirt etc/systemd/system -type f -print0 | sort -z | xargs -0 sha256sum;"
            " virsh -c qemu:///system pool-list --all --name; virsh -c qemu:///system net-list --all --name;"
            " stat -c '%n %a %U %G' /run/libvirt/libvirt-sock /run/libvirt/libvirt-sock-ro; ip -br link")

MAIN_PLAY = "KVM hosts are hardened hypervisors"
# The preflight's last task, which stops every host when one failed: an alias that gets that
# far passed every check of its own.
GUARD = "Every host passed the preflight, or no host is changed"
# Two per core keep the cores busy while forks wait on the container; more only contend (on
# 2 cores the run took 220-246 s with 4 forks, 248-258 s with 10, 238 s with 2; Molecule's
# ansible.cfg would give it 50).
FORKS = min(10, 2 * (os.cpu_count() or 2))


def alias(case):
    """The inventory name of CASE's host alias, e.g. bad-input-vlan-id-0."""
    return "bad-input-" + re.sub(r"[^a-z0-9]+", "-", case.lower()).strip("-")


def message(report):
    """What a failure report says to the user: its result's msg, and for a failed argument spec
    the argument errors (not the spec it carries, which names every variable). A report that
    is not JSON counts as a whole."""
    try:
        result = json.loads(report.split("=> ", 1)[1])
    except (IndexError, ValueError):
        return report
    return "\n".join([str(result.get("msg", "")), *map(str, result.get("argument_errors", []))])


@pytest.fixture(scope="module")
def bad_input_run(host, tmp_path_factory):
    """Runs the playbook once for every case, limited to the cases' aliases, between two
    snapshots of the host. The aliases' variables: the test host's own, from Molecule's
    inventory (its host and group variables, connection included), with the case's on top, as
    host variables, which outrank the group variables."""
    hostname = host.backend.get_hostname()
    env = playbook_command(limit=hostname)[1]
    own = json.loads(subprocess.run(["ansible-inventory", "-i", os.environ["MOLECULE_INVENTORY_FILE"], "--host", hostname],
                                    capture_output=True, text=True, env=env, check=True).stdout)
    aliases = {alias(case): dict(own, **CASES[case][0]) for case in CASES}
    assert len(aliases) == len(CASES)
    cases = tmp_path_factory.mktemp("bad-input") / "cases.yml"
    cases.write_text(json.dumps({"kvm_hosts": {"hosts": aliases}}, indent=1))

    before = host.run_expect([0], SNAPSHOT).stdout
    argv, env = playbook_command("--forks", str(FORKS), limit=",".join(sorted(aliases)), inventories=[str(cases)])
    # JSON results keep each report on one line, whatever the configured callback format.
    env["ANSIBLE_CALLBACK_RESULT_FORMAT"] = "json"
    started = time.monotonic()
    # One stream, so each report stays in the order it was printed.
    result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            check=False, timeout=1500)
    print("one run for %d cases: %.0f s" % (len(aliases), time.monotonic() - started))
    after = host.run_expect([0], SNAPSHOT).stdout
    return {"returncode": result.returncode, "output": result.stdout, "before": before, "after": after}


# Input checks do not depend on the Debian release: one host keeps the suite short.
@pytest.mark.only_hosts("kvmhost-trixie")
def test_bad_input_run_fails_and_changes_no_host(bad_input_run):
    output = bad_input_run["output"]
    assert bad_input_run["returncode"] != 0, output[-3000:]
    # No task result, include or failure there names an alias.
    main_play = play_section(output, MAIN_PLAY)
    reached = sorted(set(re.findall(r"bad-input-[a-z0-9-]+", main_play)))
    assert not reached, "these aliases reached the play %r:\n%s" % (MAIN_PLAY, main_play[-3000:])
    assert bad_input_run["after"] == bad_input_run["before"]


@pytest.mark.only_hosts("kvmhost-trixie")
@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_before_any_change(bad_input_run, case):
    expected = CASES[case][1]
    name, output = alias(case), bad_input_run["output"]
    # Every message starts from the variable to fix.
    assert re.match(r"kvm_(host|hardening|network|guests)_[a-z0-9_]+", expected[0]), expected
    counters = recap(output, name)
    assert counters["changed"] == 0 and counters["failed"] == 1, counters
    reports = failures(output, name)
    assert reports, "no failure reported for %s in:\n%s" % (name, output[-3000:])
    shown = "\n".join("TASK [%s]\n%s" % report for report in reports)
    assert GUARD not in [report[0] for report in reports], "%s passed its checks:\n%s" % (name, shown)
    text = "\n".join(message(report[1]) for report in reports)
    for fragment in expected:
        assert fragment in text, "%r not in the failure of %s:\n%s" % (fragment, name, shown)
    assert bad_input_run["after"] == bad_input_run["before"]
