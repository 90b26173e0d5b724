"""Verifies kvm_network on a VM with its own kernel: what a container cannot show (N1, N2, N5).

- The management-link guard: the collection's playbook, told to bridge the interface that
  carries this SSH session, stops in its preflight play and changes nothing.
- The rollback: allowed to make that change with no address for the host on the bridge (which
  cuts SSH off), the role applies it anyway, loses the host, and the host restores its previous
  network config by itself; the run fails saying so and SSH works again.
- A VLAN bridge: its port is the uplink's 802.1Q sub-interface with the declared id, created
  by systemd-networkd (a container's shared kernel cannot load 8021q).
- A reboot: the guest bridges come back with their ports, no host address, accept_ra 0,
  br_netfilter loaded before its sysctls, and the host guard table. Runs last (conftest.py).

Each test asks the kernel (ip, /proc, /sys, nft) and the network files on disk, never the
scenario's variables alone.
"""

import json
import time

import pytest
from playbook import failures, recap, run_playbook

# The scenario's guest bridges (molecule.yml) and the stand-in uplinks prepare.yml declares.
GUEST_BRIDGE = "br-guest"
GUEST_UPLINK = "guestup0"
VLAN_BRIDGE = "br-vlan100"
VLAN_PARENT = "guestup1"
VLAN_ID = 100
# What the tests try to build over the SSH interface.
MGMT_BRIDGE = "br-mgmt"
# Shorter than the default 90 s, so the rollback test waits less, yet long enough that the
# role gives up on the cut-off host (after half the window) well before the rollback fires.
ROLLBACK_SECONDS = 60


def ip_json(host, *args):
    return json.loads(host.run_expect([0], "ip -j %s" % " ".join(args)).stdout or "[]")


def links(host):
    """{name: master or ''} of every link, from the kernel."""
    return {link["ifname"]: link.get("master", "") for link in ip_json(host, "link", "show")}


def network_state(host):
    """The systemd-networkd files (name and checksum) and the links with their masters."""
    files = host.run_expect([0], "cd /etc/systemd/network && md5sum * | sort").stdout
    return {"files": files, "links": links(host)}


def assert_vlan_bridge(host):
    """The VLAN bridge's only port is PARENT.ID, an 802.1Q link with that id over the parent."""
    port = "%s.%d" % (VLAN_PARENT, VLAN_ID)
    link = ip_json(host, "-d", "link", "show", "dev", port)[0]
    info = link["linkinfo"]
    ports = [name for name, master in links(host).items() if master == VLAN_BRIDGE]
    print("%s: kind %s, protocol %s, id %s, over %s, master %s; %s ports %s"
          % (port, info["info_kind"], info["info_data"].get("protocol"), info["info_data"].get("id"),
             link.get("link"), link.get("master"), VLAN_BRIDGE, ports))
    assert info["info_kind"] == "vlan"
    assert info["info_data"]["protocol"] == "802.1Q"
    assert info["info_data"]["id"] == VLAN_ID
    assert link["link"] == VLAN_PARENT
    assert ports == [port]
    # The parent itself carries no bridge: only tagged frames reach the guests.
    assert links(host)[VLAN_PARENT] == ""


def test_vlan_bridge_ports_the_tagged_sub_interface(host):
    assert_vlan_bridge(host)


@pytest.fixture(scope="module")
def ssh_interface(host):
    """The VM's interface holding the address this SSH session arrived at (SSH_CONNECTION is
    "client port server port"), checked against what kvm_network_facts finds by itself."""
    server = host.run_expect([0], "echo $SSH_CONNECTION").stdout.split()[2]
    owner = [entry["ifname"] for entry in ip_json(host, "addr", "show")
             for addr in entry.get("addr_info", []) if addr.get("local") == server]
    facts = host.ansible("kvmcloud.hypervisor.kvm_network_facts", check=False, become=True)["ansible_facts"]["kvm_network"]
    print("\nSSH arrives at %s on %s; kvm_network_facts: %s (%s), management %s"
          % (server, owner, facts["connection_interface"], facts["connection_address"],
             facts["management_reasons"]))
    assert len(owner) == 1
    assert facts["connection_interface"] == owner[0]
    assert facts["connection_address"] == server
    return owner[0]


@pytest.fixture(scope="module")
def scenario_bridges(host):
    return host.ansible.get_variables()["kvm_network_bridges"]


def bridges_with_mgmt(scenario_bridges, ssh_interface):
    # No address on the new bridge: once the SSH interface is its port, the host is cut off.
    return scenario_bridges + [{"name": MGMT_BRIDGE, "uplink": ssh_interface, "libvirt_network": False}]


def test_guard_refuses_to_bridge_the_ssh_interface(host, hostname, ssh_interface, scenario_bridges):
    before = network_state(host)
    extra = {"kvm_network_bridges": bridges_with_mgmt(scenario_bridges, ssh_interface)}
    started = time.monotonic()
    result = run_playbook("-e", json.dumps(extra), limit=hostname)
    # Molecule's ansible.cfg sends failed results to stderr (display_failed_stderr).
    out = result.stdout + result.stderr
    print("\nrc %s after %.0f s; %s" % (result.returncode, time.monotonic() - started, recap(out, hostname)))
    print("\n".join(line for line in out.splitlines() if "management interface" in line))

    assert result.returncode != 0
    # Stopped in the preflight play: the play that changes hosts never began.
    assert "PLAY [Preflight" in out
    assert "PLAY [KVM hosts are hardened hypervisors]" not in out, out[-3000:]
    assert recap(out, hostname)["changed"] == 0
    flat = " ".join(out.split())
    assert "%s enslaves %s, but %s is a management interface" % (MGMT_BRIDGE, ssh_interface, ssh_interface) in flat
    assert "carries this SSH connection" in flat
    assert "kvm_network_management_change_allowed" in flat
    after = network_state(host)
    assert after == before
    assert MGMT_BRIDGE not in after["links"]


def test_change_that_cuts_ssh_is_rolled_back(host, hostname, ssh_interface, scenario_bridges):
    before = network_state(host)
    extra = {"kvm_network_bridges": bridges_with_mgmt(scenario_bridges, ssh_interface),
             "kvm_network_management_change_allowed": True,
             "kvm_network_rollback_seconds": ROLLBACK_SECONDS}
    started = time.monotonic()
    result = run_playbook("--tags", "kvm_network", "-e", json.dumps(extra), limit=hostname)
    elapsed = time.monotonic() - started
    out = result.stdout + result.stderr
    flat = " ".join(out.split())
    print("\nrc %s after %.0f s (rollback window %s s); %s"
          % (result.returncode, elapsed, ROLLBACK_SECONDS, recap(out, hostname)))
    print("\n".join(line for line in out.splitlines() if "rolled" in line))

    # The last failed task and its report on one line: a failed assertion's line in the
    # suite's summary is all a CI page may show.
    reports = failures(out, hostname)
    said = " ".join(("%s: %s" % reports[-1]).split())[:2000] if reports else "no task failed"
    assert result.returncode != 0, said
    assert recap(out, hostname)["rescued"] == 1, said
    assert "kvm_network rolled the change to the management interfaces %s" % ssh_interface in flat, said
    # The change did happen and cut the connection: the controller lost the host.
    assert "The controller reaches the host again after the change: timed out" in flat, said

    # SSH works again (this command), over the same interface, which left the new bridge.
    state = host.run_expect([0], "cat /run/kvmcloud-network/rollback-started /run/kvmcloud-network/rolled-back").stdout
    print("rollback started/finished at: %s" % state.split())
    after = network_state(host)
    assert after == before
    assert MGMT_BRIDGE not in after["links"]
    assert after["links"][ssh_interface] == ""
    addresses = [addr["local"] for entry in ip_json(host, "addr", "show", "dev", ssh_interface)
                 for addr in entry["addr_info"] if addr["family"] == "inet"]
    assert addresses, "%s has no IPv4 address after the rollback" % ssh_interface
    # Nothing pending: the timer fired once and is gone.
    timers = host.run("systemctl list-timers --all --no-legend kvmcloud-network-rollback.timer").stdout
    assert "kvmcloud-network-rollback" not in timers


def wait_for_the_boot(host, seconds=300):
    """Waits until the rebooted host's boot is over, as seen over testinfra's own SSH, and
    returns systemd's state then ("running", or "degraded" if a unit failed).

    The reboot module returns at the first command that gets through, while the boot goes on
    (libvirt, the pools' NFS mount and iSCSI login). Under TCG beside the other VM, an SSH
    handshake then can outlast testinfra's 10 s connect timeout: ssh exits 255, which testinfra
    raises (CI, 2026-12-07). Each failed attempt is printed."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return host.run("systemctl is-system-running --wait").stdout.strip()
        except RuntimeError as error:
            # testinfra raises the CommandResult, whose repr starts with the backend object:
            # ssh's own words first, so a CI summary cut at a line's width still shows them.
            said = " ".join(str(getattr(error.args[0], "stderr", error)).split())[-300:]
            print("SSH not answering yet: %s" % said)
            if time.monotonic() > deadline:
                raise AssertionError("no SSH to the rebooted host after %d s: %s" % (seconds, said)) from error
            time.sleep(5)


@pytest.mark.reboots_host
def test_guest_bridge_survives_a_reboot(host):
    boot_id = host.file("/proc/sys/kernel/random/boot_id").content_string.strip()
    started = time.monotonic()
    host.ansible("ansible.builtin.reboot", "reboot_timeout=600", check=False, become=True)
    print("\nreboot and SSH again after %.0f s" % (time.monotonic() - started))
    state = wait_for_the_boot(host)
    print("boot over after %.0f s: %s" % (time.monotonic() - started, state))
    if state != "running":
        print(host.run("systemctl --failed --no-legend --plain").stdout)
    assert host.file("/proc/sys/kernel/random/boot_id").content_string.strip() != boot_id
    # The shutdown waited on nothing: no unit ran out of time to stop (a stop timeout costs
    # 90 s, and a unit killed then has not finished its work).
    stuck = host.run("journalctl -b -1 --no-pager -o cat | grep -E 'Stopping timed out|stop-sigterm timed out'").stdout
    assert stuck == "", stuck

    # The bridge and its port, rebuilt by systemd-networkd at boot.
    link = ip_json(host, "-d", "link", "show", "dev", GUEST_BRIDGE)[0]
    uplink = ip_json(host, "link", "show", "dev", GUEST_UPLINK)[0]
    addresses = ip_json(host, "addr", "show", "dev", GUEST_BRIDGE)[0].get("addr_info", [])
    accept_ra = host.file("/proc/sys/net/ipv6/conf/%s/accept_ra" % GUEST_BRIDGE).content_string.strip()
    print("%s: kind %s, state %s, addresses %s, accept_ra %s; %s master %s"
          % (GUEST_BRIDGE, link["linkinfo"]["info_kind"], link["operstate"], addresses, accept_ra,
             GUEST_UPLINK, uplink.get("master")))
    assert link["linkinfo"]["info_kind"] == "bridge"
    assert uplink.get("master") == GUEST_BRIDGE
    assert_vlan_bridge(host)
    # N1: no IPv4 and no global IPv6 (nor link-local: the role turns that off too).
    assert [addr for addr in addresses if addr["family"] == "inet"] == []
    assert [addr for addr in addresses if addr["family"] == "inet6" and addr["scope"] == "global"] == []
    assert addresses == []
    assert accept_ra == "0"

    # N5: br_netfilter loaded at boot, and its sysctls applied after it (they exist only then).
    assert host.file("/sys/module/br_netfilter").is_directory
    for key in ("bridge-nf-call-iptables", "bridge-nf-call-ip6tables"):
        value = host.file("/proc/sys/net/bridge/%s" % key).content_string.strip()
        print("net.bridge.%s = %s" % (key, value))
        assert value == "1"

    # N6: the host guard table is back in the kernel, naming the guest bridge.
    table = host.run_expect([0], "nft -j list table inet kvmcloud_guard").stdout
    assert all('"%s"' % name in table for name in (GUEST_BRIDGE, VLAN_BRIDGE))
