"""kvm_network on the container tier: isolation, host unreachability and anti-spoofing, shown
with packets.

Stand-in guests are network namespaces on veth pairs, plugged into the bridges the role
built (br-guest restricted, br-open not) and into the role's NAT (bookworm) or isolated
(trixie) network. Their ports get the isolation the role's libvirt network asks for, as
libvirt does for a guest's vnet port (test_started_guest_... shows libvirt doing it). The
uplink side is the "upstream" namespace prepare.yml made: 192.0.2.1 behind kvmup0 (br-guest),
198.51.100.1 behind kvmup1 (br-open). Each control is shown failing without it: an open
bridge lets the pair talk, removing the guard table opens the host, dropping the filter
binding lets a spoofed MAC through.
"""

import json
import os
import re
import subprocess
import uuid

import pytest
import yaml

from guests import guest_with_nic, virsh
from hostnet import management_address
from playbook import PROJECT, changed_tasks, playbook_command, recap, run_playbook

GUARD_UNIT = "kvmcloud-host-guard.service"
LISTENER_PORT = 18722
EXPORTER_PORT = 9100
UPLINK_SIDE = {"br-guest": "192.0.2.1", "br-open": "198.51.100.1"}
# netns (also the name of its veth's host side): bridge, MAC, address
STANDINS = {
    "kn-ga": ("br-guest", "02:00:00:00:0a:01", "192.0.2.11/24"),
    "kn-gb": ("br-guest", "02:00:00:00:0a:02", "192.0.2.12/24"),
    "kn-oa": ("br-open", "02:00:00:00:0b:01", "198.51.100.11/24"),
    "kn-ob": ("br-open", "02:00:00:00:0b:02", "198.51.100.12/24"),
}
# The libvirt network each host has besides the bridge networks, and the host's address there.
# (molecule.yml: bookworm forwards and has a NAT network, trixie keeps forwarding off.)
LIBVIRT_NETWORKS = {
    "bookworm": ("tenant-nat", "virbr-tn0", "192.168.150.1", "192.168.150.50/24"),
    "trixie": ("tenant-iso", "virbr-ti0", "192.168.151.1", "192.168.151.50/24"),
}
SPOOFED_MAC = "02:00:00:00:0a:99"

CONNECT = ("python3 -c 'import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2).close()'"
           " %s %d")
LISTENER = ("import socket\n"
            "s = socket.socket()\n"
            "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
            "s.bind(('0.0.0.0', %d))\n"
            "s.listen(16)\n"
            "while True:\n"
            "    s.accept()[0].close()\n" % LISTENER_PORT)
# A DHCPDISCOVER from the stand-in's MAC; prints the address offered, fails after 5 s without one.
DHCP_DISCOVER = r"""
import os, socket, struct, sys
mac = bytes.fromhex(sys.argv[1].replace(':', ''))
xid = os.urandom(4)
packet = struct.pack('!4B4sHH16s16s192s', 1, 1, 6, 0, xid, 0, 0x8000, bytes(16), mac + bytes(10), bytes(192))
packet += bytes([0x63, 0x82, 0x53, 0x63, 53, 1, 1, 255])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b'eth0')
s.bind(('', 68))
s.settimeout(25)
s.sendto(packet, ('255.255.255.255', 67))
while True:
    data = s.recv(4096)
    if data[0] == 2 and data[4:8] == xid:
        print(socket.inet_ntoa(data[16:20]))
        break
"""


def libvirt_network(host):
    """The host's NAT or isolated network: name, bridge, host address, a stand-in's address."""
    return LIBVIRT_NETWORKS[host.backend.get_hostname().rsplit("-", 1)[-1]]


def run(host, command):
    return host.run_expect([0], command).stdout


def in_ns(ns, command):
    return "ip netns exec %s %s" % (ns, command)


def port_isolated_by_network(host, network):
    """Whether the role's libvirt network asks libvirt to isolate guest ports."""
    return "<port isolated='yes'/>" in virsh(host, "net-dumpxml", network)


def add_standin(host, ns, bridge, mac, address, gateway=None):
    """A namespace on a veth whose host side (named like the namespace) is a port of bridge,
    isolated when the bridge's libvirt network says so."""
    isolated = port_isolated_by_network(host, network_of_bridge(host, bridge))
    run(host, "ip netns add %s" % ns)
    run(host, "ip link add %s type veth peer name eth0 netns %s" % (ns, ns))
    # IPv6 stays off so nothing but the test's own packets moves.
    run(host, "sysctl -qw net.ipv6.conf.%s.disable_ipv6=1" % ns)
    run(host, in_ns(ns, "sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1"))
    run(host, "ip -n %s link set eth0 address %s" % (ns, mac))
    run(host, "ip -n %s addr add %s dev eth0" % (ns, address))
    run(host, "ip -n %s link set lo up" % ns)
    run(host, "ip -n %s link set eth0 up" % ns)
    if gateway:
        run(host, "ip -n %s route add default via %s" % (ns, gateway))
    run(host, "ip link set %s master %s" % (ns, bridge))
    run(host, "bridge link set dev %s isolated %s" % (ns, "on" if isolated else "off"))
    run(host, "ip link set %s up" % ns)
    return isolated


def network_of_bridge(host, bridge):
    for name in run(host, "virsh -c qemu:///system net-list --all --name").split():
        if "<bridge name='%s'" % bridge in virsh(host, "net-dumpxml", name):
            return name
    raise AssertionError("no libvirt network on %s" % bridge)


def remove_standin(host, ns):
    host.run("ip netns del %s" % ns)
    host.run("ip link del %s" % ns)


def reaches(host, ns, address):
    return host.run(in_ns(ns, "ping -c 2 -i 0.2 -W 1 -q %s" % address)).rc == 0


def connect_command(ns, address, port=LISTENER_PORT):
    return in_ns(ns, "timeout 6 " + CONNECT % (address, port))


def connects(host, ns, address, port=LISTENER_PORT):
    return host.run(connect_command(ns, address, port)).rc == 0


def run_each(host, commands):
    """{key: (exit code, output)} of each shell command of COMMANDS (key to command), all run at
    once: a probe of a dropped connection waits out its 2 s timeout, and one after another they
    took most of the guard tests' time."""
    script = " ".join('(out=$(%s); echo "%s $? $out") &' % (command, key) for key, command in commands.items())
    lines = host.run_expect([0], script + " wait").stdout.splitlines()
    results = {}
    for key, rc, out in (line.split(" ", 2) for line in lines if line):
        results[key] = (int(rc), out.strip())
    assert sorted(results) == sorted(commands), lines
    return results


def connects_each(host, targets):
    """connects() for each (ns, address[, port]) of TARGETS, at once, keyed "ns->address[->port]"."""
    commands = {"->".join(map(str, target)): connect_command(*target) for target in targets}
    return {key: rc == 0 for key, (rc, _out) in run_each(host, commands).items()}


def audit(host):
    args = {"virt_host_validate": False, "allowed_networks": ["default"]}
    result = host.ansible("kvmcloud.hypervisor.kvm_audit", json.dumps(args), check=False, become=True)
    assert "controls" in result, result
    return {control["id"]: control for control in result["controls"]}


def guard_loaded(host):
    return host.run("nft list table inet kvmcloud_guard").rc == 0


@pytest.fixture(scope="module")
def standins(host):
    """The stand-in guests, a TCP listener on every host address, and the return path from the
    host to the stand-ins on the bridges without a host address. Yields {ns: port isolated}."""
    net_name, net_bridge, net_host, net_address = libvirt_network(host)
    mgmt = management_address(host)
    created = []
    try:
        isolation = {}
        for ns, (bridge, mac, address) in STANDINS.items():
            created.append(ns)
            isolation[ns] = add_standin(host, ns, bridge, mac, address)
        created.append("kn-na")
        isolation["kn-na"] = add_standin(host, "kn-na", net_bridge, "02:00:00:00:0c:01", net_address, gateway=net_host)
        # The host has no address on br-guest or br-open (N1). Where guests sit on a real
        # network, the router behind the uplink carries the host's replies back to them; here
        # a host route and a neighbour entry stand in for it, and the stand-ins reach the
        # host's management address straight through the bridge.
        for ns in ("kn-ga", "kn-oa"):
            bridge, mac, address = STANDINS[ns]
            bridge_mac = host.file("/sys/class/net/%s/address" % bridge).content_string.strip()
            run(host, "ip route replace %s/32 dev %s" % (address.partition("/")[0], bridge))
            run(host, "ip neigh replace %s lladdr %s dev %s nud permanent" % (address.partition("/")[0], mac, bridge))
            run(host, "ip -n %s route add %s/32 dev eth0" % (ns, mgmt))
            run(host, "ip -n %s neigh replace %s lladdr %s dev eth0 nud permanent" % (ns, mgmt, bridge_mac))
        run(host, "printf '%%s' %s > /tmp/kvmnet-listener.py" % _shell_quote(LISTENER))
        run(host, "systemd-run --unit kvmnet-listener --collect python3 /tmp/kvmnet-listener.py")
        run(host, "for i in $(seq 300); do ss -Hltn | grep -q ':%d ' && exit 0; sleep 0.1; done; exit 1" % LISTENER_PORT)
        yield {"isolation": isolation, "management": mgmt, "network": (net_name, net_bridge, net_host)}
    finally:
        host.run("systemctl stop kvmnet-listener")
        host.run("rm -f /tmp/kvmnet-listener.py")
        for ns in ("kn-ga", "kn-oa"):
            bridge, _mac, address = STANDINS[ns]
            host.run("ip route del %s/32 dev %s" % (address.partition("/")[0], bridge))
            host.run("ip neigh del %s dev %s" % (address.partition("/")[0], bridge))
        for ns in created:
            remove_standin(host, ns)


def _shell_quote(text):
    return "'" + text.replace("'", "'\\''") + "'"


def test_restricted_bridge_keeps_guests_apart_but_not_from_the_uplink(host, standins):
    # The ports took their isolation from the role's networks: on for br-guest only.
    assert standins["isolation"]["kn-ga"] and standins["isolation"]["kn-gb"]
    assert not standins["isolation"]["kn-oa"] and not standins["isolation"]["kn-ob"]
    seen = {
        "br-guest a->b": reaches(host, "kn-ga", "192.0.2.12"),
        "br-guest b->a": reaches(host, "kn-gb", "192.0.2.11"),
        "br-guest a->uplink": reaches(host, "kn-ga", UPLINK_SIDE["br-guest"]),
        "br-guest b->uplink": reaches(host, "kn-gb", UPLINK_SIDE["br-guest"]),
        "br-open a->b": reaches(host, "kn-oa", "198.51.100.12"),
        "br-open a->uplink": reaches(host, "kn-oa", UPLINK_SIDE["br-open"]),
    }
    print("\nping: %s" % seen)
    assert seen == {
        "br-guest a->b": False, "br-guest b->a": False,
        "br-guest a->uplink": True, "br-guest b->uplink": True,
        # Same kernel, same bridge code, no isolation: the pair talks, so the refusals above
        # come from the isolation, not from the test bed.
        "br-open a->b": True, "br-open a->uplink": True,
    }


def test_guests_cannot_reach_the_host_until_the_guard_goes(host, standins):
    mgmt = standins["management"]
    _name, _bridge, net_host = standins["network"]
    targets = [("kn-ga", mgmt), ("kn-oa", mgmt), ("kn-na", mgmt), ("kn-na", net_host)]
    # kvm_monitoring's node exporter on the management address (molecule.yml enables it).
    targets += [("kn-ga", mgmt, EXPORTER_PORT), ("kn-oa", mgmt, EXPORTER_PORT), ("kn-na", mgmt, EXPORTER_PORT)]
    assert guard_loaded(host)
    guarded = connects_each(host, targets)
    try:
        run(host, "nft delete table inet kvmcloud_guard")
        open_host = connects_each(host, targets)
        unguarded_audit = audit(host)["N6"]
    finally:
        run(host, "systemctl reload %s" % GUARD_UNIT)
    assert guard_loaded(host)
    restored = connects_each(host, targets)
    print("\nTCP to the host (port %d unless named) with the guard: %s; without: %s; restored: %s"
          % (LISTENER_PORT, guarded, open_host, restored))
    assert not any(guarded.values())
    # Without the table the same connections succeed: the guard is what stops them.
    assert all(open_host.values())
    assert not any(restored.values())
    assert unguarded_audit["status"] == "fail", unguarded_audit
    assert audit(host)["N6"]["status"] == "pass"


def test_nat_or_isolated_network_guests_keep_dhcp_and_dns(host, standins):
    name, bridge, net_host = standins["network"]
    offer = host.run(in_ns("kn-na", "timeout 30 python3 -c %s 02:00:00:00:0c:01" % _shell_quote(DHCP_DISCOVER)))
    dns = connects(host, "kn-na", net_host, 53)
    print("\n%s (%s): DHCP offer %r (rc %d), DNS over TCP: %s"
          % (name, bridge, offer.stdout.strip(), offer.rc, dns))
    assert offer.rc == 0, offer.stderr
    assert offer.stdout.strip().startswith(net_host.rsplit(".", 1)[0] + ".")
    assert dns
    # The other ports of the same address stay closed (shown in the previous test).
    assert not connects(host, "kn-na", net_host)


def test_libvirt_rules_and_the_guard_live_side_by_side(host):
    tables = run(host, "nft list tables")
    print("\n" + tables)
    assert "table inet kvmcloud_guard" in tables
    # Debian's libvirt 9 and 11 both write theirs through iptables (nft-based): 11 picks
    # iptables before nftables when both are installed, and nwfilter needs iptables.
    libvirt_rules = run(host, "iptables -S")
    bridge = libvirt_network(host)[1]
    assert "-A LIBVIRT_INP -i %s -p udp -m udp --dport 67 -j ACCEPT" % bridge in libvirt_rules


def test_started_guest_port_is_isolated_and_bound_to_clean_traffic(host):
    with guest_with_nic(host, "kvmnet-filtered", "br-guest", "<filterref filter='clean-traffic'/>"):
        virsh(host, "start", "kvmnet-filtered")
        port = re.search(r"^\s*(vnet\d+)\s", virsh(host, "domiflist", "kvmnet-filtered"), re.MULTILINE).group(1)
        link = run(host, "bridge -d link show dev %s" % port)
        bindings = virsh(host, "nwfilter-binding-list")
        controls = audit(host)
        print("\n%s\n%s\nN3: %s\nN4: %s" % (link.strip(), bindings.strip(), controls["N3"]["evidence"],
                                            controls["N4"]["evidence"]))
        assert "master br-guest" in link
        assert "isolated on" in link
        assert re.search(r"^\s*%s\s+clean-traffic\s*$" % port, bindings, re.MULTILINE)
        assert controls["N3"]["status"] == "pass" and port in controls["N3"]["evidence"]
        assert controls["N4"]["status"] == "pass" and port in controls["N4"]["evidence"]


def test_guest_without_the_filter_is_refused_on_a_restricted_network_only(host):
    with guest_with_nic(host, "kvmnet-unfiltered", "br-guest", ""):
        refused = host.run("virsh -c qemu:///system start kvmnet-unfiltered")
        print("\n" + refused.stderr.strip())
        assert refused.rc != 0
        assert "kvmcloud kvm_network hook: guest kvmnet-unfiltered not started" in refused.stderr
        assert "on restricted network br-guest lacks <filterref filter='clean-traffic'/>" in refused.stderr
        assert "kvmnet-unfiltered" not in virsh(host, "list", "--name").split()
    # The same guest on the unrestricted bridge starts: the hook refuses by network.
    with guest_with_nic(host, "kvmnet-unfiltered", "br-open", ""):
        virsh(host, "start", "kvmnet-unfiltered")
        assert virsh(host, "domstate", "kvmnet-unfiltered").strip() == "running"


def echo_requests_upstream(host):
    """ICMP echo requests the upstream namespace has received so far."""
    lines = [line.split() for line in run(host, in_ns("upstream", "cat /proc/net/snmp")).splitlines()
             if line.startswith("Icmp:")]
    return int(dict(zip(lines[0], lines[1]))["InEchos"])


def pings_arriving(host, ns, target, source=None, count=5):
    before = echo_requests_upstream(host)
    host.run(in_ns(ns, "ping -c %d -i 0.2 -W 1 -q %s%s" % (count, "-I %s " % source if source else "", target)))
    return echo_requests_upstream(host) - before


def set_mac(host, ns, mac):
    run(host, "ip -n %s link set eth0 address %s" % (ns, mac))


BINDING = """<filterbinding>
  <owner><name>kvmnet-standin</name><uuid>%s</uuid></owner>
  <portdev name='kn-ga'/>
  <mac address='%s'/>
  <filterref filter='clean-traffic'>
    <parameter name='IP' value='%s'/>
  </filterref>
</filterbinding>
"""


def test_clean_traffic_binding_drops_spoofed_frames(host, standins):
    _bridge, mac, address = STANDINS["kn-ga"]
    ip = address.partition("/")[0]
    target = UPLINK_SIDE["br-guest"]
    # Straight to the uplink side's MAC: a spoofed frame is judged by itself, not by ARP.
    upstream_mac = run(host, in_ns("upstream", "cat /sys/class/net/up0/address")).strip()
    run(host, in_ns("kn-ga", "ip neigh replace %s lladdr %s dev eth0 nud permanent" % (target, upstream_mac)))
    run(host, "cat > /tmp/kvmnet-binding.xml <<'EOF'\n%sEOF" % (BINDING % (uuid.uuid4(), mac, ip)))
    seen = {}
    try:
        set_mac(host, "kn-ga", SPOOFED_MAC)
        seen["spoofed MAC, no binding"] = pings_arriving(host, "kn-ga", target)
        set_mac(host, "kn-ga", mac)
        virsh(host, "nwfilter-binding-create", "/tmp/kvmnet-binding.xml")
        seen["own MAC, bound"] = pings_arriving(host, "kn-ga", target)
        set_mac(host, "kn-ga", SPOOFED_MAC)
        seen["spoofed MAC, bound"] = pings_arriving(host, "kn-ga", target)
        set_mac(host, "kn-ga", mac)
        run(host, "ip -n kn-ga addr add 192.0.2.99/24 dev eth0")
        seen["spoofed IP, bound"] = pings_arriving(host, "kn-ga", target, source="192.0.2.99")
        virsh(host, "nwfilter-binding-delete", "kn-ga")
        set_mac(host, "kn-ga", SPOOFED_MAC)
        seen["spoofed MAC, binding gone"] = pings_arriving(host, "kn-ga", target)
    finally:
        host.run("virsh -c qemu:///system nwfilter-binding-delete kn-ga")
        host.run("rm -f /tmp/kvmnet-binding.xml")
        host.run("ip -n kn-ga link set eth0 address %s" % mac)
        host.run("ip -n kn-ga addr del 192.0.2.99/24 dev eth0")
    print("\necho requests reaching %s (of 5 sent): %s" % (target, seen))
    assert seen == {"spoofed MAC, no binding": 5, "own MAC, bound": 5, "spoofed MAC, bound": 0,
                    "spoofed IP, bound": 0, "spoofed MAC, binding gone": 5}


def test_bridged_traffic_is_seen_by_the_firewall(host):
    assert "br_netfilter" in host.file("/etc/modules-load.d/kvmcloud-br_netfilter.conf").content_string.split()
    conf = host.file("/etc/sysctl.d/60-kvmcloud-br_netfilter.conf").content_string
    assert "net.bridge.bridge-nf-call-iptables=1" in conf
    assert "net.bridge.bridge-nf-call-ip6tables=1" in conf
    # Per network namespace; present wherever the kernel has br_netfilter (built in here).
    if host.file("/proc/sys/net/bridge").exists:
        for key in ("iptables", "ip6tables"):
            assert host.file("/proc/sys/net/bridge/bridge-nf-call-%s" % key).content_string.strip() == "1"


def test_host_audit_for_the_network_controls(host):
    controls = audit(host)
    print("\n" + "\n".join("%s %s: %s" % (cid, controls[cid]["status"], controls[cid]["evidence"])
                           for cid in ("N3", "N4", "N5", "N6")))
    # No guest runs now: nothing to bind or isolate.
    assert controls["N3"]["status"] == "not_applicable"
    assert controls["N4"]["status"] == "not_applicable"
    # The module is the container host's (built into its kernel here, so not listed in /sys/module).
    assert controls["N5"]["status"] == "not_applicable"
    assert "/etc/modules-load.d/kvmcloud-br_netfilter.conf" in controls["N5"]["evidence"]
    assert controls["N6"]["status"] == "pass"
    assert "br-guest" in controls["N6"]["evidence"] and "br-open" in controls["N6"]["evidence"]


def test_weakened_network_controls_are_predicted_by_check_mode_and_restored(host, hostname):
    live = virsh(host, "net-dumpxml", "--inactive", "br-guest")
    run(host, "cat > /tmp/kvmnet-open.xml <<'EOF'\n%sEOF" % live.replace("<port isolated='yes'/>", ""))
    try:
        virsh(host, "net-define", "/tmp/kvmnet-open.xml")
    finally:
        host.run("rm -f /tmp/kvmnet-open.xml")
    assert "<port isolated='yes'/>" not in virsh(host, "net-dumpxml", "--inactive", "br-guest")
    bridge_sysctls = host.file("/proc/sys/net/bridge").exists
    if bridge_sysctls:
        run(host, "sysctl -qw net.bridge.bridge-nf-call-iptables=0")
    # Opens the host to br-guest inside the role's own table: the table exists, but is wrong.
    run(host, "nft insert rule inet kvmcloud_guard from_guest_bridges iifname br-guest accept")
    # Lets the host take router advertisements on br-guest (N1), in the role's own file.
    bridge_file = "/etc/systemd/network/05-kvmcloud-bridge-br-guest.network"
    run(host, "sed -i 's/^IPv6AcceptRA=no$/IPv6AcceptRA=yes/' %s" % bridge_file)
    assert "IPv6AcceptRA=yes" in host.file(bridge_file).content_string

    # Check mode names the changes the real run then makes (the bridge's apply among them),
    # and makes none.
    preview = run_playbook("--check", "--tags", "kvm_network", limit=hostname)
    assert preview.returncode == 0, preview.stdout[-3000:] + preview.stderr[-2000:]
    assert "IPv6AcceptRA=yes" in host.file(bridge_file).content_string
    assert 'iifname "br-guest" accept' in run(host, "nft list table inet kvmcloud_guard")
    result = run_playbook("--tags", "kvm_network", limit=hostname)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    print("\nrerun: %s" % recap(result.stdout, hostname))
    assert changed_tasks(preview.stdout, hostname) == changed_tasks(result.stdout, hostname)
    assert "kvmcloud.hypervisor.kvm_network : Guest bridges are applied" in changed_tasks(result.stdout, hostname)
    assert "<port isolated='yes'/>" in virsh(host, "net-dumpxml", "--inactive", "br-guest")
    # Restarted with the definition: the running network isolates new ports too.
    assert "<port isolated='yes'/>" in virsh(host, "net-dumpxml", "br-guest")
    assert 'iifname "br-guest" accept' not in run(host, "nft list table inet kvmcloud_guard")
    assert "IPv6AcceptRA=no" in host.file(bridge_file).content_string
    # The backup the rollback would have used goes once the change holds.
    leftovers = run(host, "find /etc/systemd/network -name '*~'").strip()
    assert leftovers == "", leftovers
    if bridge_sysctls:
        assert host.file("/proc/sys/net/bridge/bridge-nf-call-iptables").content_string.strip() == "1"


@pytest.mark.only_hosts("kvmhost-bookworm")
def test_lost_network_is_previewed_for_the_guest_on_it_and_put_back_as_predicted(host, hostname):
    """br-guest's libvirt network, which db1 uses (declared on bookworm alone), is gone. A
    preview defines nothing, so kvm_guests must count the network kvm_network would define
    instead of refusing db1; the real run then defines, starts and autostarts it with exactly
    the changes the preview named."""
    roles = ("--tags", "kvm_network,kvm_guests")
    virsh(host, "net-destroy", "br-guest")
    virsh(host, "net-undefine", "br-guest")
    try:
        preview = run_playbook("--check", *roles, limit=hostname)
        assert preview.returncode == 0, preview.stdout[-3000:] + preview.stderr[-2000:]
        assert "br-guest" not in virsh(host, "net-list", "--all", "--name").split()
        predicted = changed_tasks(preview.stdout, hostname)
    finally:
        result = run_playbook(*roles, limit=hostname)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert predicted == changed_tasks(result.stdout, hostname) == {
        "kvmcloud.hypervisor.kvm_network : New networks are defined, active and start at boot"}
    info = virsh(host, "net-info", "br-guest")
    assert re.search(r"^Active:\s+yes$", info, re.MULTILINE) and re.search(r"^Autostart:\s+yes$", info, re.MULTILINE), info
    assert "<port isolated='yes'/>" in virsh(host, "net-dumpxml", "br-guest")


def test_turning_guard_and_hook_off_removes_them_and_says_so(host, hostname):
    off = run_playbook("--tags", "kvm_network", "-e", json.dumps(
        {"kvm_network_host_guard": False, "kvm_network_require_nwfilter": False}), limit=hostname)
    try:
        assert off.returncode == 0, off.stdout[-3000:] + off.stderr[-2000:]
        assert "N6 host guard: off (kvm_network_host_guard is false)" in " ".join(off.stdout.split())
        assert not guard_loaded(host)
        assert not host.file("/etc/systemd/system/%s" % GUARD_UNIT).exists
        assert not host.file("/etc/libvirt/hooks/qemu.d/kvmcloud-nwfilter").exists
        assert not host.file("/etc/kvmcloud/nwfilter-hook.json").exists
        assert audit(host)["N6"]["status"] == "fail"
    finally:
        on = run_playbook("--tags", "kvm_network", limit=hostname)
    assert on.returncode == 0, on.stdout[-3000:] + on.stderr[-2000:]
    print("\noff: %s; on again: %s" % (recap(off.stdout, hostname), recap(on.stdout, hostname)))
    assert guard_loaded(host)
    assert host.service(GUARD_UNIT).is_enabled
    assert host.file("/etc/libvirt/hooks/qemu.d/kvmcloud-nwfilter").mode == 0o755
    assert audit(host)["N6"]["status"] == "pass"
    # libvirt was restarted to find the hook again: it refuses unfiltered guests once more.
    with guest_with_nic(host, "kvmnet-unfiltered", "br-guest", ""):
        refused = host.run("virsh -c qemu:///system start kvmnet-unfiltered")
        assert refused.rc != 0 and "kvmcloud kvm_network hook" in refused.stderr, refused.stderr


# --- L8 through the guard: the migration ports take connections from the peers alone ---------
# molecule.yml: the trixie host migrates, with peers 203.0.113.10 and 2001:db8:113::/64. The
# stand-in peer sits in a namespace on a veth into the host (no bridge: migration traffic comes
# in on a host interface), with one listed address and one that is not.
MIGRATION_NS = "kn-mig"
MIGRATION_PEERS = ["203.0.113.10", "2001:db8:113::/64"]
PEER, STRANGER, MIGRATION_NS_HOST_SIDE = "203.0.113.10", "203.0.113.20", "203.0.113.1"
# Both ends of the migration range, libvirt's TLS port, and the ports just outside the range.
GUARDED_PORTS = (16514, 49152, 49215)
OPEN_PORTS = (49151, 49216)
# Prints ok, timeout (dropped) or refused (reached, nothing listening) for one connection.
CONNECT_FROM = ("python3 -c 'import socket, sys\n"
                "try:\n"
                "    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2,"
                " source_address=(sys.argv[3], 0)).close(); print(\"ok\")\n"
                "except socket.timeout: print(\"timeout\")\n"
                "except ConnectionRefusedError: print(\"refused\")' %s %d %s")
PORTS_LISTENER = ("import socket, threading\n"
                  "def serve(port):\n"
                  "    s = socket.socket()\n"
                  "    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                  "    s.bind((%r, port))\n"
                  "    s.listen(16)\n"
                  "    while True:\n"
                  "        s.accept()[0].close()\n"
                  "for port in %r:\n"
                  "    threading.Thread(target=serve, args=(port,)).start()\n")


def migration_reach(host, target):
    """{"SOURCE:PORT": ok / timeout / refused} from the peer, the stranger and the host itself."""
    commands = {}
    for port in GUARDED_PORTS + OPEN_PORTS:
        commands["peer:%d" % port] = in_ns(MIGRATION_NS, CONNECT_FROM % (target, port, PEER))
        commands["stranger:%d" % port] = in_ns(MIGRATION_NS, CONNECT_FROM % (target, port, STRANGER))
        commands["host:%d" % port] = CONNECT_FROM % (target, port, target)
    seen = {}
    for key, (rc, out) in run_each(host, commands).items():
        assert rc == 0, (key, out)
        seen[key] = out
    return seen


@pytest.fixture()
def migration_standin(host):
    """The stand-in peer's namespace and listeners in and around the migration range on the
    migration address (kvm_audit's L8 wants nothing in the range off that address). libvirt's
    TLS socket serves 16514. Yields the migration address."""
    address = management_address(host)
    assert 'migration_address = "%s"' % address in host.file("/etc/libvirt/qemu.conf").content_string
    try:
        run(host, "ip netns add %s" % MIGRATION_NS)
        run(host, "ip link add %s type veth peer name eth0 netns %s" % (MIGRATION_NS, MIGRATION_NS))
        run(host, "ip addr add %s/24 dev %s" % (MIGRATION_NS_HOST_SIDE, MIGRATION_NS))
        run(host, "ip link set %s up" % MIGRATION_NS)
        for source in (PEER, STRANGER):
            run(host, "ip -n %s addr add %s/24 dev eth0" % (MIGRATION_NS, source))
        run(host, "ip -n %s link set eth0 up" % MIGRATION_NS)
        run(host, "ip -n %s route add %s/32 via %s" % (MIGRATION_NS, address, MIGRATION_NS_HOST_SIDE))
        listener = PORTS_LISTENER % (address, list(GUARDED_PORTS[1:] + OPEN_PORTS))
        run(host, "printf '%%s' %s > /tmp/kvmnet-migration-listener.py" % _shell_quote(listener))
        run(host, "systemd-run --unit kvmnet-migration-listener --collect python3 /tmp/kvmnet-migration-listener.py")
        run(host, "for i in $(seq 300); do [ $(ss -Hltn | grep -c '%s:4915[12]\\|%s:4921[56]') = 4 ] && exit 0;"
                  " sleep 0.1; done; exit 1" % (address, address))
        yield address
    finally:
        host.run("systemctl stop kvmnet-migration-listener")
        host.run("rm -f /tmp/kvmnet-migration-listener.py")
        remove_standin(host, MIGRATION_NS)


def migration_audit(host):
    args = {"controls": ["L8"], "virt_host_validate": False, "migration_peers": MIGRATION_PEERS}
    result = host.ansible("kvmcloud.hypervisor.kvm_audit", json.dumps(args), check=False, become=True)
    assert "controls" in result, result
    return result["controls"][0]


def test_guard_has_migration_openings_only_where_migration_is_on(host, hostname):
    table = run(host, "nft list table inet kvmcloud_guard")
    lines = [line.strip() for line in table.splitlines()]
    print("\n" + table)
    if hostname != "kvmhost-trixie":
        # Migration off: the table guards the bridges alone; 16514 and the range are untouched.
        assert "chain migration {" not in lines
        assert not [line for line in lines if "16514" in line or "49152" in line]
        return
    assert "tcp dport { 16514, 49152-49215 } jump migration" in lines
    chain = lines[lines.index("chain migration {") + 1:]
    chain = chain[:chain.index("}")]
    # nft prints a set of one element without braces.
    assert chain == ["ct state established,related accept", 'iifname "lo" accept', "ip saddr 203.0.113.10 accept",
                     "ip6 saddr 2001:db8:113::/64 accept", "drop"]


@pytest.mark.only_hosts("kvmhost-trixie")
def test_migration_ports_take_only_the_peers_until_the_guard_goes(host, migration_standin):
    address = migration_standin
    guarded = migration_reach(host, address)
    try:
        run(host, "nft delete table inet kvmcloud_guard")
        unguarded = migration_reach(host, address)
        unguarded_audit = migration_audit(host)
    finally:
        run(host, "systemctl reload %s" % GUARD_UNIT)
    restored = migration_reach(host, address)
    print("\nTCP to %s with the guard: %s\nwithout: %s\nrestored: %s" % (address, guarded, unguarded, restored))
    expected = {}
    for port in GUARDED_PORTS + OPEN_PORTS:
        expected["peer:%d" % port] = expected["host:%d" % port] = "ok"
        expected["stranger:%d" % port] = "timeout" if port in GUARDED_PORTS else "ok"
    assert guarded == expected
    # Without the table the stranger gets in everywhere: the guard is what drops it.
    assert set(unguarded.values()) == {"ok"}
    assert restored == expected
    print("L8 without the guard: %s" % unguarded_audit["evidence"])
    assert unguarded_audit["status"] == "fail"
    assert "no inet input chain limits who may connect to port 16514" in unguarded_audit["evidence"]
    restored_audit = migration_audit(host)
    assert restored_audit["status"] == "pass", restored_audit["evidence"]
    assert ("new TCP connections to port 16514, ports 49152-49215 only from loopback, 203.0.113.10, "
            "2001:db8:113::/64") in restored_audit["evidence"]


DEFAULT_PEERS_PLAYBOOK = """
- name: Each host's default kvm_network_migration_peers
  hosts: kvm_hosts
  gather_facts: false
  tasks:
    - name: Read the facts the trixie host's migration address comes from (molecule.yml)
      kvmcloud.hypervisor.kvm_host_facts:
        gather_virsh_capabilities: false
    - name: Show the default
      ansible.builtin.debug:
        msg: "PEERS {{ inventory_hostname }} {{ kvm_network_migration_peers | join(',') }}"
"""


@pytest.mark.only_hosts("kvmhost-trixie")
@pytest.mark.every_lane_done
def test_default_peers_are_the_other_migrating_hosts_as_each_host_sees_them(host, tmp_path):
    # The role's default expression on both hosts (as extra vars: molecule.yml's host_vars
    # set the trixie host's list), and bookworm migrating too, in this run alone: each host's
    # default names the other's address, the trixie one's templated from its own facts, and
    # never its own.
    with open(os.path.join(PROJECT, "roles", "kvm_network", "defaults", "main.yml")) as handle:
        default = yaml.safe_load(handle)["kvm_network_migration_peers"]
    (tmp_path / "default.yml").write_text(yaml.safe_dump({"kvm_network_migration_peers": default}))
    inventory = {"all": {"hosts": {"kvmhost-bookworm": {
        "kvm_hardening_migration_enabled": True, "kvm_hardening_migration_address": "192.0.2.50"}}}}
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
    (tmp_path / "peers.yml").write_text(DEFAULT_PEERS_PLAYBOOK)
    argv, env = playbook_command("-e", "@%s" % (tmp_path / "default.yml"), limit="kvm_hosts",
                                 inventories=[str(tmp_path / "inventory.yml")], playbook=str(tmp_path / "peers.yml"))
    result = subprocess.run(argv, capture_output=True, text=True, env=env, check=False, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    seen = dict(re.findall(r'"PEERS (\S+) ([^"]*)"', result.stdout))
    print("\ndefault peers: %s" % seen)
    assert seen == {"kvmhost-bookworm": management_address(host), "kvmhost-trixie": "192.0.2.50"}
